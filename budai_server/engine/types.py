"""The contract between the engine (runner, actions) and the rest of the server (store, scheduler, logs).

The runner never touches SQLite or HTTP routes: it gets a `RunContext`, reports every step change
through `StepReporter`, writes log lines through `LogSink`, and returns a `RunResult`. The scheduler
(`budai_server/scheduler.py`) owns admission, persistence and listeners.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

import attrs


class LogSink(Protocol):
    """Where engine and action log lines go; `emit` must not block (it buffers)."""

    def emit(self, execution_id: str, level: str, message: str, step_id: str | None = None) -> None: ...


class InventoryStore(Protocol):
    """Persistence for the simulated platform inventory (clusters, models, deployments)."""

    async def inventory_get(self, kind: str, item_id: str) -> dict[str, Any] | None: ...

    async def inventory_put(self, kind: str, item_id: str, data: dict[str, Any]) -> None: ...

    async def inventory_delete(self, kind: str, item_id: str) -> bool: ...

    async def inventory_list(self, kind: str) -> list[dict[str, Any]]: ...


@attrs.define(kw_only=True)
class StepState:
    """Mutable state of one step during a run; serialised as the wire `StepRun`."""

    status: str = "pending"
    output: Any = None
    error: str | None = None
    attempts: int = 0
    skip_reason: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    duration_seconds: float | None = None


StepReporter = Callable[[str, StepState], Awaitable[None]]
"""Called by the runner after every change of a step's state (step id, new state)."""


@attrs.define(kw_only=True)
class RunContext:
    """Everything the runner needs for one execution.

    Reporting: `report_step` receives the runner's own mutable `StepState`; copy or serialise it before
    the call returns (the runner keeps changing that object).

    Cancellation: to cancel an execution, cancel the task running ``runner.run(ctx)``. The runner
    absorbs that one cancellation (``Task.uncancel``), cancels its running steps, ends every
    unfinished step (running ones ``cancelled``, not-started ones ``skipped`` with reason
    ``execution_cancelled``), reports them, and still returns a `RunResult` with status
    ``"cancelled"``. A second cancel during that clean-up propagates as `CancelledError`.
    `timeout_seconds` is enforced by the runner itself: running steps end ``timeout`` and the result
    status is ``"timeout"``.
    """

    execution_id: str
    definition: Mapping[str, Any]
    params: Mapping[str, Any]
    report_step: StepReporter
    log: LogSink
    timeout_seconds: float | None = None
    # Steps already finished before a restart (resume); the runner does not run them again.
    prior_steps: Mapping[str, StepState] = attrs.field(factory=dict)


@attrs.define(kw_only=True)
class RunResult:
    """How an execution ended."""

    status: str  # completed | failed | cancelled | timeout
    outputs: dict[str, Any]
    error: str | None
    steps: dict[str, StepState]
    cpu_seconds: float
    peak_memory_mb: float
