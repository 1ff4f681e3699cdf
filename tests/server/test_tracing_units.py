"""budai_server.tracing without HTTP: exact span times, failed executions, the bounded callback map."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from budai_async.models import Execution, ExecutionStatus, StepRun, StepStatus
from budai_server.tracing import ExecutionTraces, _nanos


@pytest.fixture
def exporter(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    yield memory
    provider.shutdown()


def test_nanos_are_exact_and_take_any_offset() -> None:
    assert _nanos(None) is None
    assert _nanos(datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC)) == 1000
    utc = datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert _nanos(utc) == 1_767_268_800_123_456_000
    assert _nanos(utc.astimezone(timezone(timedelta(hours=5)))) == _nanos(utc)
    assert _nanos(utc.replace(tzinfo=None)) == _nanos(utc)


def _run(traces: ExecutionTraces, execution_id: str) -> None:
    execution = Execution(id=execution_id, status=ExecutionStatus.RUNNING)
    token = traces.started(execution)
    traces.detach(token)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    failed = StepRun(
        status=StepStatus.FAILED, error="boom", started_at=start, completed_at=start + timedelta(seconds=2)
    )
    traces.step_finished(execution_id, "s1", "fail", failed)


async def test_failed_execution_and_step_are_error_spans_and_old_contexts_are_dropped(
    exporter: InMemorySpanExporter,
) -> None:
    traces = ExecutionTraces(limit=2)
    for n in range(3):
        _run(traces, f"exec_{n}")
        ended = Execution(id=f"exec_{n}", status=ExecutionStatus.FAILED, error="x")
        await traces.finished(ended)
    assert traces.callback_headers("exec_0") == {}  # beyond the limit of 2
    newest = traces.callback_headers("exec_2")["traceparent"]
    spans = exporter.get_finished_spans()
    executions = {
        s.attributes["budai.execution_id"]: s for s in spans if s.name == "execution" and s.attributes
    }
    execution = executions["exec_2"]
    assert newest.startswith(f"00-{execution.context.trace_id:032x}-{execution.context.span_id:016x}-")
    assert execution.status.status_code is trace.StatusCode.ERROR
    step = next(s for s in spans if s.name == "step s1")
    assert step.status.status_code is trace.StatusCode.ERROR and step.status.description == "boom"
    assert step.end_time is not None and step.start_time is not None
    assert step.end_time - step.start_time == 2_000_000_000
    assert traces.callback_headers("exec_unknown") == {}
