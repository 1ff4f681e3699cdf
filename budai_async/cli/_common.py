"""Shared plumbing of the `budai` CLI: the client from options, output formats, errors to exit codes.

Exit codes (documented in docs/cli.md): 0 success or execution completed; 1 execution failed or an
API error; 2 usage error, or execution cancelled / timed out; 3 cannot reach the server; 4 not found.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from budai_async._convert import to_json_dict
from budai_async.errors import APIConnectionError, APIStatusError, BudError, NotFoundError
from budai_async.models import ExecutionStatus

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_NOT_FOUND = 4

console = Console()
error_console = Console(stderr=True)


def exit_code_for_status(status: str) -> int:
    """Map an execution's final status to the process exit code."""
    if status == ExecutionStatus.COMPLETED:
        return EXIT_OK
    if status == ExecutionStatus.FAILED:
        return EXIT_FAILED
    return EXIT_USAGE


def exit_code_for_error(error: BudError) -> int:
    """Map an SDK error to the process exit code."""
    if isinstance(error, NotFoundError):
        return EXIT_NOT_FOUND
    if isinstance(error, APIConnectionError):
        return EXIT_CONNECTION
    return EXIT_FAILED


def describe_error(error: BudError) -> str:
    """One line for a human: the server's message (for 422 it names each field and why) and the status."""
    if isinstance(error, APIStatusError):
        return f"{error} (HTTP {error.status_code})"
    return str(error)


def run_async(make: Callable[[], Awaitable[T]]) -> T:
    """Run one CLI coroutine; SDK errors become a one-line message and an exit code, never a traceback."""
    try:
        return asyncio.run(_call(make))
    except BudError as error:
        error_console.print(f"[red]error:[/red] {describe_error(error)}", highlight=False)
        sys.exit(exit_code_for_error(error))
    except KeyboardInterrupt:
        sys.exit(130)


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def emit_json(data: Any) -> None:
    """Print models or plain data as JSON on stdout (for `--output json`)."""
    click.echo(json.dumps(to_json_dict(data), indent=2, default=str))


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a rich table; None cells show as a dim dash."""
    table = Table(title=title, show_lines=False)
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*("[dim]-[/dim]" if cell is None else str(cell) for cell in row))
    console.print(table)


STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "timeout": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "white",
}


def styled_status(status: str) -> str:
    """Colour an execution status for tables."""
    style = STATUS_STYLE.get(str(status), "white")
    return f"[{style}]{status}[/{style}]"


def parse_param(text: str) -> tuple[str, Any]:
    """Parse `key=value`; the value is JSON when it parses as JSON, else the literal string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected key=value, got {text!r}", param_hint="--param")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw
