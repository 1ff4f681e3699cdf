"""`budai executions delete ID...` and `budai executions prune`: remove ended executions.

Both are thin shells over `client.executions.delete` / `delete_many`; the server removes each
execution's logs and callback deliveries with it and never touches pending or running executions.
`prune` counts first (`dry_run`) and asks before deleting unless `--yes` is given.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Protocol

import click

from budai_async._client import AsyncBudClient
from budai_async.cli._common import emit_json, run_async

__all__ = ["delete_command", "parse_age", "prune_command"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
ENDED = ("completed", "failed", "cancelled", "timeout")


class _State(Protocol):
    """What the commands need of the CLI's state object (`budai_async.cli.main.CliState`)."""

    def client(self) -> AsyncBudClient: ...

    @property
    def json(self) -> bool: ...


def parse_age(text: str) -> timedelta:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w`` as a timedelta; raises click.BadParameter."""
    match = _AGE.match(text.lower())
    if match is None:
        raise click.BadParameter(f"expected a number and a unit s/m/h/d/w (e.g. 30d), got {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


@click.command("delete")
@click.argument("execution_ids", nargs=-1, required=True)
@click.pass_obj
def delete_command(state: _State, execution_ids: tuple[str, ...]) -> None:
    """Delete ended executions by id, with their logs and callbacks (exit 1 if one is still running)."""

    async def go() -> None:
        async with state.client() as client:
            for execution_id in execution_ids:
                await client.executions.delete(execution_id)
                if not state.json:
                    click.echo(f"deleted {execution_id}")

    run_async(go)
    if state.json:
        emit_json({"deleted": list(execution_ids)})


@click.command("prune")
@click.option(
    "--older-than", "older_than", help="Only executions created longer ago than this (e.g. 30d, 12h)."
)
@click.option("--created-before", help="Only executions created before this date or ISO time.")
@click.option("--status", "statuses", multiple=True, type=click.Choice(ENDED), help="Only these statuses.")
@click.option("--pipeline-id", help="Only this pipeline's executions.")
@click.option("--tag", "tags", multiple=True, help="Only executions carrying all these tags.")
@click.option("--dry-run", is_flag=True, help="Only count what would be deleted.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask before deleting.")
@click.pass_obj
def prune_command(
    state: _State,
    older_than: str | None,
    created_before: str | None,
    statuses: tuple[str, ...],
    pipeline_id: str | None,
    tags: tuple[str, ...],
    dry_run: bool,
    yes: bool,
) -> None:
    """Delete ended executions matching every filter given (the guide: "Delete old executions").

    Pending and running executions are never deleted. At least one filter is required.
    """
    if older_than is not None and created_before is not None:
        raise click.UsageError("give --older-than or --created-before, not both")
    before: str | None = created_before
    if older_than is not None:
        before = (datetime.now(UTC) - parse_age(older_than)).isoformat()
    status = list(statuses) or None
    tag_list = list(tags) or None
    if pipeline_id is None and status is None and before is None and tag_list is None:
        raise click.UsageError(
            "give at least one of --older-than, --created-before, --status, --pipeline-id, --tag"
        )

    def delete_many(*, count_only: bool) -> int:
        async def go() -> int:
            async with state.client() as client:
                return await client.executions.delete_many(
                    pipeline_id=pipeline_id,
                    status=status,
                    created_before=before,
                    tags=tag_list,
                    dry_run=count_only,
                )

        return run_async(go)

    matched = delete_many(count_only=True)
    if dry_run or matched == 0:
        _report(state, matched, dry_run=True)
        return
    if not yes and not click.confirm(f"delete {matched} ended execution(s) with their logs and callbacks?"):
        raise SystemExit(1)
    _report(state, delete_many(count_only=False), dry_run=False)


def _report(state: _State, count: int, *, dry_run: bool) -> None:
    if state.json:
        emit_json({"deleted": count, "dry_run": dry_run})
    elif dry_run:
        click.echo(f"{count} execution(s) would be deleted")
    else:
        click.echo(f"deleted {count} execution(s)")
