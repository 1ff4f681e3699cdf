"""OpenTelemetry client spans against the real server: one CLIENT span per attempt, `traceparent`
received by the server, the caller's span as parent, retries counted; nothing when OpenTelemetry is
not loaded. Spans are collected by the SDK's in-memory exporter."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp import web
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import budai_async._client as client_module
from budai_async import AsyncBudClient, InternalServerError
from budai_async._tracing import tracing_active
from budai_server.config import FaultConfig


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A real tracer provider for this test only (the global one can be set once per process)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    yield memory
    provider.shutdown()


@pytest.fixture
async def traced_server(aiohttp_server: Any, server_config: Any) -> Any:
    from budai_server.app import create_app

    seen: list[str | None] = []

    async def start(**overrides: Any) -> tuple[str, list[str | None]]:
        import attrs

        @web.middleware
        async def observe(request: web.Request, handler: Any) -> web.StreamResponse:
            seen.append(request.headers.get("traceparent"))
            return await handler(request)

        app = create_app(attrs.evolve(server_config, **overrides))
        app.middlewares.insert(0, observe)
        server = await aiohttp_server(app)
        return str(server.make_url("")).rstrip("/"), seen

    return start


async def test_one_client_span_per_call_and_traceparent_sent(
    exporter: InMemorySpanExporter, traced_server: Any, make_client: Any
) -> None:
    url, seen = await traced_server()
    client: AsyncBudClient = make_client(url)
    tracer = trace.get_tracer_provider().get_tracer("test")
    with tracer.start_as_current_span("job") as parent:
        await client.pipelines.list()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    span = spans["GET"]
    assert span.kind is trace.SpanKind.CLIENT
    assert span.parent is not None and span.parent.span_id == parent.get_span_context().span_id
    assert span.context.trace_id == parent.get_span_context().trace_id
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert span.attributes["url.full"] == f"{url}/budpipeline"
    assert str(span.attributes["budai.request_id"]).startswith("req_")
    flags = int(span.context.trace_flags)
    assert flags & 1  # sampled
    assert seen == [f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-{flags:02x}"]


async def test_each_retry_is_a_span_with_its_resend_count(
    exporter: InMemorySpanExporter, traced_server: Any, make_client: Any
) -> None:
    url, seen = await traced_server(faults=FaultConfig(error_503_rate=1.0, methods=("GET",), seed=1))
    client: AsyncBudClient = make_client(url, max_retries=2)
    with pytest.raises(InternalServerError):
        await client.pipelines.list()
    spans = [s for s in exporter.get_finished_spans() if s.name == "GET"]
    assert len(spans) == 3 == len(set(seen))
    assert [s.attributes.get("http.request.resend_count") for s in spans if s.attributes] == [None, 1, 2]
    assert all(s.status.status_code is trace.StatusCode.ERROR for s in spans)
    assert len({s.attributes["budai.request_id"] for s in spans if s.attributes}) == 1


async def test_nothing_is_built_without_a_provider_or_without_opentelemetry(
    bud_client: AsyncBudClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not tracing_active()  # OpenTelemetry is loaded, but no provider was installed

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("TracingSender built while tracing is off")

    monkeypatch.setattr(client_module, "TracingSender", refuse)
    await bud_client.pipelines.list()
    monkeypatch.delitem(sys.modules, "opentelemetry.trace")
    assert not tracing_active()
    await bud_client.pipelines.list()
