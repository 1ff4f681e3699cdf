"""`budai schedules ...`: create, list, show, update, pause, resume, trigger, next-runs, runs, delete."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click

from budai_async.cli._common import emit_json, parse_param, print_table, run_async
from budai_async.cli._root import client_of, wants_json
from budai_async.trigger_models import Schedule

__all__ = ["schedules_group"]

_CATCHUP = click.Choice(["latest", "all", "skip"])
_OVERLAP = click.Choice(["skip", "allow_all"])
_PRIORITY = click.Choice(["high", "normal", "low"])


def _time(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _print(ctx: click.Context, items: Sequence[Schedule] | Schedule) -> None:
    if wants_json(ctx):
        emit_json(items)
        return
    rows = [items] if isinstance(items, Schedule) else list(items)
    print_table(
        "Schedules",
        ["id", "name", "pipeline", "when", "zone", "status", "next run", "runs"],
        [
            (
                s.id,
                s.name,
                s.pipeline_id,
                s.cron or _time(s.schedule.run_at),
                s.timezone,
                s.status,
                _time(s.next_run_at),
                s.run_count,
            )
            for s in rows
        ],
    )


def _params(values: Sequence[str]) -> dict[str, Any] | None:
    return dict(parse_param(value) for value in values) if values else None


@click.group("schedules")
def schedules_group() -> None:
    """Run pipelines on a cron, an @every interval, or once."""


@schedules_group.command("create")
@click.argument("pipeline_id")
@click.option("--name", required=True)
@click.option("--cron", help="Cron expression ('0 9 * * 1-5', '@daily') or '@every 1h30m'.")
@click.option("--at", "run_at", help="ISO time for a one-time schedule.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option("--param", "-p", "params", multiple=True, help="key=value (JSON values allowed); repeatable.")
@click.option("--priority", type=_PRIORITY)
@click.option("--tag", "tags", multiple=True)
@click.option("--catchup", type=_CATCHUP, help="What runs missed while down do (default latest).")
@click.option("--overlap", type=_OVERLAP, help="Fire while the previous run is unfinished? (default skip)")
@click.option("--paused", is_flag=True, help="Create it paused.")
@click.pass_context
def create(
    ctx: click.Context,
    pipeline_id: str,
    name: str,
    cron: str | None,
    run_at: str | None,
    timezone: str,
    params: tuple[str, ...],
    priority: str | None,
    tags: tuple[str, ...],
    catchup: str | None,
    overlap: str | None,
    paused: bool,
) -> None:
    """Schedule PIPELINE_ID."""
    if (cron is None) == (run_at is None):
        raise click.UsageError("give exactly one of --cron or --at")

    async def go() -> Schedule:
        async with client_of(ctx) as client:
            return await client.schedules.create(
                pipeline_id,
                name=name,
                cron=cron,
                schedule_type="one_time" if run_at else None,
                run_at=run_at,
                timezone=timezone,
                params=_params(params),
                priority=priority,
                tags=list(tags) or None,
                catchup=catchup,
                overlap=overlap,
                enabled=not paused,
            )

    _print(ctx, run_async(go))


@schedules_group.command("list")
@click.option("--pipeline", "pipeline_id")
@click.option("--status", type=click.Choice(["active", "paused", "disabled"]))
@click.pass_context
def list_(ctx: click.Context, pipeline_id: str | None, status: str | None) -> None:
    """List schedules."""

    async def go() -> list[Schedule]:
        async with client_of(ctx) as client:
            return [s async for s in client.schedules.list(pipeline_id=pipeline_id, status=status)]

    _print(ctx, run_async(go))


@schedules_group.command("get")
@click.argument("schedule_id")
@click.pass_context
def get(ctx: click.Context, schedule_id: str) -> None:
    """Show one schedule."""

    async def go() -> Schedule:
        async with client_of(ctx) as client:
            return await client.schedules.get(schedule_id)

    _print(ctx, run_async(go))


@schedules_group.command("update")
@click.argument("schedule_id")
@click.option("--name")
@click.option("--cron")
@click.option("--timezone")
@click.option("--param", "-p", "params", multiple=True)
@click.option("--catchup", type=_CATCHUP)
@click.option("--overlap", type=_OVERLAP)
@click.pass_context
def update(
    ctx: click.Context,
    schedule_id: str,
    name: str | None,
    cron: str | None,
    timezone: str | None,
    params: tuple[str, ...],
    catchup: str | None,
    overlap: str | None,
) -> None:
    """Change a schedule (a new timing counts from now)."""

    async def go() -> Schedule:
        async with client_of(ctx) as client:
            return await client.schedules.update(
                schedule_id,
                name=name,
                cron=cron,
                timezone=timezone,
                params=_params(params),
                catchup=catchup,
                overlap=overlap,
            )

    _print(ctx, run_async(go))


def _simple(name: str, doc: str) -> None:
    @schedules_group.command(name)
    @click.argument("schedule_id")
    @click.pass_context
    def command(ctx: click.Context, schedule_id: str) -> None:
        async def go() -> Schedule:
            async with client_of(ctx) as client:
                return await getattr(client.schedules, name)(schedule_id)  # type: ignore[no-any-return]

        _print(ctx, run_async(go))

    command.__doc__ = doc


_simple("pause", "Stop firing until resumed.")
_simple("resume", "Fire again from now on (times missed while paused do not run).")


@schedules_group.command("trigger")
@click.argument("schedule_id")
@click.pass_context
def trigger(ctx: click.Context, schedule_id: str) -> None:
    """Run the schedule's pipeline now; prints the execution id."""

    async def go() -> Any:
        async with client_of(ctx) as client:
            return await client.schedules.trigger(schedule_id)

    execution = run_async(go)
    if wants_json(ctx):
        emit_json(execution)
    else:
        click.echo(execution.id)


@schedules_group.command("next-runs")
@click.argument("schedule_id")
@click.option("--count", "-n", type=click.IntRange(1, 100), default=5, show_default=True)
@click.pass_context
def next_runs(ctx: click.Context, schedule_id: str, count: int) -> None:
    """The next fire times (UTC)."""

    async def go() -> list[Any]:
        async with client_of(ctx) as client:
            return await client.schedules.next_runs(schedule_id, count)

    times = run_async(go)
    if wants_json(ctx):
        emit_json([t.isoformat() for t in times])
    else:
        for when in times:
            click.echo(when.isoformat())


@schedules_group.command("runs")
@click.argument("schedule_id")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@click.pass_context
def runs(ctx: click.Context, schedule_id: str, limit: int) -> None:
    """Recorded runs: fired, skipped (and why) or failed."""

    async def go() -> list[Any]:
        async with client_of(ctx) as client:
            return await client.schedules.runs(schedule_id, limit=limit)

    found = run_async(go)
    if wants_json(ctx):
        emit_json(found)
        return
    print_table(
        "Runs",
        ["run at", "kind", "status", "reason", "execution"],
        [(_time(r.run_at), r.kind, r.status, r.reason, r.execution_id) for r in found],
    )


@schedules_group.command("delete")
@click.argument("schedule_id")
@click.pass_context
def delete(ctx: click.Context, schedule_id: str) -> None:
    """Delete a schedule."""

    async def go() -> None:
        async with client_of(ctx) as client:
            await client.schedules.delete(schedule_id)

    run_async(go)
    click.echo(f"deleted {schedule_id}")
