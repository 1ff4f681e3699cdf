"""Liveness, readiness and Prometheus metrics.

`/health` answers while the process serves HTTP (and needs no API key); `/ready` also checks that
the database answers and the scheduler admits executions (503 otherwise, e.g. during shutdown);
`/metrics` is the Prometheus text exposition.
"""

from __future__ import annotations

import sqlite3

from aiohttp import web

from budai_server.metrics import METRICS
from budai_server.routes.context import scheduler_of, store_of
from budai_server.routes.errors import json_response

__all__ = ["setup"]

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


async def health(_request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    checks: dict[str, str] = {}
    try:
        await store_of(request).ping()
        checks["store"] = "ok"
    except (sqlite3.Error, RuntimeError, ValueError) as exc:
        checks["store"] = f"error: {exc}"
    checks["scheduler"] = "ok" if scheduler_of(request).accepting else "not accepting executions"
    ok = all(value == "ok" for value in checks.values())
    return json_response(
        {"status": "ready" if ok else "not_ready", "checks": checks}, status=200 if ok else 503
    )


async def metrics(request: web.Request) -> web.Response:
    scheduler = scheduler_of(request)
    text = request.app[METRICS].render(
        executions_by_status=await store_of(request).count_executions_by_status(),
        queue_depth=scheduler.queue_depth,
        running=scheduler.running_count,
        max_concurrent=scheduler.max_concurrent,
    )
    return web.Response(text=text, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})


def setup(app: web.Application) -> None:
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics)
