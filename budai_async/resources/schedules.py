"""`client.schedules`: cron, ``@every`` and one-time schedules of a pipeline (``/budpipeline/schedules``).

`create` sends the pipeline service's shape (``workflow_id`` + ``schedule`` object) plus the
official SDK's ``pipeline_id``/``cron`` names are accepted by our server either way; answers are
read in both shapes.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from budai_async._convert import parse_datetime
from budai_async.errors import BudError, ValidationError
from budai_async.models import Execution, Page
from budai_async.pagination import AsyncPager
from budai_async.resources._base import Resource, parse, parse_page, segment
from budai_async.trigger_models import Schedule, ScheduleRun, normalize_schedule

__all__ = ["SchedulesResource", "checked_id"]

_BASE = "/budpipeline/schedules"


def _options(
    *,
    description: str | None,
    params: Mapping[str, Any] | None,
    priority: str | None,
    tags: Sequence[str] | None,
    callbacks: Mapping[str, str] | None,
    timeout_seconds: float | None,
    catchup: str | None,
    catchup_window_seconds: float | None,
    overlap: str | None,
) -> dict[str, Any]:
    values = {
        "description": description,
        "params": dict(params) if params is not None else None,
        "priority": priority,
        "tags": builtins.list(tags) if tags is not None else None,
        "callbacks": dict(callbacks) if callbacks is not None else None,
        "timeout_seconds": timeout_seconds,
        "catchup": catchup,
        "catchup_window_seconds": catchup_window_seconds,
        "overlap": overlap,
    }
    return {key: value for key, value in values.items() if value is not None}


def _timing(
    cron: str | None, schedule_type: str | None, timezone: str | None, run_at: datetime | str | None
) -> dict[str, Any]:
    timing: dict[str, Any] = {}
    if cron is not None:
        timing["expression"] = cron
    if schedule_type is not None:
        timing["type"] = schedule_type
    if timezone is not None:
        timing["timezone"] = timezone
    if run_at is not None:
        timing["run_at"] = run_at.isoformat() if isinstance(run_at, datetime) else run_at
    return timing


def checked_id(value: str, name: str) -> str:
    """`value` when it is a non-empty string; raises ValidationError otherwise."""
    segment(value, name)
    return value


def _schedule(data: Any) -> Schedule:
    return parse(normalize_schedule(data), Schedule)


class SchedulesResource(Resource):
    """Schedules that start a pipeline at cron times, fixed intervals or once."""

    async def create(
        self,
        pipeline_id: str,
        *,
        name: str,
        cron: str | None = None,
        schedule_type: str | None = None,
        timezone: str = "UTC",
        run_at: datetime | str | None = None,
        enabled: bool = True,
        description: str | None = None,
        params: Mapping[str, Any] | None = None,
        priority: str | None = None,
        tags: Sequence[str] | None = None,
        callbacks: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
        catchup: str | None = None,
        catchup_window_seconds: float | None = None,
        overlap: str | None = None,
    ) -> Schedule:
        """Store a schedule. `cron` is a cron expression, ``@daily``, or ``@every 1h30m``; a
        one-time schedule gives `run_at` instead. Raises UnprocessableEntityError naming the field.
        """
        if cron is None and run_at is None:
            raise ValidationError("give cron (a cron or @every expression) or run_at")
        body: dict[str, Any] = {
            "workflow_id": checked_id(pipeline_id, "pipeline_id"),
            "name": name,
            "schedule": _timing(cron, schedule_type, timezone, run_at),
            "enabled": enabled,
            **_options(
                description=description,
                params=params,
                priority=priority,
                tags=tags,
                callbacks=callbacks,
                timeout_seconds=timeout_seconds,
                catchup=catchup,
                catchup_window_seconds=catchup_window_seconds,
                overlap=overlap,
            ),
        }
        return _schedule(await self._client.request("POST", _BASE, json_body=body))

    def list(
        self,
        *,
        pipeline_id: str | None = None,
        status: str | None = None,
        limit: int | None = None,
        offset: int | None = None,
    ) -> AsyncPager[Schedule]:
        """Schedules, newest first: ``await`` for one page, ``async for`` for all of them."""
        query: builtins.list[tuple[str, str]] = []
        if pipeline_id:
            query.append(("pipeline_id", pipeline_id))
        if status:
            query.append(("status", status))
        return AsyncPager(self._fetch_page, query, limit=limit, offset=offset)

    async def _fetch_page(self, query: builtins.list[tuple[str, str]]) -> Page[Schedule]:
        data = await self._client.request("GET", _BASE, params=query)
        if isinstance(data, dict) and isinstance(data.get("items"), builtins.list):
            data = {**data, "items": [normalize_schedule(item) for item in data["items"]]}
        return parse_page(data, Schedule)

    def _path(self, schedule_id: str, suffix: str = "") -> str:
        return f"{_BASE}/{segment(schedule_id, 'schedule_id')}{suffix}"

    async def get(self, schedule_id: str) -> Schedule:
        """One schedule; raises NotFoundError."""
        return _schedule(await self._client.request("GET", self._path(schedule_id)))

    async def update(
        self,
        schedule_id: str,
        *,
        name: str | None = None,
        cron: str | None = None,
        schedule_type: str | None = None,
        timezone: str | None = None,
        run_at: datetime | str | None = None,
        enabled: bool | None = None,
        description: str | None = None,
        params: Mapping[str, Any] | None = None,
        priority: str | None = None,
        tags: Sequence[str] | None = None,
        callbacks: Mapping[str, str] | None = None,
        timeout_seconds: float | None = None,
        catchup: str | None = None,
        catchup_window_seconds: float | None = None,
        overlap: str | None = None,
    ) -> Schedule:
        """Change some fields (PATCH); a new timing counts from now."""
        body = _options(
            description=description,
            params=params,
            priority=priority,
            tags=tags,
            callbacks=callbacks,
            timeout_seconds=timeout_seconds,
            catchup=catchup,
            catchup_window_seconds=catchup_window_seconds,
            overlap=overlap,
        )
        timing = _timing(cron, schedule_type, timezone, run_at)
        if timing:
            body["schedule"] = timing
        if name is not None:
            body["name"] = name
        if enabled is not None:
            body["enabled"] = enabled
        if not body:
            raise ValidationError("nothing to update")
        return _schedule(await self._client.request("PATCH", self._path(schedule_id), json_body=body))

    async def delete(self, schedule_id: str) -> None:
        """Delete a schedule (its past executions stay); raises NotFoundError."""
        await self._client.request("DELETE", self._path(schedule_id), missing_ok_after_retry=True)

    async def pause(self, schedule_id: str) -> Schedule:
        """Stop firing until `resume`."""
        return _schedule(await self._client.request("POST", self._path(schedule_id, "/pause"), json_body={}))

    async def resume(self, schedule_id: str) -> Schedule:
        """Fire again from now on (run times missed while paused do not run)."""
        return _schedule(await self._client.request("POST", self._path(schedule_id, "/resume"), json_body={}))

    async def trigger(self, schedule_id: str) -> Execution:
        """Run the schedule's pipeline now with its params; returns the new execution."""
        data = await self._client.request("POST", self._path(schedule_id, "/trigger"), json_body={})
        return parse(data, Execution)

    async def next_runs(self, schedule_id: str, count: int = 5) -> builtins.list[datetime]:
        """The next `count` fire times (UTC), empty when paused or finished."""
        data = await self._client.request(
            "GET", self._path(schedule_id, "/next-runs"), params=[("count", str(count))]
        )
        try:
            return [parse_datetime(value) for value in data["next_runs"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise BudError(f"the server's answer is not a list of run times: {exc}") from exc

    async def runs(self, schedule_id: str, *, limit: int = 50) -> builtins.list[ScheduleRun]:
        """Recorded runs, newest first: fired, skipped (with why) or failed."""
        data = await self._client.request(
            "GET", self._path(schedule_id, "/runs"), params=[("limit", str(limit))]
        )
        return parse_page(data, ScheduleRun).items
