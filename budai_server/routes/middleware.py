"""Request middlewares: API-key auth, fault injection, and `Idempotency-Key` replay.

Order (outermost first, see app.py): errors -> faults -> auth -> idempotency -> handler.

Idempotency (docs/server.md): a POST carrying `Idempotency-Key` is scoped to its method and path.
The first successful (2xx) answer is stored in SQLite with a fingerprint of the body (canonical
JSON); a later request with the same key and route gets that exact status and body back (header
`Idempotent-Replayed: true`) and creates nothing. The same key with a different body is refused
with 422 `idempotency_key_reused`; while the first request is still being handled, a second one
gets 409 `idempotency_key_in_progress`. Handlers that create rows store the key in the same
transaction (see `idempotency_record`), so a crash cannot leave a row without its key.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
from aiohttp import web

from budai_server.config import FaultConfig
from budai_server.routes.errors import ApiError, Handler, dump_json, error_body, json_response
from budai_server.store.database import IdempotencyRecord, Store

__all__ = [
    "IDEMPOTENCY",
    "IdempotencyScope",
    "idempotency_record",
    "make_auth_middleware",
    "make_fault_middleware",
    "make_idempotency_middleware",
]

MAX_KEY_LENGTH = 255
PUBLIC_PATHS = frozenset({"/health", "/openapi.json"})
# Inbound webhook triggers carry a Standard Webhooks signature instead of the API key.
PUBLIC_PREFIXES = ("/budpipeline/trigger/",)


@attrs.frozen(kw_only=True)
class IdempotencyScope:
    key: str
    route: str
    fingerprint: str


IDEMPOTENCY: web.RequestKey[IdempotencyScope] = web.RequestKey("budai_idempotency", IdempotencyScope)
_RECORDED: web.RequestKey[bool] = web.RequestKey("budai_idempotency_recorded", bool)


def make_auth_middleware(api_key: str) -> Any:
    """Require `Authorization: Bearer <api_key>` on every route but PUBLIC_PATHS (constant-time compare)."""
    expected = api_key.encode()

    @web.middleware
    async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS or request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode(), expected):
            message = "missing Authorization header" if not header else "invalid API key"
            raise ApiError(
                401,
                f"{message}; send 'Authorization: Bearer <api key>'",
                details={"header": "Authorization"},
                headers={"WWW-Authenticate": 'Bearer realm="budai"'},
            )
        return await handler(request)

    return auth_middleware


def make_fault_middleware(faults: FaultConfig) -> Any:
    """Inject 503s, 429s and dropped connections on matching routes (seeded, for retry tests)."""
    rng = random.Random(faults.seed)
    methods = {method.upper() for method in faults.methods}

    def matches(request: web.Request) -> bool:
        return request.method in methods and any(fnmatch.fnmatchcase(request.path, p) for p in faults.routes)

    @web.middleware
    async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not matches(request):
            return await handler(request)
        draw = rng.random()
        edge = faults.error_503_rate
        if draw < edge:
            body = error_body("unavailable", "injected fault: service unavailable", {"injected": True})
            return json_response(body, status=503)
        edge += faults.error_429_rate
        if draw < edge:
            retry_after = f"{faults.retry_after_seconds:g}"
            body = error_body("rate_limited", "injected fault: too many requests", {"injected": True})
            return json_response(body, status=429, headers={"Retry-After": retry_after})
        edge += faults.drop_rate
        if draw < edge:
            _drop(request)
        response = await handler(request)
        edge += faults.drop_after_rate
        if draw < edge:
            _drop(request)
        return response

    return fault_middleware


def _drop(request: web.Request) -> None:
    """Close the connection without an answer (the client sees a disconnect)."""
    if request.transport is not None:
        request.transport.close()
    raise web.HTTPServiceUnavailable(text="connection dropped by fault injection")


def _fingerprint(raw: bytes) -> str:
    """Hash of the body, insensitive to JSON key order and whitespace."""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, RecursionError):  # the handler answers why; too deep is refused there
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


def make_idempotency_middleware(store_of: Callable[[web.Request], Store]) -> Any:
    """Replay stored answers for repeated `Idempotency-Key`s on POST (see the module docstring)."""
    in_flight: set[tuple[str, str]] = set()

    @web.middleware
    async def idempotency_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or key is None:
            return await handler(request)
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise ApiError(
                400,
                f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
                details=[{"path": "Idempotency-Key", "message": "invalid header value", "code": "invalid"}],
            )
        route = f"{request.method} {request.path}"
        fingerprint = _fingerprint(await request.read())
        store = store_of(request)
        stored = await store.get_idempotency(key, route)
        if stored is not None:
            return _replay(stored, fingerprint)
        if (key, route) in in_flight:
            raise ApiError(
                409,
                "a request with this Idempotency-Key is still being processed; retry later",
                code="idempotency_key_in_progress",
                headers={"Retry-After": "1"},
            )
        in_flight.add((key, route))
        try:
            request[IDEMPOTENCY] = IdempotencyScope(key=key, route=route, fingerprint=fingerprint)
            response = await handler(request)
            if (
                200 <= response.status < 300
                and not request.get(_RECORDED)
                and isinstance(response, web.Response)
            ):
                body = response.text or ""
                await store.save_idempotency(
                    IdempotencyRecord(
                        key=key,
                        route=route,
                        fingerprint=fingerprint,
                        status=response.status,
                        body=body,
                        created_at=datetime.now(UTC),
                    )
                )
            return response
        finally:
            in_flight.discard((key, route))

    return idempotency_middleware


def _replay(stored: IdempotencyRecord, fingerprint: str) -> web.Response:
    if stored.fingerprint != fingerprint:
        raise ApiError(
            422,
            "this Idempotency-Key was already used with a different request body",
            code="idempotency_key_reused",
            details=[
                {
                    "path": "Idempotency-Key",
                    "message": "key reused with a different body; use a new key for a new request",
                    "code": "idempotency_key_reused",
                }
            ],
        )
    headers = {"Idempotent-Replayed": "true"}
    if not stored.body:
        return web.Response(status=stored.status, headers=headers)
    return web.Response(
        text=stored.body, status=stored.status, content_type="application/json", headers=headers
    )


def idempotency_record(request: web.Request, status: int) -> Callable[[Any], IdempotencyRecord] | None:
    """For handlers that create rows: a builder of the key's record, stored in the same transaction.

    Call it only when about to answer `status` with ``dump_json(render(row))``; the middleware
    then does not store the key again. Returns None when the request has no key.
    """
    scope = request.get(IDEMPOTENCY)
    if scope is None:
        return None
    request[_RECORDED] = True

    def build(body: Any) -> IdempotencyRecord:
        return IdempotencyRecord(
            key=scope.key,
            route=scope.route,
            fingerprint=scope.fingerprint,
            status=status,
            body=dump_json(body),
            created_at=datetime.now(UTC),
        )

    return build
