"""OpenTelemetry across the whole path, collected by the in-memory exporter: the SDK's client span
sends ``traceparent``; the real server continues it (request span, execution span, one span per step) and
puts it on the signed callback; the real receiver continues it into the handler. And nothing of it
when no tracer provider is installed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from budai_async import AsyncBudClient
from budai_server import tracing
from receiver import CallbackEvent, Receiver

SECRET = "whsec_ZTJlIHRlc3Qgc2VjcmV0IGZvciBjYWxsYmFja3MhIQ=="
DEFINITION = {
    "steps": [
        {"id": "hello", "action": "log", "params": {"message": "hi"}},
        {
            "id": "shout",
            "action": "transform",
            "params": {"input": "x", "operation": "uppercase"},
            "depends_on": ["hello"],
        },
    ]
}


class Spans(SpanProcessor):
    """The in-memory exporter's spans, and a way to wait until a span of some name has ended."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self._ended: set[str] = set()
        self._changed = asyncio.Event()

    def on_end(self, span: ReadableSpan) -> None:  # called on the event loop's thread
        self._ended.add(span.name)
        self._changed.set()

    async def ended(self, name: str) -> dict[str, ReadableSpan]:
        """Wait (20 s at most) until a span called `name` has ended; then all spans by name."""
        async with asyncio.timeout(20):
            while name not in self._ended:
                self._changed.clear()
                await self._changed.wait()
        return {span.name: span for span in self.exporter.get_finished_spans()}


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    """A real tracer provider for this test only (the global one can be set once per process)."""
    collected = Spans()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(collected.exporter))
    provider.add_span_processor(collected)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    yield collected
    provider.shutdown()


async def _start(
    aiohttp_server: Any, make_bud_server: Any, tmp_path: Path, handled: asyncio.Queue[Any]
) -> tuple[str, str, Receiver]:
    """The receiver app (its handler records the span it runs in) and the server; their URLs."""
    receiver = Receiver(SECRET, store=f"sqlite:///{tmp_path}/rx.db")

    @receiver.on_complete
    async def done(event: CallbackEvent) -> None:
        tracer = trace.get_tracer_provider().get_tracer("test-handler")
        with tracer.start_as_current_span("handler work") as span:
            handled.put_nowait((event, span.get_span_context()))

    hook: TestServer = await aiohttp_server(receiver.create_app(path="/hook"))
    server: TestServer = await make_bud_server(
        webhook_secret=SECRET, callback_retry_schedule=(0.0, 0.05, 0.1), callback_jitter=0.0
    )
    return str(server.make_url("")).rstrip("/"), str(hook.make_url("/hook")), receiver


async def test_one_trace_from_client_to_server_steps_callback_and_handler(
    spans: Spans, aiohttp_server: Any, make_bud_server: Any, tmp_path: Path
) -> None:
    handled: asyncio.Queue[Any] = asyncio.Queue()
    url, hook, _receiver = await _start(aiohttp_server, make_bud_server, tmp_path, handled)
    tracer = trace.get_tracer_provider().get_tracer("test-app")
    async with AsyncBudClient(base_url=url, api_key="unused", max_retries=0) as client:
        with tracer.start_as_current_span("app work"):
            created = await client.executions.run_ephemeral(DEFINITION, callbacks={"on_complete": hook})
        execution_id = created.id
    event, handler_context = await asyncio.wait_for(handled.get(), 20)
    assert event.execution_id == execution_id
    by_name = await spans.ended("callback execution.completed")
    app, client = by_name["app work"], by_name["POST"]
    assert client.kind == trace.SpanKind.CLIENT  # the SDK's span for the one attempt
    request = by_name["POST /budpipeline/run"]
    execution = by_name["execution"]
    consumer = by_name["callback execution.completed"]
    assert request.kind == trace.SpanKind.SERVER and request.attributes is not None
    assert request.attributes["http.response.status_code"] == 201
    assert execution.attributes is not None and execution.attributes["budai.execution_id"] == execution_id
    assert consumer.kind == trace.SpanKind.CONSUMER
    parent_of = {
        "POST": app,
        "POST /budpipeline/run": client,
        "execution": request,
        "step hello": execution,
        "step shout": execution,
        "callback execution.completed": execution,
        "handler work": consumer,
    }
    trace_id = app.context.trace_id
    for name, parent in parent_of.items():
        span = by_name[name]
        assert span.context.trace_id == trace_id, name
        assert span.parent is not None and span.parent.span_id == parent.context.span_id, name
    assert handler_context.trace_id == trace_id
    step = by_name["step shout"]
    assert step.attributes is not None and step.attributes["budai.action"] == "transform"
    assert step.start_time is not None and step.end_time is not None and step.start_time <= step.end_time
    hello = by_name["step hello"]
    assert hello.end_time is not None and step.start_time >= hello.end_time  # shout depends on hello


async def test_without_a_provider_nothing_is_traced_or_sent(
    aiohttp_server: Any, make_bud_server: Any, tmp_path: Path
) -> None:
    assert not tracing.tracing_active()
    seen: asyncio.Queue[dict[str, str]] = asyncio.Queue()

    async def hook_handler(request: web.Request) -> web.Response:
        seen.put_nowait(dict(request.headers))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook_handler)
    hook = await aiohttp_server(app)
    server: TestServer = await make_bud_server(webhook_secret=SECRET, callback_jitter=0.0)
    assert tracing.middleware not in server.app.middlewares
    url = str(server.make_url("")).rstrip("/")
    body = {"pipeline_definition": DEFINITION, "callbacks": {"on_complete": str(hook.make_url("/hook"))}}
    async with aiohttp.ClientSession() as session:
        headers = {"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
        async with session.post(f"{url}/budpipeline/run", json=body, headers=headers) as response:
            assert response.status == 201
        callback = await asyncio.wait_for(seen.get(), 20)
    assert "webhook-signature" in {name.lower() for name in callback}
    assert "traceparent" not in {name.lower() for name in callback}


def test_importing_the_server_and_receiver_does_not_load_opentelemetry() -> None:
    code = (
        "import sys, budai_server.app, budai_server.tracing, receiver, receiver.tracing; "
        "loaded = [m for m in sys.modules if m.startswith('opentelemetry')]; "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
