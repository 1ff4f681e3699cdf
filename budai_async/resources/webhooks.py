"""`client.webhooks`: inbound webhook triggers (``/budpipeline/webhooks``).

A trigger has a secret (shown only by `create` and `rotate_secret`) and a public `url`; a sender
posts JSON there signed per Standard Webhooks (`budai_async.webhooks.signature_headers`) and the
pipeline starts with the body as params.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any

from budai_async.models import Page
from budai_async.pagination import AsyncPager
from budai_async.resources._base import Resource, parse, parse_page, segment
from budai_async.resources.schedules import checked_id
from budai_async.trigger_models import WebhookSecret, WebhookTrigger, WebhookTriggerResult

__all__ = ["WebhooksResource"]

_BASE = "/budpipeline/webhooks"


class WebhooksResource(Resource):
    """Inbound webhook triggers of pipelines."""

    async def create(
        self,
        pipeline_id: str,
        *,
        name: str,
        description: str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        priority: str | None = None,
        tags: Sequence[str] | None = None,
    ) -> WebhookSecret:
        """Create a trigger; the answer holds the secret, which is never shown again.

        `headers` are headers every inbound request must also carry (e.g. ``X-GitHub-Event``).
        """
        body: dict[str, Any] = {"pipeline_id": checked_id(pipeline_id, "pipeline_id"), "name": name}
        if description is not None:
            body["description"] = description
        if headers is not None:
            body["headers"] = dict(headers)
        if params is not None:
            body["params"] = dict(params)
        if priority is not None:
            body["priority"] = priority
        if tags is not None:
            body["tags"] = builtins.list(tags)
        return parse(await self._client.request("POST", _BASE, json_body=body), WebhookSecret)

    def list(
        self, *, pipeline_id: str | None = None, limit: int | None = None, offset: int | None = None
    ) -> AsyncPager[WebhookTrigger]:
        """Triggers, newest first: ``await`` for one page, ``async for`` for all of them."""
        query = [("pipeline_id", pipeline_id)] if pipeline_id else []
        return AsyncPager(self._fetch_page, query, limit=limit, offset=offset)

    async def _fetch_page(self, query: builtins.list[tuple[str, str]]) -> Page[WebhookTrigger]:
        return parse_page(await self._client.request("GET", _BASE, params=query), WebhookTrigger)

    def _path(self, webhook_id: str, suffix: str = "") -> str:
        return f"{_BASE}/{segment(webhook_id, 'webhook_id')}{suffix}"

    async def get(self, webhook_id: str) -> WebhookTrigger:
        """One trigger (without its secret); raises NotFoundError."""
        return parse(await self._client.request("GET", self._path(webhook_id)), WebhookTrigger)

    async def delete(self, webhook_id: str) -> None:
        """Delete a trigger: its URL answers 404 from now on."""
        await self._client.request("DELETE", self._path(webhook_id), missing_ok_after_retry=True)

    async def rotate_secret(self, webhook_id: str) -> WebhookSecret:
        """A new secret, shown once; the old one stops verifying immediately."""
        data = await self._client.request("POST", self._path(webhook_id, "/rotate-secret"), json_body={})
        return parse(data, WebhookSecret)

    async def trigger(
        self, webhook_id: str, *, payload: Mapping[str, Any] | None = None, idempotency_key: str | None = None
    ) -> WebhookTriggerResult:
        """Start the trigger's pipeline with `payload` as params, authenticated by the API key."""
        data = await self._client.request(
            "POST",
            self._path(webhook_id, "/trigger"),
            json_body={"payload": dict(payload or {})},
            idempotency_key=idempotency_key,
        )
        return parse(data, WebhookTriggerResult)
