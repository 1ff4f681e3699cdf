"""The receiver as a gunicorn app factory: several aiohttp worker processes sharing one Redis store.

    BUDAI_WEBHOOK_SECRET=whsec_... BUDAI_RECEIVER_STORE=redis://redis:6379/0 \\
    BUDAI_RECEIVER_HANDLERS=myapp.hooks:handlers \\
    gunicorn receiver.gunicorn:create_app --worker-class aiohttp.GunicornWebWorker \\
        --workers 4 --bind 0.0.0.0:8090 --graceful-timeout 15

Each worker builds its own `Receiver` from the environment. On Redis the workers share claims and
leases, so a delivery reaching any of them is handled once and a dead worker's events move to the
others. On SQLite run one worker: a database file serves one process. See docs/receiver.md.
"""

from __future__ import annotations

import importlib
import os

from aiohttp import web

from receiver.handlers import Handlers
from receiver.receiver import Receiver

__all__ = ["create_app", "handlers_from"]

DEFAULT_STORE = "sqlite:///budai-receiver.sqlite3"


def handlers_from(specs: str) -> Handlers:
    """The handlers named by space-separated ``module:attribute`` specs (a `Handlers` or a `Receiver`)."""
    handlers = Handlers()
    for spec in specs.split():
        module_name, sep, attr = spec.partition(":")
        if not sep or not module_name or not attr:
            raise ValueError(f"BUDAI_RECEIVER_HANDLERS: {spec!r} is not module:attribute")
        target: object = importlib.import_module(module_name)
        for part in attr.split("."):
            target = getattr(target, part)
        if isinstance(target, Receiver):
            target = target.handlers
        if not isinstance(target, Handlers):
            raise ValueError(f"BUDAI_RECEIVER_HANDLERS: {spec} is not a Handlers or a Receiver")
        handlers.include(target)
    return handlers


async def create_app() -> web.Application:
    """One worker's app, from BUDAI_WEBHOOK_SECRET, BUDAI_RECEIVER_STORE and BUDAI_RECEIVER_HANDLERS."""
    secrets = os.environ.get("BUDAI_WEBHOOK_SECRET", "").split()
    if not secrets:
        raise RuntimeError("set BUDAI_WEBHOOK_SECRET (the server's webhook secret; several: space-separated)")
    receiver = Receiver(
        secrets,
        store=os.environ.get("BUDAI_RECEIVER_STORE", DEFAULT_STORE),
        handlers=handlers_from(os.environ.get("BUDAI_RECEIVER_HANDLERS", "")),
    )
    return receiver.create_app(path=os.environ.get("BUDAI_RECEIVER_PATH", "/webhooks"))
