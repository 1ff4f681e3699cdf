"""`budai batch PIPELINE_ID --params-file params.jsonl`: create (and optionally await) many executions.

The file holds one JSON object of params per line (blank lines skipped, ``-`` reads stdin); it is
streamed into `create_many`, never loaded whole. A rich progress bar on stderr shows submitted,
running, completed and failed; a summary table (or, with `--output json`, one JSON document) is
printed at the end. Exit code 0 when every item was created (and, with `--wait`, completed), 1 when
any item failed; the usual codes for usage (2), connection (3) and not-found (4) errors.
"""

from __future__ import annotations

import json
import shlex
import sys
import uuid
from collections.abc import Iterator
from typing import IO, Any

import click
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from budai_async._client import AsyncBudClient
from budai_async.batch._fanout import BatchItem, BatchProgress, BatchResult, create_many
from budai_async.cli._common import EXIT_FAILED, EXIT_OK, console, error_console, print_table, run_async
from budai_async.cli._live import set_resume_hint

__all__ = ["batch_command", "read_param_lines"]

MAX_FAILURE_ROWS = 20


class _BadLine:
    """A line that is not a JSON object; `create_many` refuses it alone, the summary says why."""

    def __init__(self, line: int, reason: str) -> None:
        self.line = line
        self.reason = reason

    def __repr__(self) -> str:
        return f"line {self.line}: {self.reason}"


def read_param_lines(stream: IO[str], bad_lines: dict[int, str]) -> Iterator[Any]:
    """Yield one param set per non-blank line; a bad line yields a marker and is noted by item index."""
    index = 0
    for number, raw in enumerate(stream, start=1):
        text = raw.strip()
        if not text:
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            value = _BadLine(number, f"not JSON ({error.msg} at column {error.colno})")
        else:
            if not isinstance(value, dict):
                value = _BadLine(number, f"expected a JSON object, got {type(value).__name__}")
        if isinstance(value, _BadLine):
            bad_lines[index] = repr(value)
        yield value
        index += 1


def _count_lines(path: str) -> int | None:
    """Items in a file (non-blank lines), read once in a stream; None for stdin."""
    if path == "-":
        return None
    with open(path, encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


class _Bar:
    """The progress bar: it fills with submitted items, or with ended items when waiting."""

    def __init__(self, enabled: bool, wait: bool, total: int | None) -> None:
        self.wait = wait
        self.progress = Progress(
            TextColumn("[bold]batch"),
            BarColumn(),
            TextColumn(
                "submitted {task.fields[submitted]}  running [cyan]{task.fields[running]}[/]  "
                "completed [green]{task.fields[ok]}[/]  failed [red]{task.fields[failed]}[/]"
            ),
            TimeElapsedColumn(),
            console=error_console,
            transient=True,
            disable=not enabled,
        )
        self.task: TaskID = self.progress.add_task(
            "batch", total=total, submitted=0, running=0, ok=0, failed=0
        )

    def update(self, snapshot: BatchProgress) -> None:
        failed = snapshot.rejected + snapshot.failed
        self.progress.update(
            self.task,
            total=snapshot.total,
            completed=snapshot.done if self.wait else snapshot.submitted,
            submitted=snapshot.submitted,
            running=snapshot.running,
            ok=snapshot.completed,
            failed=failed,
        )


def _item_json(item: BatchItem) -> dict[str, Any]:
    execution = item.execution
    error = item.error
    return {
        "index": item.index,
        "idempotency_key": item.idempotency_key,
        "execution_id": execution.id if execution else None,
        "status": str(execution.status) if execution else None,
        "error": None
        if error is None
        else {"code": error.code, "message": error.message, "field": error.field},
    }


def _reason(item: BatchItem, bad_lines: dict[int, str]) -> str:
    if item.index in bad_lines:
        return bad_lines[item.index]
    if item.error is not None:
        return str(item.error)
    execution = item.execution
    assert execution is not None
    return f"execution {execution.id} ended {execution.status}" + (
        f": {execution.error}" if execution.error else ""
    )


def _print_summary(result: BatchResult, bad_lines: dict[int, str], wait: bool) -> None:
    counts = result.counts
    columns = ["items", "created", "rejected"] + (["completed", "failed", "still running"] if wait else [])
    row: list[Any] = [counts.total, counts.created, counts.errors]
    if wait:
        row += [counts.completed, counts.failed, counts.pending]
    print_table(f"Batch {result.batch_key}", columns, [row])
    failures = result.failures
    if failures:
        rows = [(item.index, escape(_reason(item, bad_lines))) for item in failures[:MAX_FAILURE_ROWS]]
        print_table("Failed items", ["item", "reason"], rows)
        if len(failures) > MAX_FAILURE_ROWS:
            console.print(f"... and {len(failures) - MAX_FAILURE_ROWS} more (use --output json for all)")


@click.command("batch")
@click.argument("pipeline_id")
@click.option(
    "--params-file",
    required=True,
    type=click.Path(dir_okay=False, allow_dash=True),
    help="JSON Lines: one params object per line ('-' reads stdin).",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 256), default=64, show_default=True, help="Requests in flight."
)
@click.option(
    "--chunk-size", type=click.IntRange(1, 1000), default=500, show_default=True, help="Items per request."
)
@click.option(
    "--rate-limit", type=click.FloatRange(min=0, min_open=True), help="At most this many executions/s."
)
@click.option("--tag", "tags", multiple=True, help="Tag for every execution (repeatable).")
@click.option("--priority", type=click.Choice(["high", "normal", "low"]), default=None)
@click.option("--batch-key", help="Reuse to resume an interrupted batch without duplicates.")
@click.option("--wait", is_flag=True, help="Wait for every execution to end; failed runs fail the batch.")
@click.option(
    "--wait-timeout", type=click.FloatRange(min=0, min_open=True), help="With --wait: seconds at most."
)
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default=None,
    help="Defaults to the global --output.",
)
@click.pass_context
def batch_command(
    ctx: click.Context,
    pipeline_id: str,
    params_file: str,
    concurrency: int,
    chunk_size: int,
    rate_limit: float | None,
    tags: tuple[str, ...],
    priority: str | None,
    batch_key: str | None,
    wait: bool,
    wait_timeout: float | None,
    output: str | None,
) -> None:
    """Create one execution of PIPELINE_ID per line of --params-file, with a progress bar."""
    root = ctx.find_root().params
    as_json = (output or root.get("output") or "table") == "json"
    if wait_timeout is not None and not wait:
        raise click.UsageError("--wait-timeout needs --wait")
    try:
        total = _count_lines(params_file)
    except OSError as error:
        raise click.BadParameter(str(error), param_hint="--params-file") from error
    bad_lines: dict[int, str] = {}
    key = batch_key or f"batch_{uuid.uuid4().hex}"  # known now, so Ctrl-C can name it
    again = [*sys.argv[1:], *([] if batch_key else ["--batch-key", key])]
    set_resume_hint(
        lambda: (
            f"batch {key} stopped; executions already created keep running.\n"
            f"  resume without duplicates: budai {shlex.join(again)}"
        )
    )

    async def go() -> BatchResult:
        bar = _Bar(enabled=not as_json, wait=wait, total=total)
        with click.open_file(params_file, encoding="utf-8") as stream, bar.progress:
            async with AsyncBudClient(base_url=root.get("base_url"), api_key=root.get("api_key")) as client:
                return await create_many(
                    client,
                    pipeline_id,
                    read_param_lines(stream, bad_lines),
                    concurrency=concurrency,
                    chunk_size=chunk_size,
                    rate_limit=rate_limit,
                    tags=list(tags) or None,
                    priority=priority,
                    batch_key=key,
                    wait=wait,
                    wait_timeout=wait_timeout,
                    on_progress=bar.update,
                )

    result = run_async(go)
    if as_json:
        items = [_item_json(item) for item in result]
        for entry in items:
            if entry["index"] in bad_lines:
                entry["error"]["message"] = bad_lines[entry["index"]]
        document = {
            "batch_key": result.batch_key,
            "counts": {
                "total": result.counts.total,
                "created": result.counts.created,
                "rejected": result.counts.errors,
                "completed": result.counts.completed,
                "failed": result.counts.failed,
                "pending": result.counts.pending,
            },
            "items": items,
        }
        click.echo(json.dumps(document, indent=2))
    else:
        _print_summary(result, bad_lines, wait)
    ctx.exit(EXIT_OK if result.ok else EXIT_FAILED)
