"""The scheduler with the real store and engine, driven directly (races HTTP cannot time)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from budai_async.models import Execution
from budai_server.actions.builtins import builtin_registry
from budai_server.engine.runner import ExecutionRunner
from budai_server.scheduler import (
    ExecutionAlreadyFinished,
    ExecutionNotFound,
    ExecutionRequest,
    Scheduler,
    SchedulerStopped,
)
from budai_server.store.database import Store
from budai_server.store.inventory import Inventory

DELAY = {"steps": [{"id": "wait", "action": "delay", "params": {"seconds": 5}}]}
QUICK = {"steps": [{"id": "hi", "action": "log", "params": {"message": "hi"}}]}


@pytest.fixture
async def scheduler(tmp_path: Path) -> AsyncIterator[Scheduler]:
    async with Store(tmp_path / "s.db") as store:
        scheduler = Scheduler(store, max_concurrent=2, shutdown_grace_seconds=0.05)
        runner = ExecutionRunner(builtin_registry(), Inventory(store))
        await scheduler.start(runner)
        yield scheduler
        await scheduler.stop()


async def test_cancel_right_after_admission_never_runs_the_steps(scheduler: Scheduler) -> None:
    execution = await scheduler.submit(ExecutionRequest(definition=DELAY))
    cancelled = await scheduler.cancel(execution.id)  # the run task has not taken its first step yet
    assert cancelled.status == "cancelled"
    assert cancelled.steps["wait"].started_at is None
    with pytest.raises(ExecutionAlreadyFinished):
        await scheduler.cancel(execution.id)
    with pytest.raises(ExecutionNotFound):
        await scheduler.cancel("exec_missing")


async def test_listeners_hear_every_end_once_after_the_commit(scheduler: Scheduler) -> None:
    heard: list[Execution] = []
    all_heard = asyncio.Event()

    async def listener(execution: Execution) -> None:
        stored = await scheduler.store.get_execution(execution.id)
        assert stored == execution  # committed before the listener is called
        heard.append(execution)
        if len(heard) == 3:
            all_heard.set()

    async def broken(_execution: Execution) -> None:
        raise RuntimeError("a failing listener does not stop the others")

    scheduler.add_terminal_listener(broken)
    scheduler.add_terminal_listener(listener)
    ids = [(await scheduler.submit(ExecutionRequest(definition=QUICK))).id for _ in range(3)]
    for execution_id in ids:
        assert (await scheduler.wait_terminal(execution_id, 5)).status == "completed"  # type: ignore[union-attr]
    # waiters are woken before listeners run, so the last listener call may still be under way
    await asyncio.wait_for(all_heard.wait(), 5)
    assert sorted(execution.id for execution in heard) == sorted(ids)
    scheduler.remove_terminal_listener(listener)


async def test_admit_queues_executions_stored_elsewhere(scheduler: Scheduler) -> None:
    request = ExecutionRequest(definition=QUICK, tags=["batch"])
    executions = [scheduler.new_execution(request) for _ in range(3)]
    for execution in executions:
        await scheduler.store.insert_execution(execution, QUICK)
    scheduler.admit(executions, QUICK)
    for execution in executions:
        done = await scheduler.wait_terminal(execution.id, 5)
        assert done is not None and done.status == "completed"


async def test_a_stopped_scheduler_refuses_new_work(tmp_path: Path) -> None:
    async with Store(tmp_path / "s.db") as store:
        scheduler = Scheduler(store, max_concurrent=1)
        with pytest.raises(SchedulerStopped):
            await scheduler.submit(ExecutionRequest(definition=QUICK))
        assert await scheduler.wait_terminal("exec_missing", 0.01) is None


class RecordingLog:
    """A scheduler log keeping the calls in order: ("new", id) or ("emit", id, message)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None:
        self.calls.append(("emit", execution_id, message))

    def begin_new(self, execution_id: str) -> None:
        self.calls.append(("new", execution_id))


async def test_new_executions_are_announced_to_the_log_before_their_first_line(tmp_path: Path) -> None:
    async with Store(tmp_path / "s.db") as store:
        first = Scheduler(store, max_concurrent=1, shutdown_grace_seconds=0.01)
        await first.start(ExecutionRunner(builtin_registry(), Inventory(store)))
        first.max_concurrent = 0  # keep the next one queued (pending) across the restart
        log = RecordingLog()
        first.log = log
        fresh = await first.submit(ExecutionRequest(definition=QUICK))
        assert log.calls[:2] == [
            ("new", fresh.id),
            ("emit", fresh.id, "execution queued with priority normal"),
        ]
        await first.stop()

        # After a restart the stored execution may have stored lines: the log must look them up.
        second = Scheduler(store, max_concurrent=1)
        again = RecordingLog()
        await second.start(ExecutionRunner(builtin_registry(), Inventory(store)), again)
        done = await second.wait_terminal(fresh.id, 5)
        await second.stop()
    assert done is not None and done.status == "completed"
    assert ("new", fresh.id) not in again.calls
    assert ("emit", fresh.id, "execution completed") in again.calls
