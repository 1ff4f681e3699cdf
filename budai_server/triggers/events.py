"""Event triggers: when an execution ends, start the pipelines whose triggers match its end.

Event types are the terminal statuses the server emits: ``execution.completed``,
``execution.failed``, ``execution.cancelled``, ``execution.timeout``. A trigger's `filter` may
name the source ``pipeline_id`` and ``tags`` the source execution must all carry. The started
execution gets the trigger's params plus ``event`` (type, execution_id, pipeline_id, status,
outputs, error, tags), so ``{{ params.event.outputs.x }}`` reads the upstream result.

Loop protection (documented in docs/schedules.md): every execution an event trigger starts
remembers its chain (root execution, depth, pipelines so far). A trigger does not fire when the
new depth would exceed its ``max_chain_depth`` (default 5, at most 20) or, unless the trigger sets
``allow_cycles``, when its target pipeline already ran in the chain (A -> B -> A is refused).
Refusals are recorded as firings with status ``skipped`` and the reason, and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from budai_async.models import Execution
from budai_server.scheduler import Scheduler
from budai_server.store.database import Store
from budai_server.triggers.event_store import EventTriggerRecord, EventTriggerStore, Lineage
from budai_server.triggers.launch import Prepare, TriggerError, admit, build

__all__ = [
    "DEFAULT_MAX_CHAIN_DEPTH",
    "EVENT_TYPES",
    "MAX_CHAIN_DEPTH",
    "EventTriggers",
    "event_payload",
    "matches",
]

logger = logging.getLogger(__name__)

EVENT_TYPES = ("execution.completed", "execution.failed", "execution.cancelled", "execution.timeout")
DEFAULT_MAX_CHAIN_DEPTH = 5
MAX_CHAIN_DEPTH = 20


def matches(trigger: EventTriggerRecord, execution: Execution) -> bool:
    """Whether an ended execution satisfies the trigger's filter (pure)."""
    source = trigger.filter.get("pipeline_id")
    if source is not None and source != execution.pipeline_id:
        return False
    wanted = trigger.filter.get("tags") or []
    return all(tag in execution.tags for tag in wanted)


def event_payload(event_type: str, execution: Execution) -> dict[str, Any]:
    """What the started execution sees as ``params.event``."""
    return {
        "type": event_type,
        "execution_id": execution.id,
        "pipeline_id": execution.pipeline_id,
        "status": str(execution.status),
        "outputs": execution.outputs,
        "error": execution.error,
        "tags": list(execution.tags),
    }


class EventTriggers:
    """The terminal listener that fires event triggers (registered on the scheduler)."""

    def __init__(
        self, store: Store, scheduler: Scheduler, prepare: Prepare, now: Callable[[], datetime]
    ) -> None:
        self.triggers = EventTriggerStore(store)
        self.store = store
        self.scheduler = scheduler
        self.prepare = prepare
        self.now = now

    async def on_terminal(self, execution: Execution) -> None:
        event_type = f"execution.{execution.status}"
        if event_type not in EVENT_TYPES:
            return
        candidates = [t for t in await self.triggers.active_for(event_type) if matches(t, execution)]
        if not candidates:
            return
        lineage = await self.triggers.lineage(execution.id, execution.pipeline_id)
        for trigger in candidates:
            await self._fire(trigger, execution, event_type, lineage)

    async def _fire(
        self, trigger: EventTriggerRecord, execution: Execution, event_type: str, lineage: Lineage
    ) -> None:
        now = self.now()
        depth = lineage.depth + 1
        reason: str | None = None
        if depth > trigger.max_chain_depth:
            reason = f"chain_depth_exceeded: depth {depth} > max_chain_depth {trigger.max_chain_depth}"
        elif not trigger.allow_cycles and trigger.pipeline_id in lineage.pipelines:
            reason = f"cycle: pipeline {trigger.pipeline_id} already ran in this chain"
        launch = None
        if reason is None:
            pipeline = await self.store.get_pipeline(trigger.pipeline_id)
            if pipeline is None:
                reason = "pipeline_not_found"
            else:
                try:
                    launch = build(
                        self.scheduler,
                        self.prepare,
                        pipeline_id=pipeline.id,
                        definition=pipeline.definition,
                        params={**trigger.params, "event": event_payload(event_type, execution)},
                        priority=trigger.priority,
                        tags=trigger.tags,
                    )
                except TriggerError as exc:
                    reason = exc.reason
        guarded = reason is not None and reason.startswith(("chain_depth_exceeded", "cycle"))
        status = "fired" if launch is not None else ("skipped" if guarded else "failed")
        chain = Lineage(
            root_execution_id=lineage.root_execution_id,
            depth=depth,
            pipelines=[*lineage.pipelines, trigger.pipeline_id],
        )
        recorded = await self.triggers.claim(
            trigger.id, execution.id, launch=launch, lineage=chain, status=status, reason=reason, now=now
        )
        if not recorded:
            return
        if launch is not None:
            logger.info("event trigger %s started %s after %s", trigger.id, launch.execution.id, execution.id)
            admit(self.scheduler, [launch])
        else:
            logger.warning("event trigger %s did not fire after %s: %s", trigger.id, execution.id, reason)
