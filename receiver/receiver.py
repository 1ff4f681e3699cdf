"""`Receiver`: the configured webhook receiver users build, decorate with handlers, and serve.

Serve it alone with ``receiver.create_app()`` (or the ``budai-receiver`` command), or mount it into
an existing aiohttp app with ``receiver.setup(app, path="/webhooks")``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar, overload

from aiohttp import web

from budai_async.webhooks import DEFAULT_TOLERANCE_SECONDS, WebhookVerificationError, decode_secret
from receiver.app import Runtime
from receiver.dispatch import Dispatcher, DispatchSettings
from receiver.handlers import ErrorHook, HandlerFunc, Handlers
from receiver.metrics import Metrics
from receiver.stores import SQLiteStore, Store, store_from_url

__all__ = ["DEFAULT_STORE_PATH", "Receiver"]

DEFAULT_STORE_PATH = "budai-receiver.sqlite3"
F = TypeVar("F", bound=HandlerFunc)
H = TypeVar("H", bound=ErrorHook)


def _check_secrets(secrets: str | Sequence[str]) -> tuple[str, ...]:
    found = tuple(s for s in ([secrets] if isinstance(secrets, str) else secrets) if s)
    if not found:
        raise ValueError("Receiver refuses to start without a webhook secret (whsec_...)")
    for secret in found:
        try:
            decode_secret(secret)
        except WebhookVerificationError as exc:
            raise ValueError(f"malformed webhook secret: {exc}") from None
    return found


class Receiver:
    """Verifies, deduplicates, stores and dispatches signed BudAI callbacks to async handlers.

    `secrets` is one secret or several (all accepted, for rotation); `store` a `Store`, a store URL
    (``sqlite:///file.db``, ``redis://host:6379/0``) or None for ``sqlite:///budai-receiver.sqlite3``.
    Raises ValueError without a secret or with a malformed one.
    """

    def __init__(
        self,
        secrets: str | Sequence[str],
        *,
        store: Store | str | None = None,
        handlers: Handlers | None = None,
        tolerance: float = DEFAULT_TOLERANCE_SECONDS,
        max_body_bytes: int = 1024 * 1024,
        queue_limit: int = 1024,
        workers: int = 16,
        handler_retries: int = 5,
        retry_base_delay: float = 1.0,
        retry_max_delay: float = 300.0,
        handler_timeout: float | None = 300.0,
        shutdown_timeout: float = 10.0,
        poll_interval: float = 1.0,
        retry_after: int = 5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.secrets = _check_secrets(secrets)
        for name, value in (
            ("queue_limit", queue_limit),
            ("workers", workers),
            ("max_body_bytes", max_body_bytes),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1")
        if handler_retries < 0:
            raise ValueError("handler_retries must be >= 0")
        if store is None:
            store = SQLiteStore(DEFAULT_STORE_PATH)
        self.store = store_from_url(store) if isinstance(store, str) else store
        self.handlers = handlers if handlers is not None else Handlers()
        self.tolerance = tolerance
        self.max_body_bytes = max_body_bytes
        self.retry_after = retry_after
        self.shutdown_timeout = shutdown_timeout
        self.clock = clock
        self.settings = DispatchSettings(
            workers=workers,
            queue_limit=queue_limit,
            handler_retries=handler_retries,
            retry_base_delay=retry_base_delay,
            retry_max_delay=retry_max_delay,
            handler_timeout=handler_timeout,
            poll_interval=poll_interval,
            retention_seconds=self.store.retention_seconds,
        )
        self.metrics = Metrics()
        self.runtime: Runtime | None = None

    # -- handler registration (forwarded to `handlers`) ------------------------------------------

    def on(self, *patterns: str, name: str | None = None) -> Callable[[F], F]:
        """Decorator: handle events whose type matches an fnmatch pattern, e.g. ``"execution.*"``."""
        return self.handlers.on(*patterns, name=name)

    @overload
    def on_complete(self, func: F, *, name: str | None = None) -> F: ...
    @overload
    def on_complete(self, func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
    def on_complete(self, func: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Decorator: handle ``execution.completed`` events."""
        return self.handlers.on_complete(func, name=name)

    @overload
    def on_failure(self, func: F, *, name: str | None = None) -> F: ...
    @overload
    def on_failure(self, func: None = None, *, name: str | None = None) -> Callable[[F], F]: ...
    def on_failure(self, func: F | None = None, *, name: str | None = None) -> F | Callable[[F], F]:
        """Decorator: handle ``execution.failed`` events."""
        return self.handlers.on_failure(func, name=name)

    def on_error(self, func: H) -> H:
        """Decorator: ``async def hook(event, failure)`` runs when a handler used up its retries."""
        return self.handlers.on_error(func)

    # -- serving ---------------------------------------------------------------------------------

    def create_app(self, *, path: str = "/webhooks") -> web.Application:
        """Return a standalone aiohttp app: POST `path`, and ``/healthz``, ``/readyz``, ``/metrics``."""
        app = web.Application(client_max_size=self.max_body_bytes)
        self.setup(app, path=path, ops_prefix="")
        return app

    def setup(self, app: web.Application, *, path: str = "/webhooks", ops_prefix: str | None = None) -> None:
        """Mount into an existing app: POST `path` (with or without a trailing slash) plus health,
        readiness and metrics routes.

        The ops routes go under `ops_prefix` (default: `path`, e.g. ``/webhooks/healthz``). The
        store opens and the dispatcher starts in the app's cleanup_ctx, so they follow its lifetime.
        A receiver serves one app at a time; raises RuntimeError if it is already set up.
        """
        if self.runtime is not None and self.runtime.state not in ("stopped",):
            raise RuntimeError("this Receiver is already set up in an app")
        path = "/" + path.strip("/")
        prefix = (path if ops_prefix is None else "/" + ops_prefix.strip("/")).rstrip("/")
        runtime = Runtime(
            secrets=self.secrets,
            store=self.store,
            dispatcher=Dispatcher(self.store, self.handlers, self.metrics, self.settings),
            metrics=self.metrics,
            tolerance=self.tolerance,
            max_body_bytes=self.max_body_bytes,
            retry_after=self.retry_after,
            shutdown_timeout=self.shutdown_timeout,
            clock=self.clock,
        )
        app.router.add_post(path, runtime.handle_callback)
        if path != "/":  # a callback URL written with the trailing slash must not 404 for days
            app.router.add_post(path + "/", runtime.handle_callback)
        app.router.add_get(f"{prefix}/healthz", runtime.handle_health)
        app.router.add_get(f"{prefix}/readyz", runtime.handle_ready)
        app.router.add_get(f"{prefix}/metrics", runtime.handle_metrics)
        app.on_shutdown.append(runtime.on_shutdown)
        app.cleanup_ctx.append(runtime.lifecycle)
        self.runtime = runtime
