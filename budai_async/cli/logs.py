"""`budai logs EXECUTION_ID [-f] [--level] [--step] [--since] [--output json]`: print or follow logs.

Text output colours the level (rich); `--output json` prints one JSON object per line (JSON Lines),
so `budai logs -f ID -o json | jq` works while the execution runs. With `--follow` the command
exits when the execution ends, with its status as the exit code: 0 completed, 1 failed,
2 cancelled or timeout (the codes of `budai run --wait`; see docs/logs.md and docs/cli.md).
"""

from __future__ import annotations

import json

import click
from rich.text import Text

from budai_async._client import AsyncBudClient
from budai_async._convert import to_json_dict
from budai_async.cli._common import EXIT_OK, console, error_console, exit_code_for_status, run_async
from budai_async.cli._live import reconnect_notices, set_resume_hint
from budai_async.errors import ValidationError
from budai_async.logs._reader import build_query
from budai_async.logs._reader import execution_logs as read_logs
from budai_async.logs.cursor import LEVELS
from budai_async.models import ExecutionStatus, LogEntry

__all__ = ["format_entry", "logs_command"]

LEVEL_STYLE = {"debug": "dim", "info": "cyan", "warning": "yellow", "error": "bold red"}


def format_entry(entry: LogEntry) -> Text:
    """One line for a terminal: time, coloured level, step, message (the message is never markup)."""
    level = str(entry.level)
    text = Text()
    text.append(f"{entry.timestamp:%H:%M:%S.%f}"[:-3], style="dim")
    text.append(" ")
    text.append(f"{level.upper():<7}", style=LEVEL_STYLE.get(level, ""))
    text.append(f" {entry.step_id or '-':<16} ", style="magenta" if entry.step_id else "dim")
    text.append(entry.message)
    return text


def _resume(execution_id: str, last_seq: int) -> str:
    return (
        f"stopped following execution {execution_id} after line {last_seq}; it keeps running.\n"
        f"  resume: budai logs -f {execution_id} --after-seq {last_seq}"
    )


def _print(entry: LogEntry, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(to_json_dict(entry), separators=(",", ":")))
    else:
        console.print(format_entry(entry), highlight=False, soft_wrap=True)


@click.command("logs")
@click.argument("execution_id")
@click.option("--follow", "-f", is_flag=True, help="Stream new lines until the execution ends.")
@click.option("--level", type=click.Choice(LEVELS, case_sensitive=False), help="Minimum level to show.")
@click.option("--step", "step_id", help="Only lines of this step.")
@click.option("--since", help="Only lines from the last 30s / 5m / 2h / 1d, or since an ISO time.")
@click.option(
    "--after-seq", type=click.IntRange(min=0), default=0, help="Only lines after this seq (to resume)."
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "text", "json"]),
    default=None,
    help="text (default) or json (one object per line); defaults to the global --output.",
)
@click.pass_context
def logs_command(
    ctx: click.Context,
    execution_id: str,
    follow: bool,
    level: str | None,
    step_id: str | None,
    since: str | None,
    after_seq: int,
    output: str | None,
) -> None:
    """Print an execution's logs; with -f follow them live and exit with the execution's status."""
    root = ctx.find_root().params
    as_json = (output or root.get("output") or "text") == "json"
    try:
        build_query(since=since)  # a bad --since is a usage error (exit 2), not an API error
    except ValidationError as error:
        raise click.BadParameter(str(error), param_hint="--since") from error

    async def go() -> ExecutionStatus | None:
        async with AsyncBudClient(base_url=root.get("base_url"), api_key=root.get("api_key")) as client:
            if not follow:
                lines = await read_logs(
                    client, execution_id, level=level, step_id=step_id, since=since, after_seq=after_seq
                )
                for entry in lines:
                    _print(entry, as_json)
                return None
            stream = read_logs(
                client,
                execution_id,
                level=level,
                step_id=step_id,
                since=since,
                follow=True,
                after_seq=after_seq,
            )
            set_resume_hint(lambda: _resume(execution_id, stream.last_seq))
            with reconnect_notices(error_console):
                async with stream:
                    async for entry in stream:
                        _print(entry, as_json)
            return stream.status

    status = run_async(go)
    ctx.exit(EXIT_OK if status is None else exit_code_for_status(status))
