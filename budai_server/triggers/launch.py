"""The shared step of every trigger: build a pending execution, store it inside the caller's
claim transaction, then hand it to the scheduler's admission queue.

Storing the execution in the same transaction as the row that claims the firing (a schedule run,
a webhook message, an event firing) is what makes firing exactly-once across racing tasks and
processes: whoever inserts the claim row inserts the execution; the loser inserts neither. A crash
after the commit leaves a `pending` execution that the scheduler's restart recovery runs.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from budai_async.models import Execution, Priority
from budai_server.scheduler import ExecutionRequest, Scheduler, SchedulerStopped
from budai_server.store.rows import EXECUTION_INSERT, dumps, execution_values

__all__ = ["Launch", "Prepare", "TriggerError", "admit", "build", "insert_execution"]


class TriggerError(Exception):
    """A trigger cannot start its pipeline (pipeline gone, params invalid); `reason` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


Prepare = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]
"""``prepare(definition, params)``: the params merged with declared defaults; raises TriggerError."""


@attrs.frozen(kw_only=True)
class Launch:
    """An execution ready to store, with the definition snapshot it runs."""

    execution: Execution
    definition: Mapping[str, Any]


def build(
    scheduler: Scheduler,
    prepare: Prepare,
    *,
    pipeline_id: str,
    definition: Mapping[str, Any],
    params: Mapping[str, Any],
    priority: str,
    tags: Sequence[str],
    callbacks: Mapping[str, str] | None = None,
    timeout_seconds: float | None = None,
) -> Launch:
    """The pending execution a trigger starts (not stored); raises TriggerError for bad params."""
    request = ExecutionRequest(
        definition=definition,
        pipeline_id=pipeline_id,
        params=prepare(definition, params),
        priority=Priority(priority),
        tags=list(tags),
        callbacks=dict(callbacks or {}),
        timeout_seconds=timeout_seconds,
    )
    return Launch(execution=scheduler.new_execution(request), definition=definition)


def insert_execution(conn: sqlite3.Connection, launch: Launch) -> None:
    """Store the launch's execution and its tags on `conn` (inside the caller's transaction)."""
    execution = launch.execution
    cursor = conn.execute(EXECUTION_INSERT, (*execution_values(execution), dumps(launch.definition)))
    if execution.tags:
        conn.executemany(
            "INSERT OR IGNORE INTO execution_tags (tag, execution_seq) VALUES (?, ?)",
            [(tag, cursor.lastrowid) for tag in execution.tags],
        )


def admit(scheduler: Scheduler, launches: Sequence[Launch]) -> None:
    """Queue stored launches; when the server is stopping they stay `pending` for the next start."""
    for launch in launches:
        try:
            scheduler.admit([launch.execution], launch.definition)
        except SchedulerStopped:
            return
