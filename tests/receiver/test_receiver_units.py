"""Pure parts of the receiver, by tables: retry timing, handler matching, event parsing, metrics."""

from __future__ import annotations

import math

import pytest

from receiver import CallbackEvent, Handlers, MalformedEvent, parse_event
from receiver.metrics import Histogram, Metrics
from receiver.policy import retry_delay, should_retry


@pytest.mark.parametrize(
    ("attempt", "jitter", "expected"),
    [
        (1, 0.0, 0.5),
        (1, 0.999999, 1.0),
        (2, 0.0, 1.0),
        (3, 0.5, 3.0),
        (5, 0.0, 8.0),
        (10, 0.0, 30.0),
        (10_000, 0.0, 30.0),
    ],
)
def test_retry_delay(attempt: int, jitter: float, expected: float) -> None:
    assert math.isclose(retry_delay(attempt, base=1.0, cap=60.0, jitter=jitter), expected, rel_tol=1e-5)


@pytest.mark.parametrize(("attempt", "jitter"), [(0, 0.5), (1, -0.1), (1, 1.0)])
def test_retry_delay_rejects(attempt: int, jitter: float) -> None:
    with pytest.raises(ValueError):
        retry_delay(attempt, base=1.0, cap=60.0, jitter=jitter)


@pytest.mark.parametrize(
    ("attempt", "retries", "expected"),
    [(1, 0, False), (1, 1, True), (2, 1, False), (3, 5, True), (6, 5, False)],
)
def test_should_retry(attempt: int, retries: int, expected: bool) -> None:
    assert should_retry(attempt, retries) is expected


def _registry() -> Handlers:
    handlers = Handlers()

    async def noop(event: CallbackEvent) -> None:
        return None

    handlers.on_complete(noop, name="complete")
    handlers.on_failure(name="failure")(noop)
    handlers.on("execution.*", name="all")(noop)
    handlers.on("*.failed", "pipeline.?eleted", name="odd")(noop)
    return handlers


@pytest.mark.parametrize(
    ("event_type", "names"),
    [
        ("execution.completed", ["complete", "all"]),
        ("execution.failed", ["failure", "all", "odd"]),
        ("execution.cancelled", ["all"]),
        ("pipeline.deleted", ["odd"]),
        ("Execution.completed", []),
        ("execution", []),
    ],
)
def test_handler_matching(event_type: str, names: list[str]) -> None:
    assert [r.name for r in _registry().matching(event_type)] == names


def test_handler_registration_rules() -> None:
    handlers = Handlers()

    def sync_handler(event: CallbackEvent) -> None:
        return None

    async def handler(event: CallbackEvent) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        handlers.on_complete(sync_handler)  # type: ignore[type-var]
    handlers.on_complete(handler)
    assert [r.name for r in handlers.registrations] == [
        f"{__name__}.test_handler_registration_rules.<locals>.handler"
    ]
    with pytest.raises(ValueError, match="already registered"):
        handlers.on_failure(handler)
    with pytest.raises(ValueError):
        handlers.add(handler, name="no patterns")
    other = Handlers()
    other.on("x", name="x")(handler)
    handlers.include(other)
    assert len(handlers) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"nope", "not valid JSON"),
        (b"null", "JSON object"),
        (b'{"execution_id": "e"}', "`type`"),
        (b'{"type": "", "execution_id": "e"}', "`type`"),
        (b'{"type": "t", "execution_id": 7}', "`execution_id`"),
        (b'{"type": "t", "execution_id": "e", "params": 3}', "$.params"),
        (b'{"type": "t", "execution_id": "e", "duration_seconds": "slow"}', "$.duration_seconds"),
    ],
)
def test_parse_event_rejects(body: bytes, message: str) -> None:
    with pytest.raises(MalformedEvent, match=message.replace("$", r"\$")):
        parse_event(body)


def test_parse_event_fills_status_and_ignores_unknown_keys() -> None:
    event = parse_event(
        b'{"type": "execution.failed", "execution_id": "e", "new_field": 1, "duration_seconds": 2}'
    )
    assert (event.status, event.duration_seconds, event.outputs, event.tags) == ("failed", 2.0, {}, [])
    other = parse_event(b'{"type": "execution.cancelled", "execution_id": "e", "status": "cancelled"}')
    assert other.status == "cancelled"


def test_histogram_buckets_are_cumulative() -> None:
    histogram = Histogram((0.01, 0.1))
    for value in (0.005, 0.01, 0.05, 2.0):
        histogram.observe(value)
    assert histogram.render("h")[1:4] == [
        'h_bucket{le="0.01"} 2',
        'h_bucket{le="0.1"} 3',
        'h_bucket{le="+Inf"} 4',
    ]
    assert histogram.render("h")[-1] == "h_count 4"


def test_metrics_text_has_types_for_every_family() -> None:
    metrics = Metrics()
    metrics.rejected["bad_signature"] += 2
    text = metrics.render(queue_depth=3, in_flight=1, ready=False)
    assert 'budai_receiver_rejected_total{reason="bad_signature"} 2' in text
    assert "budai_receiver_queue_depth 3" in text and "budai_receiver_ready 0" in text
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    samples = {line.split("{")[0].split()[0] for line in text.splitlines() if not line.startswith("#")}
    assert {
        s.removesuffix("_bucket").removesuffix("_sum").removesuffix("_count") for s in samples
    } <= families


def test_metrics_parse_as_prometheus_text_with_process_and_gc_families() -> None:
    from prometheus_client.parser import text_string_to_metric_families

    metrics = Metrics()
    metrics.received = 4
    metrics.rejected["bad_signature"] += 1
    metrics.ack_latency.observe(0.003)
    families = {
        f.name: f
        for f in text_string_to_metric_families(metrics.render(queue_depth=2, in_flight=1, ready=True))
    }
    assert families["budai_receiver_received"].samples[0].value == 4
    assert families["budai_receiver_ack_latency_seconds"].type == "histogram"
    assert {"python_gc_objects_collected", "python_info", "process_cpu_seconds"} <= set(families)
