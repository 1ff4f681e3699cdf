"""The schedule loop: wake when the earliest schedule is due, fire what is due, sleep again.

Each pass (`tick`) lists the active schedules whose next run time has come, works out every run
time since the schedule's cursor, lets `catchup.decide` choose which fire, and commits the run rows
and their executions in one transaction per schedule (`ScheduleStore.commit_runs`); the new
executions then join the scheduler's admission queue like any other (priority, params, tags and
callbacks come from the schedule). Restart is just the first pass: the cursor and the run rows are
durable, so nothing fires twice and missed times are handled by the catch-up rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from datetime import datetime

from budai_server.scheduler import Scheduler
from budai_server.store.database import Store
from budai_server.triggers.catchup import decide
from budai_server.triggers.clock import Clock
from budai_server.triggers.launch import Launch, Prepare, TriggerError, admit, build
from budai_server.triggers.schedule_store import RunOutcome, RunPlan, ScheduleRecord, ScheduleStore
from budai_server.triggers.timing import next_after, runs_between

__all__ = ["MAX_SCAN", "ScheduleLoop"]

logger = logging.getLogger(__name__)

MAX_SCAN = 1000
"""Run times examined per schedule per pass; a longer backlog continues in the next pass."""
_MAX_PASSES = 100
_FAILED_RETRY_SECONDS = 1.0


class ScheduleLoop:
    """Fires due schedules; `tick` is one pass (tests call it with a fake clock)."""

    def __init__(
        self,
        store: Store,
        scheduler: Scheduler,
        prepare: Prepare,
        clock: Callable[[], Clock],
        *,
        poll_seconds: float = 30.0,
    ) -> None:
        self.schedules = ScheduleStore(store)
        self.store = store
        self.scheduler = scheduler
        self.prepare = prepare
        self._clock = clock
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def clock(self) -> Clock:
        return self._clock()

    # -- firing ----------------------------------------------------------------------------------

    async def tick(self, now: datetime | None = None) -> list[Launch]:
        """Fire every due schedule once; returns the executions started. More backlog -> call again."""
        now = now if now is not None else self.clock.now()
        launched: list[Launch] = []
        for record in await self.schedules.due(now):
            try:
                outcome = await self.fire_due(record, now)
            except sqlite3.Error:
                raise
            except Exception:  # one broken schedule (e.g. a zone gone from tzdata) must not stop the rest
                logger.exception("schedule %s could not be fired; it is left for the next pass", record.id)
                continue
            launched.extend(outcome.launched)
        return launched

    async def fire_due(self, record: ScheduleRecord, now: datetime) -> RunOutcome:
        """Decide and record the run times of one schedule due at `now`."""
        spec = record.spec()
        due = runs_between(spec, record.cursor_at, now, limit=MAX_SCAN + 1)
        more = len(due) > MAX_SCAN
        due = due[:MAX_SCAN]
        decisions = decide(
            due, now, catchup=record.catchup, window_seconds=record.catchup_window_seconds, more_pending=more
        )
        plans: list[RunPlan] = []
        for decision in decisions:
            if decision.fire:
                plans.append(await self._plan(record, decision.run_at, kind="scheduled"))
            else:
                plans.append(RunPlan(run_at=decision.run_at, reason=decision.reason))
        cursor = due[-1] if more else now
        nxt = next_after(spec, cursor)
        outcome = await self.schedules.commit_runs(
            record.id,
            plans,
            cursor=cursor,
            next_run_at=nxt,
            overlap=record.overlap,
            now=now,
            status_after="disabled" if nxt is None else None,
        )
        self._report(record, outcome)
        admit(self.scheduler, outcome.launched)
        return outcome

    async def trigger_now(self, record: ScheduleRecord, now: datetime) -> RunOutcome:
        """A manual run of the schedule (always fires; not subject to overlap or catch-up)."""
        plan = await self._plan(record, now, kind="manual")
        outcome = await self.schedules.commit_runs(
            record.id, [plan], cursor=None, next_run_at=None, overlap="allow_all", now=now
        )
        admit(self.scheduler, outcome.launched)
        return outcome

    async def _plan(self, record: ScheduleRecord, run_at: datetime, *, kind: str) -> RunPlan:
        pipeline = await self.store.get_pipeline(record.pipeline_id)
        if pipeline is None:
            return RunPlan(run_at=run_at, kind=kind, status="failed", reason="pipeline_not_found")
        try:
            launch = build(
                self.scheduler,
                self.prepare,
                pipeline_id=pipeline.id,
                definition=pipeline.definition,
                params=record.params,
                priority=record.priority,
                tags=record.tags,
                callbacks=record.callbacks,
                timeout_seconds=record.timeout_seconds,
            )
        except TriggerError as exc:
            return RunPlan(run_at=run_at, kind=kind, status="failed", reason=exc.reason)
        return RunPlan(run_at=run_at, kind=kind, launch=launch)

    def _report(self, record: ScheduleRecord, outcome: RunOutcome) -> None:
        for run in outcome.runs:
            if run.status == "fired":
                logger.info("schedule %s fired run %s as %s", record.id, run.run_at, run.execution_id)
            else:
                logger.warning("schedule %s %s run %s: %s", record.id, run.status, run.run_at, run.reason)

    # -- the loop --------------------------------------------------------------------------------

    def wake(self) -> None:
        """Re-read the schedules now (after a create, update or resume)."""
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="budai-schedule-loop")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            delay = self.poll_seconds
            try:
                for _ in range(_MAX_PASSES):  # a long backlog takes several passes
                    now = self.clock.now()
                    if not await self.schedules.due(now):
                        break
                    await self.tick(now)
                earliest = await self.schedules.earliest_next_run()
                if earliest is not None:
                    # Still due after the passes means a schedule keeps failing: retry it in a second,
                    # not in a busy loop.
                    wait = (earliest - self.clock.now()).total_seconds()
                    delay = min(delay, wait if wait > 0 else _FAILED_RETRY_SECONDS)
            except Exception:  # the loop must outlive any one bad pass
                logger.exception("schedule pass failed; retrying")
            await self._sleep_or_wake(delay)

    async def _sleep_or_wake(self, delay: float) -> None:
        sleeper = asyncio.ensure_future(self.clock.sleep(delay))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)
