"""Inbound webhook triggers: ``/budpipeline/webhooks`` (create, list, get, delete, rotate-secret,
trigger) and the public ``POST /budpipeline/trigger/{webhook_id}`` a sender such as GitHub calls.

The public route needs no API key; it is authenticated by the Standard Webhooks signature made
with the trigger's secret (`budai_async.webhooks.verify`: ``webhook-id``, ``webhook-timestamp``
within 300 s of the server clock, ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``), plus the `headers` the trigger was created to expect. A message is
started once: a repeat of its ``webhook-id`` answers 200 with the execution the first delivery
started (202 for a new one). The body's JSON object becomes the params (over the trigger's own
params); another JSON value arrives as ``params.payload``.

``POST /budpipeline/webhooks/{id}/trigger`` is the official SDK's call ("trigger for testing",
body ``{"payload": {...}}``): an authenticated management call like every other route (Bearer key
when the server has one), verified by signature too when the caller sends the headers.
"""

from __future__ import annotations

import hmac
import json
import uuid
from typing import Any

from aiohttp import web

from budai_async.webhooks import WebhookVerificationError, generate_secret, verify
from budai_server.routes.context import scheduler_of, store_of
from budai_server.routes.errors import ApiError, json_response
from budai_server.routes.executions import PRIORITIES
from budai_server.routes.parse import MAX_NAME_LENGTH, Fields, QueryFields, read_empty_body, read_json_object
from budai_server.routes.trigger_wiring import (
    clock_of,
    install,
    loop_of,
    paged,
    paging,
    pipeline_ref,
    time_text,
)
from budai_server.triggers.launch import TriggerError, admit, build
from budai_server.triggers.webhook_store import WebhookRecord, WebhookStore, secret_hash

__all__ = ["PUBLIC_TRIGGER_PREFIX", "setup", "webhook_view"]

PUBLIC_TRIGGER_PREFIX = "/budpipeline/trigger/"
_CREATE_FIELDS = frozenset(
    {"pipeline_id", "workflow_id", "name", "description", "headers", "params", "priority", "tags"}
)
_SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_CHALLENGE = {"WWW-Authenticate": 'Signature realm="budai-webhook", headers="webhook-id webhook-timestamp"'}


def _store(request: web.Request) -> WebhookStore:
    return WebhookStore(store_of(request))


def trigger_url(request: web.Request, webhook_id: str) -> str:
    return f"{request.scheme}://{request.host}{PUBLIC_TRIGGER_PREFIX}{webhook_id}"


def webhook_view(request: web.Request, record: WebhookRecord) -> dict[str, Any]:
    """One webhook trigger as the official SDK's `Webhook` model reads it (never the secret)."""
    return {
        "id": record.id,
        "pipeline_id": record.pipeline_id,
        "workflow_id": record.pipeline_id,
        "name": record.name,
        "description": record.description,
        "url": trigger_url(request, record.id),
        "is_active": record.is_active,
        "secret_hash": secret_hash(record.secret),
        "headers": record.headers,
        "params": record.params,
        "priority": record.priority,
        "tags": record.tags,
        "last_triggered_at": time_text(record.last_triggered_at),
        "trigger_count": record.trigger_count,
        "created_at": time_text(record.created_at),
        "updated_at": time_text(record.updated_at),
    }


def _with_secret(request: web.Request, record: WebhookRecord, secret: str) -> dict[str, Any]:
    """The create / rotate answer: the official `WebhookSecret` fields plus the webhook itself."""
    return {"webhook_id": record.id, "secret": secret, **webhook_view(request, record)}


async def _load(request: web.Request) -> WebhookRecord:
    webhook_id = request.match_info["webhook_id"]
    record = await _store(request).get(webhook_id)
    if record is None:
        raise ApiError.not_found("webhook", webhook_id)
    return record


def _headers(fields: Fields) -> dict[str, str]:
    value = fields.obj("headers", nullable=True)
    if not isinstance(value, dict):
        return {}
    if len(value) > 20 or not all(isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()):
        fields.fail("headers", "must map up to 20 header names to string values", "type")
        return {}
    return {str(k).lower(): str(v) for k, v in value.items()}


async def create_webhook(request: web.Request) -> web.Response:
    fields = Fields(await read_json_object(request), allowed=_CREATE_FIELDS)
    pipeline_id = pipeline_ref(fields)
    name = fields.string("name", required=True, max_length=MAX_NAME_LENGTH)
    description = fields.string("description", nullable=True, non_empty=False, max_length=2000)
    headers = _headers(fields)
    params = fields.obj("params", nullable=True)
    priority = fields.choice("priority", PRIORITIES, str)
    tags = fields.tags()
    fields.check()
    if await store_of(request).get_pipeline(pipeline_id) is None:
        raise ApiError.not_found("pipeline", pipeline_id)
    now = clock_of(request).now()
    secret = generate_secret()
    record = WebhookRecord(
        id=f"whk_{uuid.uuid4().hex}",
        pipeline_id=pipeline_id,
        name=name,
        description=description if isinstance(description, str) else "",
        secret=secret,
        headers=headers,
        params=params if isinstance(params, dict) else {},
        priority=priority if isinstance(priority, str) else "normal",
        tags=tags if isinstance(tags, list) else [],
        created_at=now,
        updated_at=now,
    )
    await _store(request).insert(record)
    return json_response(_with_secret(request, record, secret), status=201)


async def list_webhooks(request: web.Request) -> web.Response:
    query = QueryFields(request.query)
    pipeline_id = query.string("pipeline_id") or query.string("workflow_id")
    limit, offset = paging(query)
    query.check()
    items, total = await _store(request).list(pipeline_id=pipeline_id, limit=limit, offset=offset)
    return json_response(paged([webhook_view(request, r) for r in items], total, limit, offset))


async def get_webhook(request: web.Request) -> web.Response:
    return json_response(webhook_view(request, await _load(request)))


async def delete_webhook(request: web.Request) -> web.Response:
    record = await _load(request)
    await _store(request).delete(record.id)
    return web.Response(status=204)


async def rotate_secret(request: web.Request) -> web.Response:
    """A new secret, shown once; the old one stops verifying immediately."""
    record = await _load(request)
    await read_empty_body(request)
    secret = generate_secret()
    now = clock_of(request).now()
    await _store(request).set_secret(record.id, secret, now)
    fresh = await _store(request).get(record.id) or record
    return json_response(_with_secret(request, fresh, secret))


def _check_signature(request: web.Request, record: WebhookRecord, raw: bytes) -> str:
    """Verify the Standard Webhooks headers and the expected headers; returns the message id."""
    try:
        verify(record.secret, request.headers, raw, now=clock_of(request).now().timestamp())
    except WebhookVerificationError as exc:
        raise ApiError(
            401,
            f"webhook signature refused: {exc}",
            code="invalid_signature",
            details={"reason": exc.reason},
            headers=_CHALLENGE,
        ) from exc
    for name, expected in record.headers.items():
        got = request.headers.get(name, "")
        if not hmac.compare_digest(got.encode(), expected.encode()):
            raise ApiError(
                401,
                f"expected header {name!r} is missing or wrong",
                code="invalid_signature",
                details={"reason": "header_mismatch", "header": name},
                headers=_CHALLENGE,
            )
    return request.headers["webhook-id"]


def _params_of(record: WebhookRecord, payload: Any) -> dict[str, Any]:
    if isinstance(payload, dict):
        return {**record.params, **payload}
    return {**record.params, "payload": payload}


async def _start(request: web.Request, record: WebhookRecord, message_id: str, payload: Any) -> web.Response:
    pipeline = await store_of(request).get_pipeline(record.pipeline_id)
    if pipeline is None:
        raise ApiError.not_found("pipeline", record.pipeline_id)
    scheduler = scheduler_of(request)
    try:
        launch = build(
            scheduler,
            loop_of(request).prepare,
            pipeline_id=pipeline.id,
            definition=pipeline.definition,
            params=_params_of(record, payload),
            priority=record.priority,
            tags=record.tags,
        )
    except TriggerError as exc:
        raise ApiError(
            422, f"the webhook could not start its pipeline: {exc.reason}", code="trigger_failed"
        ) from exc
    claim = await _store(request).claim(record.id, message_id, launch, clock_of(request).now())
    if claim.created:
        admit(scheduler, [launch])
    body = {
        "execution_id": claim.execution_id,
        "webhook_id": record.id,
        "message_id": message_id,
        "triggered_at": time_text(claim.received_at),
        "duplicate": not claim.created,
    }
    return json_response(body, status=202 if claim.created else 200)


def _decode(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"request body is not valid JSON: {exc}", code="invalid_json") from exc


async def inbound_trigger(request: web.Request) -> web.Response:
    """The public, signed trigger a sender calls."""
    record = await _load(request)
    raw = await request.read()
    message_id = _check_signature(request, record, raw)
    return await _start(request, record, message_id, _decode(raw))


async def sdk_trigger(request: web.Request) -> web.Response:
    """The official SDK's authenticated trigger; ``{"payload": ...}`` becomes the params."""
    record = await _load(request)
    raw = await request.read()
    if any(name in request.headers for name in _SIGNATURE_HEADERS):
        message_id = _check_signature(request, record, raw)
    else:
        message_id = request.headers.get("Idempotency-Key") or f"manual_{uuid.uuid4().hex}"
    body = _decode(raw)
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object", code="invalid_json")
    fields = Fields(body, allowed=("payload",))
    payload = fields.obj("payload", nullable=True)
    fields.check()
    return await _start(request, record, message_id, payload if isinstance(payload, dict) else {})


def setup(app: web.Application) -> None:
    install(app)
    base = "/budpipeline/webhooks"
    app.router.add_post(base, create_webhook)
    app.router.add_get(base, list_webhooks)
    app.router.add_get(base + "/{webhook_id}", get_webhook)
    app.router.add_delete(base + "/{webhook_id}", delete_webhook)
    app.router.add_post(base + "/{webhook_id}/rotate-secret", rotate_secret)
    app.router.add_post(base + "/{webhook_id}/trigger", sdk_trigger)
    app.router.add_post(PUBLIC_TRIGGER_PREFIX + "{webhook_id}", inbound_trigger)
