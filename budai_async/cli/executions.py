"""`budai run` and `budai executions list|get|wait|cancel|retry`.

`run --wait` and `executions wait` redraw one status line on a terminal (status, progress, current
step, elapsed); Ctrl-C then prints the execution id and the command that resumes waiting (exit 130).
"""

from __future__ import annotations

import json
from typing import cast, get_args

import click

from budai_async._client import AsyncBudClient
from budai_async.cli._common import (
    CliState,
    console,
    emit_json,
    error_console,
    exit_code_for_status,
    parse_param,
    pass_state,
    print_table,
    run_async,
    styled_status,
)
from budai_async.cli._live import human_duration, live_wait, reconnect_notices, set_resume_hint
from budai_async.cli.cleanup import delete_command, prune_command
from budai_async.cli.logs import format_entry
from budai_async.models import Execution, ExecutionStatus, Priority
from budai_async.pagination import PageList
from budai_async.types import ExecutionStatusName, PriorityName, SortField, SortOrder

__all__ = ["executions_group", "run_command"]


def _print_executions(state: CliState, items: list[Execution] | Execution, title: str = "Executions") -> None:
    """A table of executions; with --output json, one object for one execution, else a list."""
    if state.json:
        emit_json(items)
        return
    items = [items] if isinstance(items, Execution) else items
    rows = [
        (
            e.id,
            e.pipeline_id,
            styled_status(e.status),
            f"{e.progress:.0f}%",
            human_duration(e.duration_seconds),
            e.created_at,
        )
        for e in items
    ]
    print_table(title, ["id", "pipeline", "status", "progress", "duration", "created"], rows)


def _print_execution_detail(state: CliState, execution: Execution) -> None:
    if state.json:
        emit_json(execution)
        return
    _print_executions(state, execution, title="Execution")
    rows = [
        (
            step_id,
            styled_status(step.status),
            step.attempts,
            human_duration(step.duration_seconds),
            step.skip_reason or step.error,
        )
        for step_id, step in execution.steps.items()
    ]
    if rows:
        print_table("Steps", ["step", "status", "attempts", "duration", "note"], rows)
    if execution.outputs:
        click.echo(f"outputs: {json.dumps(execution.outputs)}")
    if execution.error:
        click.echo(f"error: {execution.error}")


def _hint_for(execution_id: str) -> str:
    return (
        f"execution {execution_id} keeps running on the server.\n"
        f"  wait for it again: budai executions wait {execution_id}\n"
        f"  follow its logs:   budai logs -f {execution_id}\n"
        f"  cancel it:         budai executions cancel {execution_id}"
    )


async def _wait(
    state: CliState,
    client: AsyncBudClient,
    execution: Execution,
    timeout: float | None,  # noqa: ASYNC109 - the CLI's --timeout
) -> Execution:
    """Wait for the end: a live status line on a terminal (table output), else quietly."""
    if console.is_terminal and not state.json:
        return await live_wait(client, execution, timeout=timeout, console=console)
    return await client.executions.wait(execution.id, timeout=timeout)


@click.command("run")
@click.argument("pipeline_id")
@click.option(
    "--param", "-p", "params", multiple=True, help="key=value (value parsed as JSON when it can be)."
)
@click.option("--priority", type=click.Choice(get_args(PriorityName)))
@click.option("--tag", "tags", multiple=True)
@click.option("--on-complete", metavar="URL", help="Callback URL POSTed when the execution completes.")
@click.option(
    "--on-failure", metavar="URL", help="Callback URL POSTed when it fails, is cancelled or times out."
)
@click.option("--wait", is_flag=True, help="Wait for the execution to end; exit code from its status.")
@click.option("--follow", "-f", is_flag=True, help="Stream the execution's logs until it ends.")
@click.option("--timeout", type=float, default=None, help="With --wait: seconds to wait at most.")
@pass_state
def run_command(
    state: CliState,
    pipeline_id: str,
    params: tuple[str, ...],
    priority: str | None,
    tags: tuple[str, ...],
    on_complete: str | None,
    on_failure: str | None,
    wait: bool,
    follow: bool,
    timeout: float | None,
) -> None:
    """Execute PIPELINE_ID with parameters."""
    values = dict(parse_param(p) for p in params)
    callbacks = {k: v for k, v in (("on_complete", on_complete), ("on_failure", on_failure)) if v}

    async def go() -> Execution:
        async with state.client() as client:
            execution = await client.executions.create(
                pipeline_id,
                params=values,
                priority=Priority(priority) if priority else None,
                tags=list(tags) or None,
                callbacks=callbacks or None,
            )
            set_resume_hint(lambda: _hint_for(execution.id))
            if follow:
                with reconnect_notices(error_console):
                    async with client.executions.logs(execution.id, follow=True) as lines:
                        async for line in lines:
                            console.print(format_entry(line), highlight=False, soft_wrap=True)
            if wait or follow:
                execution = await _wait(state, client, execution, timeout)
            return execution

    execution = run_async(go)
    _print_execution_detail(state, execution)
    if wait or follow:
        raise SystemExit(exit_code_for_status(execution.status))


@click.group("executions")
def executions_group() -> None:
    """List, show, wait for, cancel, retry and delete executions."""


def _page_note(page: PageList[Execution], offset: int, limit: int) -> str | None:
    """``showing 1-50 of 213; more: --offset 50`` (None for an empty page)."""
    if not page:
        return None
    last = offset + len(page)
    total = f" of {page.total}" if page.total is not None else ""
    note = f"showing {offset + 1}-{last}{total}"
    if page.has_more:
        note += f"; more: --offset {last} (--limit {limit})"
    return note


@executions_group.command("list")
@click.option("--pipeline-id")
@click.option("--status", type=click.Choice(get_args(ExecutionStatusName)))
@click.option("--tag", "tags", multiple=True)
@click.option("--created-after")
@click.option("--created-before")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--sort-by", type=click.Choice(get_args(SortField)), default="created_at", show_default=True)
@click.option("--sort-order", type=click.Choice(get_args(SortOrder)), default="desc", show_default=True)
@pass_state
def executions_list(
    state: CliState,
    pipeline_id: str | None,
    status: str | None,
    tags: tuple[str, ...],
    created_after: str | None,
    created_before: str | None,
    limit: int,
    offset: int,
    sort_by: str,
    sort_order: str,
) -> None:
    """List executions with filters; says how many there are and how to see more."""

    async def go() -> PageList[Execution]:
        async with state.client() as client:
            return await client.executions.list(
                pipeline_id=pipeline_id,
                status=ExecutionStatus(status) if status else None,
                tags=list(tags) or None,
                created_after=created_after,
                created_before=created_before,
                limit=limit,
                offset=offset,
                sort_by=cast(SortField, sort_by),
                sort_order=cast(SortOrder, sort_order),
            )

    page = run_async(go)
    _print_executions(state, list(page))
    note = _page_note(page, offset, limit)
    if note and not state.json:
        click.echo(note)


@executions_group.command("get")
@click.argument("execution_id")
@pass_state
def executions_get(state: CliState, execution_id: str) -> None:
    """Show one execution with its steps, outputs and metrics."""

    async def go() -> Execution:
        async with state.client() as client:
            return await client.executions.get(execution_id)

    _print_execution_detail(state, run_async(go))


@executions_group.command("wait")
@click.argument("execution_id")
@click.option("--timeout", type=float, default=None, help="Seconds to wait at most.")
@pass_state
def executions_wait(state: CliState, execution_id: str, timeout: float | None) -> None:
    """Wait for EXECUTION_ID to end (live status on a terminal); exit code from its status."""

    async def go() -> Execution:
        set_resume_hint(lambda: _hint_for(execution_id))
        async with state.client() as client:
            return await _wait(state, client, await client.executions.get(execution_id), timeout)

    execution = run_async(go)
    _print_execution_detail(state, execution)
    raise SystemExit(exit_code_for_status(execution.status))


@executions_group.command("cancel")
@click.argument("execution_id")
@pass_state
def executions_cancel(state: CliState, execution_id: str) -> None:
    """Cancel a pending or running execution (exit 1 if it had already ended)."""

    async def go() -> Execution:
        async with state.client() as client:
            return await client.executions.cancel(execution_id)

    _print_executions(state, run_async(go))


@executions_group.command("retry")
@click.argument("execution_id")
@click.option(
    "--param",
    "-p",
    "params",
    multiple=True,
    help="key=value merged over the old params; key=null removes the key.",
)
@pass_state
def executions_retry(state: CliState, execution_id: str, params: tuple[str, ...]) -> None:
    """Start a new execution from EXECUTION_ID, with the same or new params."""
    values = dict(parse_param(p) for p in params) if params else None

    async def go() -> Execution:
        async with state.client() as client:
            return await client.executions.retry(execution_id, params=values)

    _print_executions(state, run_async(go))


executions_group.add_command(delete_command, name="delete")
executions_group.add_command(prune_command, name="prune")
