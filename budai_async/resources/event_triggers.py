"""`client.event_triggers`: start a pipeline when an execution ends (``/event-triggers``).

Event types: ``execution.completed``, ``execution.failed``, ``execution.cancelled``,
``execution.timeout``; `filter` may name the source ``pipeline_id`` and required ``tags``. The
started execution sees the upstream end as ``params.event``. Chains are bounded by
`max_chain_depth` and, unless `allow_cycles`, never run a pipeline twice.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from budai_async.errors import ValidationError
from budai_async.models import Page
from budai_async.pagination import AsyncPager
from budai_async.resources._base import Resource, parse, parse_page, segment
from budai_async.resources.schedules import checked_id
from budai_async.trigger_models import EventFiring, EventTrigger

__all__ = ["EventTriggersResource"]

_BASE = "/event-triggers"


def _fields(**values: Any) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if key == "tags":
            value = builtins.list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        found[key] = value
    return found


class EventTriggersResource(Resource):
    """Event triggers: one pipeline's end starts another."""

    async def create(
        self,
        pipeline_id: str,
        *,
        name: str,
        event_type: str,
        source_pipeline_id: str | None = None,
        filter: Mapping[str, Any] | None = None,
        description: str | None = None,
        params: Mapping[str, Any] | None = None,
        priority: str | None = None,
        tags: Sequence[str] | None = None,
        is_active: bool | None = None,
        max_chain_depth: int | None = None,
        allow_cycles: bool | None = None,
    ) -> EventTrigger:
        """Start `pipeline_id` whenever an execution ends with `event_type`
        (of `source_pipeline_id`, when given)."""
        match = dict(filter or {})
        if source_pipeline_id is not None:
            match["pipeline_id"] = source_pipeline_id
        body = {
            "pipeline_id": checked_id(pipeline_id, "pipeline_id"),
            "name": name,
            "event_type": str(event_type),
            **_fields(
                filter=match or None,
                description=description,
                params=params,
                priority=priority,
                tags=tags,
                is_active=is_active,
                max_chain_depth=max_chain_depth,
                allow_cycles=allow_cycles,
            ),
        }
        return parse(await self._client.request("POST", _BASE, json_body=body), EventTrigger)

    def list(
        self,
        *,
        pipeline_id: str | None = None,
        event_type: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> AsyncPager[EventTrigger]:
        """Triggers, newest first: ``await`` for one page, ``async for`` for all of them."""
        query: builtins.list[tuple[str, str]] = []
        if pipeline_id:
            query.append(("pipeline_id", pipeline_id))
        if event_type:
            query.append(("event_type", str(event_type)))
        return AsyncPager(self._fetch_page, query, limit=limit, offset=offset)

    async def _fetch_page(self, query: builtins.list[tuple[str, str]]) -> Page[EventTrigger]:
        return parse_page(await self._client.request("GET", _BASE, params=query), EventTrigger)

    def _path(self, trigger_id: str, suffix: str = "") -> str:
        return f"{_BASE}/{segment(trigger_id, 'trigger_id')}{suffix}"

    async def get(self, trigger_id: str) -> EventTrigger:
        return parse(await self._client.request("GET", self._path(trigger_id)), EventTrigger)

    async def update(
        self,
        trigger_id: str,
        *,
        name: str | None = None,
        event_type: str | None = None,
        filter: Mapping[str, Any] | None = None,
        description: str | None = None,
        params: Mapping[str, Any] | None = None,
        priority: str | None = None,
        tags: Sequence[str] | None = None,
        is_active: bool | None = None,
        max_chain_depth: int | None = None,
        allow_cycles: bool | None = None,
    ) -> EventTrigger:
        """Change some fields (PATCH)."""
        body = _fields(
            name=name,
            event_type=None if event_type is None else str(event_type),
            filter=filter,
            description=description,
            params=params,
            priority=priority,
            tags=tags,
            is_active=is_active,
            max_chain_depth=max_chain_depth,
            allow_cycles=allow_cycles,
        )
        if not body:
            raise ValidationError("nothing to update")
        return parse(
            await self._client.request("PATCH", self._path(trigger_id), json_body=body), EventTrigger
        )

    async def delete(self, trigger_id: str) -> None:
        await self._client.request("DELETE", self._path(trigger_id), missing_ok_after_retry=True)

    async def firings(self, trigger_id: str) -> builtins.list[EventFiring]:
        """What the trigger did for each ended execution, refusals by the loop guard included."""
        data = await self._client.request("GET", self._path(trigger_id, "/firings"))
        return parse_page(data, EventFiring).items
