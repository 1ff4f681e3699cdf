"""Shared plumbing of the `budai` CLI: the client from options, output formats, errors to exit codes.

Exit codes (documented in docs/cli.md): 0 success or execution completed; 1 execution failed or an
API error; 2 usage error, or execution cancelled / timed out; 3 cannot reach the server; 4 not found;
130 interrupted (Ctrl-C), after saying how to resume.

Everything a server sends is printed as plain text, never as rich markup: a pipeline named
``[bold red]x[/]`` shows as those characters.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from budai_async._client import AsyncBudClient
from budai_async._convert import to_json_dict
from budai_async.cli._live import clear_resume_hint, resume_hint
from budai_async.errors import APIConnectionError, APIStatusError, BudError, NotFoundError
from budai_async.models import ExecutionStatus

T = TypeVar("T")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_CONNECTION = 3
EXIT_NOT_FOUND = 4
EXIT_INTERRUPTED = 130

console = Console()
error_console = Console(stderr=True)


class CliState:
    """Options given before the subcommand, turned into a client on demand."""

    def __init__(self, base_url: str | None, api_key: str | None, output: str) -> None:
        self.base_url = base_url
        self.api_key = api_key
        self.output = output

    def client(self) -> AsyncBudClient:
        return AsyncBudClient(base_url=self.base_url, api_key=self.api_key)

    @property
    def json(self) -> bool:
        return self.output == "json"


pass_state = click.make_pass_decorator(CliState)


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
        message = Text.assemble(("error:", "red"), " ", describe_error(error))
        error_console.print(message, highlight=False, soft_wrap=True)
        sys.exit(exit_code_for_error(error))
    except KeyboardInterrupt:
        hint = resume_hint()
        text = Text(f"\ninterrupted. {hint}" if hint else "\ninterrupted.")
        error_console.print(text, highlight=False, soft_wrap=True)  # commands stay on one line
        sys.exit(EXIT_INTERRUPTED)
    finally:
        clear_resume_hint()


async def _call(make: Callable[[], Awaitable[T]]) -> T:
    return await make()


def emit_json(data: Any) -> None:
    """Print models or plain data as JSON on stdout (for `--output json`)."""
    click.echo(json.dumps(to_json_dict(data), indent=2, default=str))


# Columns holding identifiers: never shortened (other columns fold instead), so they can be copied.
ID_COLUMNS = frozenset({"id", "pipeline", "execution", "step", "batch key"})
_FOLD_WIDTH = 6


def _cell(value: Any) -> Text:
    """A table cell as plain text (server strings are never markup); None is a dim dash."""
    if value is None:
        return Text("-", style="dim")
    if isinstance(value, Text):
        return value
    if isinstance(value, datetime):
        return Text(f"{value:%Y-%m-%d %H:%M:%S}")
    return Text(str(value))


def print_table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a rich table; None cells show as a dim dash; id columns are never cut.

    Other columns fold onto more lines; when even that cannot fit the ids in the terminal, each
    row is printed as ``column: value`` lines instead.
    """
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(column)] + [row[i].cell_len for row in cells]) for i, column in enumerate(columns)]
    needed = sum(w if c in ID_COLUMNS else min(w, _FOLD_WIDTH) for c, w in zip(columns, widths, strict=True))
    if needed + 3 * len(columns) + 1 > console.width:
        _print_records(title, columns, cells)
        return
    table = Table(title=Text(title) if title else None, show_lines=False)
    for column, width in zip(columns, widths, strict=True):
        if column in ID_COLUMNS:
            table.add_column(column, no_wrap=True, min_width=width)
        else:
            table.add_column(column, overflow="fold")
    for row in cells:
        table.add_row(*row)
    console.print(table)


def _print_records(title: str | None, columns: Sequence[str], cells: list[list[Text]]) -> None:
    """The narrow-terminal form of a table: one ``column: value`` line per cell, rows apart."""
    if title:
        console.print(Text(title, style="bold"))
    label = max(len(column) for column in columns)
    for index, row in enumerate(cells):
        if index:
            console.print()
        for column, cell in zip(columns, row, strict=True):
            console.print(Text.assemble((f"{column:>{label}}: ", "dim"), cell), soft_wrap=True)


STATUS_STYLE = {
    "completed": "green",
    "failed": "red",
    "timeout": "red",
    "cancelled": "yellow",
    "running": "cyan",
    "pending": "white",
}


def styled_status(status: str) -> Text:
    """Colour an execution status for tables (an unknown status is shown as plain text)."""
    return Text(str(status), style=STATUS_STYLE.get(str(status), "white"))


def parse_param(text: str) -> tuple[str, Any]:
    """Parse `key=value`; the value is JSON when it parses as JSON, else the literal string."""
    key, sep, raw = text.partition("=")
    if not sep or not key:
        raise click.BadParameter(f"expected key=value, got {text!r}", param_hint="--param")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw
