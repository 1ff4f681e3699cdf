"""Built-in actions that talk HTTP: api_call and notification (over the server's one session)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from yarl import URL

from budai_async.pipeline.action_specs import BUILTIN_SPECS
from budai_server.actions.registry import ActionContext, ActionError, ActionRegistry
from budai_server.outbound import OutboundError, OutboundRefused, fetch
from budai_server.outbound.policy import DEFAULT_MAX_RESPONSE_BYTES

__all__ = ["MAX_RESPONSE_BYTES", "register"]

MAX_RESPONSE_BYTES = DEFAULT_MAX_RESPONSE_BYTES  # the default; --outbound-max-response-bytes sets it
_RETRYABLE_4XX = frozenset({408, 425, 429})
_SEVERITY_LEVEL = {"info": "info", "warning": "warning", "error": "error", "critical": "error"}


def _url(raw: str) -> URL:
    try:
        url = URL(raw)
    except (TypeError, ValueError) as exc:
        raise ActionError(f"invalid URL {raw!r}: {exc}", retryable=False) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise ActionError(f"URL must be absolute http(s), got {raw!r}", retryable=False)
    return url


async def _request(
    ctx: ActionContext,
    method: str,
    raw_url: str,
    *,
    headers: dict[str, str] | None,
    body: Any,
    timeout_seconds: float,
) -> dict[str, Any]:
    """Send one request through the outbound policy (`budai_server.outbound`); non-2xx raises
    ActionError (4xx other than 408/425/429 not retryable), so does a refused destination."""
    if ctx.http is None:
        raise ActionError("no HTTP session is configured for this server", retryable=False)
    url = _url(raw_url)
    try:
        reply = await fetch(
            ctx.http,
            method,
            url,
            policy=ctx.settings.outbound,
            timeout_seconds=timeout_seconds,
            headers=headers,
            data=body if isinstance(body, str) else None,
            json=body if not isinstance(body, str) else None,
        )
    except OutboundRefused as exc:
        raise ActionError(str(exc), retryable=False) from None
    except OutboundError as exc:
        raise ActionError(str(exc), retryable=exc.retryable) from None
    status, content_type = reply.status, reply.content_type
    text = reply.body.decode(reply.charset or "utf-8", errors="replace")
    parsed: Any = text
    if content_type == "application/json" or content_type.endswith("+json"):
        try:
            parsed = json.loads(text) if text else None
        except (ValueError, RecursionError):
            parsed = text
    if not 200 <= status < 300:
        retryable = status >= 500 or status in _RETRYABLE_4XX
        snippet = text[:200]
        raise ActionError(f"{method} {url} answered HTTP {status}: {snippet}", retryable=retryable)
    return {"status_code": status, "body": parsed, "headers": reply.headers}


async def api_call(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """Make the request; the output carries status, parsed body and headers."""
    return await _request(
        ctx,
        params["method"],
        params["url"],
        headers=params.get("headers"),
        body=params.get("body"),
        timeout_seconds=float(params.get("timeout_seconds") or ctx.settings.http_timeout_seconds),
    )


async def notification(params: dict[str, Any], ctx: ActionContext) -> dict[str, Any]:
    """POST the notification to the step's `url` or the server's notification URL, else log it."""
    notification_id = f"notif_{uuid.uuid4().hex[:12]}"
    channel, severity = params["channel"], params["severity"]
    title, message = params.get("title"), str(params["message"])
    url = params.get("url") or ctx.settings.notification_url
    if not url:
        heading = f"{title}: " if title else ""
        ctx.log.emit(_SEVERITY_LEVEL[severity], f"[{channel}] {heading}{message}")
        # Documented behaviour (docs/engine.md): logged, not delivered; say so where people look.
        ctx.log.warning(
            f"notification {notification_id} was NOT sent to {channel}: the step has no url and the "
            "server no --notification-url (sent: false, delivery: log)"
        )
        return {"sent": False, "notification_id": notification_id, "channel": channel, "delivery": "log"}
    body = {
        "notification_id": notification_id,
        "channel": channel,
        "severity": severity,
        "title": title,
        "message": message,
        "recipients": params.get("recipients") or [],
        "execution_id": ctx.execution_id,
        "step_id": ctx.step_id,
        "text": f"{title}\n{message}" if title else message,  # Slack / Teams incoming webhooks read `text`
    }
    await _request(
        ctx, "POST", url, headers=None, body=body, timeout_seconds=ctx.settings.http_timeout_seconds
    )
    ctx.log.info(f"notification {notification_id} sent to {channel} webhook")
    return {"sent": True, "notification_id": notification_id, "channel": channel, "delivery": "webhook"}


def register(registry: ActionRegistry) -> None:
    registry.register(BUILTIN_SPECS["api_call"], api_call)
    registry.register(BUILTIN_SPECS["notification"], notification)
