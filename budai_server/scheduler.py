"""Admission, running and ending of executions: the only writer of execution state.

Executions wait in a priority queue (high > normal > low, FIFO inside a level, no preemption) until
one of `max_concurrent` run slots is free; each then runs through the engine runner in its own task.
Step reports are buffered into the store (batched writes); the final state is committed before
terminal listeners (long-poll waiters, the callback outbox, batch subscriptions) hear about it.

Restart semantics (see docs/server.md): at `start`, executions found `pending` are queued again;
executions found `running` were interrupted by a crash or a shutdown and are either resumed (their
finished steps are handed to the runner as `prior_steps` and not run again) or, with
``recovery="fail"``, ended `failed` with an error that says so. None is ever left `running`.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs

from budai_async.models import Execution, ExecutionStatus, Priority, StepRun, StepStatus
from budai_server.engine.types import LogSink, RunContext, RunResult, StepState
from budai_server.ids import new_execution_id
from budai_server.metrics import Metrics
from budai_server.outcome import SERVER_RESTARTED, ended, from_run, remaining_seconds, resumable
from budai_server.progress import FINISHED_STEP, step_actions, step_ids, step_run, with_progress
from budai_server.store.database import IdempotencyRecord, Store
from budai_server.tracing import ExecutionTraces

__all__ = [
    "DiscardLogSink",
    "ExecutionAlreadyFinished",
    "ExecutionLog",
    "ExecutionNotFound",
    "ExecutionRequest",
    "Runner",
    "Scheduler",
    "SchedulerStopped",
    "TerminalListener",
]

logger = logging.getLogger(__name__)

TerminalListener = Callable[[Execution], Awaitable[None]]
IdempotencyFor = Callable[[Execution], IdempotencyRecord]

_RANK = {Priority.HIGH: 0, Priority.NORMAL: 1, Priority.LOW: 2}
_RESUMED_RANK = -1  # executions interrupted while running go back first


class Runner(Protocol):
    """What the scheduler needs from the engine (budai_server.engine.runner.ExecutionRunner)."""

    async def run(self, ctx: RunContext) -> RunResult: ...


class ExecutionLog(LogSink, Protocol):
    """The scheduler's log (budai_server.logs.bus.LogBus): a LogSink told which executions are new."""

    def begin_new(self, execution_id: str) -> None:
        """`execution_id` was just stored under a new id: it has no stored lines yet."""


class DiscardLogSink:
    """A LogSink that drops every line (used until a log bus is attached)."""

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None:
        return None

    def begin_new(self, execution_id: str) -> None:
        return None


class ExecutionNotFound(LookupError):
    """No execution has this id."""


class ExecutionAlreadyFinished(RuntimeError):
    """The execution is terminal, so it cannot be cancelled (the HTTP layer answers 409)."""

    def __init__(self, execution: Execution) -> None:
        super().__init__(f"execution {execution.id} already ended with status {execution.status}")
        self.execution = execution


class SchedulerStopped(RuntimeError):
    """The scheduler is not running (not started yet, or shutting down)."""


@attrs.frozen(kw_only=True)
class ExecutionRequest:
    """What to run: the definition snapshot plus the caller's options."""

    definition: Mapping[str, Any]
    pipeline_id: str | None = None
    params: Mapping[str, Any] = attrs.field(factory=dict)
    priority: Priority = Priority.NORMAL
    tags: Sequence[str] = ()
    callbacks: Mapping[str, str] = attrs.field(factory=dict)
    timeout_seconds: float | None = None
    retry_of: str | None = None
    # The gateway's request fields (context, initiator, callback_topics ...), copied onto the execution.
    origin: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.define(eq=False)
class _Live:
    """One admitted execution: its latest state, the definition it runs, and its tasks."""

    execution: Execution
    definition: Mapping[str, Any]
    prior: dict[str, StepState]
    actions: dict[str, str]
    task: asyncio.Task[None] | None = None
    inner: asyncio.Task[RunResult] | None = None
    interrupt: str | None = None  # "cancel" | "timeout" | "shutdown"
    finished: asyncio.Event = attrs.field(factory=asyncio.Event)


@attrs.define(eq=False)
class _Queued:
    execution: Execution
    definition: Mapping[str, Any]
    prior: dict[str, StepState]


class Scheduler:
    """Runs executions under a concurrency limit; see the module docstring for the semantics."""

    def __init__(
        self,
        store: Store,
        *,
        max_concurrent: int,
        metrics: Metrics | None = None,
        recovery: str = "resume",
        timeout_grace_seconds: float = 1.0,
        shutdown_grace_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.max_concurrent = max_concurrent
        self.metrics = metrics or Metrics()
        self.recovery = recovery
        self.timeout_grace_seconds = timeout_grace_seconds
        self.shutdown_grace_seconds = shutdown_grace_seconds
        self.runner: Runner | None = None
        self.log: ExecutionLog = DiscardLogSink()
        self.traces: ExecutionTraces | None = None  # set when OpenTelemetry is on (tracing.py)
        self._listeners: list[TerminalListener] = []
        self._heap: list[tuple[int, int, str]] = []
        self._queued: dict[str, _Queued] = {}
        self._running: dict[str, _Live] = {}
        self._order = itertools.count()
        self._waiters: dict[str, set[asyncio.Future[None]]] = {}
        self._accepting = False
        self._releasing = False

    # -- wiring ----------------------------------------------------------------------------------

    def add_terminal_listener(self, listener: TerminalListener) -> None:
        """Call `listener(final_execution)` after every execution's final state is committed.

        Listeners run one after another in registration order in the execution's task; an
        exception is logged and does not reach the others.
        """
        self._listeners.append(listener)

    def remove_terminal_listener(self, listener: TerminalListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    @property
    def queue_depth(self) -> int:
        """Executions admitted to the queue and waiting for a run slot."""
        return len(self._queued)

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def accepting(self) -> bool:
        """True between `start` and `stop` (readiness)."""
        return self._accepting

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self, runner: Runner, log: ExecutionLog | None = None) -> None:
        """Recover executions a previous process left unfinished, then start admitting."""
        self.runner = runner
        if log is not None:
            self.log = log
        now = datetime.now(UTC)
        for execution, definition in await self.store.unfinished_executions():
            await self._recover(execution, definition, now)
        self._accepting = True
        self._pump()

    async def stop(self) -> None:
        """Shut down in order: stop admitting; let running executions finish for up to the grace
        period; interrupt the rest (their state stays `running` and they resume at the next start);
        wake long-poll waiters; write everything buffered. Queued executions stay `pending`.
        """
        self._accepting = False
        tasks = [live.task for live in self._running.values() if live.task is not None]
        if tasks:
            _done, still_running = await asyncio.wait(tasks, timeout=self.shutdown_grace_seconds)
            for live in list(self._running.values()):
                if live.task in still_running:
                    self._interrupt(live, "shutdown")
            if still_running:
                await asyncio.wait(still_running)
        self._heap.clear()
        self._queued.clear()
        self.release_waiters()
        await self.store.flush()

    def release_waiters(self) -> None:
        """Wake every long-poll waiter now, and let new ones answer at once (shutdown has begun).

        Registered as an `on_shutdown` hook: aiohttp waits for open requests before the cleanup
        contexts run, and a long-poll must not hold the shutdown for its whole wait.
        """
        self._releasing = True
        for futures in self._waiters.values():
            for future in futures:
                if not future.done():
                    future.set_result(None)
        self._waiters.clear()

    # -- submitting ------------------------------------------------------------------------------

    def new_execution(self, request: ExecutionRequest) -> Execution:
        """Build the pending execution a request creates (not stored yet)."""
        steps = step_ids(request.definition)
        return Execution(
            id=new_execution_id(),
            pipeline_id=request.pipeline_id,
            status=ExecutionStatus.PENDING,
            priority=request.priority,
            params=dict(request.params),
            tags=list(dict.fromkeys(request.tags)),
            steps={step_id: StepRun() for step_id in steps},
            total_steps=len(steps),
            created_at=datetime.now(UTC),
            retry_of=request.retry_of,
            timeout_seconds=request.timeout_seconds,
            callbacks=dict(request.callbacks),
            **request.origin,
        )

    async def submit(self, request: ExecutionRequest, idempotency: IdempotencyFor | None = None) -> Execution:
        """Store a new pending execution (with its idempotency record, atomically) and queue it.

        `idempotency`, when given, builds the record to store from the new execution, so the
        stored replay body is exactly what the caller answers. Raises SchedulerStopped when the
        server is shutting down.
        """
        if not self._accepting:
            raise SchedulerStopped("the server is not accepting executions")
        execution = self.new_execution(request)
        record = idempotency(execution) if idempotency is not None else None
        await self.store.insert_execution(execution, request.definition, record)
        if self._accepting:
            self.admit([execution], request.definition)
        # else: stopped while storing; the row stays `pending` and runs at the next start.
        return execution

    def admit(self, executions: Sequence[Execution], definition: Mapping[str, Any]) -> None:
        """Queue new pending executions the caller has just stored (e.g. a whole batch inserted in
        one transaction with `Store.run_transaction`); they run like submitted ones. Only for
        executions created by `new_execution` (the log numbers their lines from 1 unread);
        restart recovery queues stored ones itself.

        Raises SchedulerStopped when the server is shutting down (the rows stay `pending` and run
        at the next start).
        """
        if not self._accepting:
            raise SchedulerStopped("the server is not accepting executions")
        for execution in executions:
            self._enqueue(_Queued(execution, definition, {}), _RANK.get(execution.priority, 1))
            self.log.begin_new(execution.id)
            self.log.emit(execution.id, "info", f"execution queued with priority {execution.priority}")
            if self.traces is not None:
                self.traces.queued(execution.id)
        self._pump()

    def _enqueue(self, item: _Queued, rank: int) -> None:
        self._queued[item.execution.id] = item
        heapq.heappush(self._heap, (rank, next(self._order), item.execution.id))

    def _pump(self) -> None:
        """Start queued executions while run slots are free."""
        while self._accepting and self._heap and len(self._running) < self.max_concurrent:
            _rank, _order, execution_id = heapq.heappop(self._heap)
            item = self._queued.pop(execution_id, None)
            if item is None:  # cancelled while queued
                continue
            live = _Live(item.execution, item.definition, item.prior, step_actions(item.definition))
            self._running[execution_id] = live
            live.task = asyncio.create_task(self._run(live), name=f"budai-execution-{execution_id}")

    # -- running ---------------------------------------------------------------------------------

    async def _run(self, live: _Live) -> None:
        try:
            await self._run_once(live)
        except Exception:
            logger.exception("execution %s could not be finished", live.execution.id)
        finally:
            self._running.pop(live.execution.id, None)
            live.finished.set()
            self._pump()

    async def _run_once(self, live: _Live) -> None:
        assert self.runner is not None
        now = datetime.now(UTC)
        execution = live.execution
        started_at = execution.started_at or now
        live.execution = attrs.evolve(execution, status=ExecutionStatus.RUNNING, started_at=started_at)
        self.store.buffer_execution(live.execution)
        self.log.emit(execution.id, "info", "execution started")
        remaining = remaining_seconds(live.execution, now)

        async def report(step_id: str, state: StepState) -> None:
            self._report(live, step_id, state)

        ctx = RunContext(
            execution_id=execution.id,
            definition=live.definition,
            params=execution.params,
            report_step=report,
            log=self.log,
            timeout_seconds=remaining,
            prior_steps=live.prior,
        )
        token = self.traces.started(live.execution) if self.traces is not None else None
        live.inner = asyncio.create_task(self.runner.run(ctx), name=f"budai-runner-{execution.id}")
        if self.traces is not None:
            self.traces.detach(token)
        if live.interrupt is not None:  # cancelled between admission and this task's first step
            live.inner.cancel()
        backstop = None if remaining is None else remaining + self.timeout_grace_seconds
        done, _pending = await asyncio.wait({live.inner}, timeout=backstop)
        if not done:
            self._interrupt(live, "timeout")
        result: RunResult | None = None
        crash: str | None = None
        try:
            result = await live.inner
        except asyncio.CancelledError:
            if live.interrupt is None:  # the runner cancelled itself: treat as a crash
                crash = "the engine runner was cancelled"
        except Exception as exc:
            logger.exception("engine runner failed on execution %s", execution.id)
            crash = f"internal engine error: {type(exc).__name__}: {exc}"
        interrupt = live.interrupt
        if interrupt == "shutdown":
            if result is None or result.status == "cancelled":
                # Keep `running`: the next start resumes it. Persist the step progress made so far.
                await self.store.save_execution(live.execution)
                return
            interrupt = None  # it ended on its own just as the shutdown interrupted it
        live.execution = from_run(live.execution, result, interrupt, crash, datetime.now(UTC))
        await self._finish(live.execution)

    def _report(self, live: _Live, step_id: str, state: StepState) -> None:
        """StepReporter: keep the newest state, buffer it for the store, observe finished steps."""
        if live.interrupt == "shutdown":
            return
        run = step_run(state)
        steps = dict(live.execution.steps)
        previous = steps.get(step_id)
        steps[step_id] = run
        live.execution = with_progress(live.execution, steps)
        self.store.buffer_execution(live.execution)
        if (
            run.status in FINISHED_STEP
            and (previous is None or previous.status not in FINISHED_STEP)
            and run.duration_seconds is not None
        ):
            action = live.actions.get(step_id, "unknown")
            self.metrics.step_duration.observe(run.duration_seconds, action, str(run.status))
            if self.traces is not None:
                self.traces.step_finished(live.execution.id, step_id, action, run)

    async def _finish(self, final: Execution) -> None:
        """Commit a terminal state, then tell waiters and listeners (in that order)."""
        await self.store.save_execution(final)
        self.metrics.executions_finished.inc(str(final.status))
        if final.duration_seconds is not None:
            self.metrics.execution_duration.observe(final.duration_seconds, str(final.status))
        message = f"execution {final.status}" + (f": {final.error}" if final.error else "")
        level = "info" if final.status == ExecutionStatus.COMPLETED else "error"
        self.log.emit(final.id, level, message)
        for future in self._waiters.pop(final.id, set()):
            if not future.done():
                future.set_result(None)
        for listener in list(self._listeners):
            try:
                await listener(final)
            except Exception:
                logger.exception("terminal listener %r failed for execution %s", listener, final.id)

    def _interrupt(self, live: _Live, reason: str) -> None:
        if live.interrupt is None:
            live.interrupt = reason
        if live.inner is not None and not live.inner.done():
            live.inner.cancel()

    # -- cancel, wait ----------------------------------------------------------------------------

    async def cancel(self, execution_id: str, *, wait_seconds: float = 10.0) -> Execution:
        """Cancel an execution: a queued one ends at once, a running one has its steps cancelled.

        Returns the final execution (for a running one, once its task has stopped, up to
        `wait_seconds`). Raises ExecutionNotFound, or ExecutionAlreadyFinished when it had ended.
        """
        queued = self._queued.pop(execution_id, None)
        if queued is not None:
            error = "cancelled by request before it started"
            final = ended(queued.execution, ExecutionStatus.CANCELLED, error, datetime.now(UTC))
            await self._finish(final)
            return final
        live = self._running.get(execution_id)
        if live is not None:
            self._interrupt(live, "cancel")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await live.finished.wait()
            return live.execution
        execution = await self.store.get_execution(execution_id)
        if execution is None:
            raise ExecutionNotFound(execution_id)
        if execution.is_terminal:
            raise ExecutionAlreadyFinished(execution)
        # Unfinished but not ours (the scheduler is stopped): end it in the store directly.
        final = ended(execution, ExecutionStatus.CANCELLED, "cancelled by request", datetime.now(UTC))
        await self._finish(final)
        return final

    async def wait_terminal(self, execution_id: str, wait_seconds: float) -> Execution | None:
        """The execution once it is terminal, or its state when `wait_seconds` pass (None: unknown id).

        Event-driven: the waiter registers before reading, and `_finish` resolves it after the
        final state is committed, so no end can slip between the read and the wait.
        """
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(execution_id, set())
        waiters.add(future)
        try:
            execution = await self.store.get_execution(execution_id)
            if execution is None or execution.is_terminal or wait_seconds <= 0 or self._releasing:
                return execution
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_seconds):
                    await future
        finally:
            remaining = self._waiters.get(execution_id)
            if remaining is not None:
                remaining.discard(future)
                if not remaining:
                    del self._waiters[execution_id]
        return await self.store.get_execution(execution_id)

    # -- recovery --------------------------------------------------------------------------------

    async def _recover(self, execution: Execution, definition: dict[str, Any], now: datetime) -> None:
        """Queue again what a previous process left pending or running (see module docstring)."""
        if execution.status == ExecutionStatus.PENDING:
            self._enqueue(_Queued(execution, definition, {}), _RANK.get(execution.priority, 1))
            return
        remaining = remaining_seconds(execution, now)
        if self.recovery == "fail" or (remaining is not None and remaining <= 0):
            if self.recovery == "fail":
                status, error = ExecutionStatus.FAILED, "the server restarted while the execution was running"
            else:
                status, error = ExecutionStatus.TIMEOUT, "the execution timed out while the server was down"
            final = ended(
                execution, status, error, now, step_status=StepStatus.FAILED, skip_reason=SERVER_RESTARTED
            )
            await self._finish(final)
            logger.warning("execution %s ended %s at start: %s", execution.id, status, error)
            return
        resumed, prior = resumable(execution)
        self._enqueue(_Queued(resumed, definition, prior), _RESUMED_RANK)
        self.log.emit(
            execution.id, "warning", f"server restarted; resuming after {len(prior)} finished step(s)"
        )
        logger.info("resuming execution %s (%d steps already finished)", execution.id, len(prior))
