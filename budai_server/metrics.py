"""Process metrics rendered in the Prometheus text exposition format (version 0.0.4).

A few counters and histograms kept in memory, plus gauges sampled at scrape time (executions by
status from the store, queue depth from the scheduler). The families are written here because
updating them is the hot path of every request and step: a plain dict update, with no lock, where
prometheus_client's metric objects take a lock per update; the text is only built at scrape time
(tests parse it with prometheus_client's parser). The process and garbage-collector families come
from prometheus_client's own collectors (`process_families`).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable, Mapping, Sequence

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["METRICS", "Counter", "Histogram", "Metrics", "process_families", "render_gauge"]

LabelValues = tuple[str, ...]

DURATION_BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
)


_PROCESS = CollectorRegistry()
ProcessCollector(registry=_PROCESS)
GCCollector(registry=_PROCESS)
PlatformCollector(registry=_PROCESS)


def process_families() -> str:
    """prometheus_client's process (CPU, memory, file descriptors), GC and Python families, as text."""
    return generate_latest(_PROCESS).decode()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{name}="{_escape(value)}"' for name, value in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


class Counter:
    """A monotonically increasing count per label set."""

    def __init__(self, name: str, help_text: str, label_names: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self.values: dict[LabelValues, float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for labels, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(self.label_names, labels)} {_number(value)}"


class Histogram:
    """Observations counted into cumulative buckets per label set."""

    def __init__(
        self,
        name: str,
        help_text: str,
        label_names: Sequence[str] = (),
        buckets: Sequence[float] = DURATION_BUCKETS,
    ) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(label_names)
        self.buckets = tuple(sorted(buckets))
        self._counts: dict[LabelValues, list[int]] = {}
        self._sums: dict[LabelValues, float] = {}

    def observe(self, value: float, *labels: str) -> None:
        counts = self._counts.get(labels)
        if counts is None:
            counts = self._counts[labels] = [0] * (len(self.buckets) + 1)
            self._sums[labels] = 0.0
        counts[bisect.bisect_left(self.buckets, value)] += 1
        self._sums[labels] += value

    def count(self, *labels: str) -> int:
        """How many observations a label set has (for tests and readiness views)."""
        return sum(self._counts.get(labels, ()))

    def render(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for labels, counts in sorted(self._counts.items()):
            cumulative = 0
            for bound, count in zip((*self.buckets, math.inf), counts, strict=True):
                cumulative += count
                le = f'le="{_number(bound)}"'
                yield f"{self.name}_bucket{_labels(self.label_names, labels, le)} {cumulative}"
            yield f"{self.name}_sum{_labels(self.label_names, labels)} {_number(self._sums[labels])}"
            yield f"{self.name}_count{_labels(self.label_names, labels)} {cumulative}"


def render_gauge(
    name: str, help_text: str, values: Mapping[LabelValues, float], label_names: Sequence[str] = ()
) -> Iterable[str]:
    """Render a gauge whose values were sampled just now."""
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} gauge"
    for labels, value in sorted(values.items()):
        yield f"{name}{_labels(label_names, labels)} {_number(value)}"


class Metrics:
    """The server's metric families; the scheduler and the HTTP middleware feed them."""

    def __init__(self) -> None:
        self.http_requests = Counter(
            "budai_http_requests_total", "HTTP requests answered.", ("method", "route", "status")
        )
        self.http_duration = Histogram(
            "budai_http_request_duration_seconds", "Time to answer an HTTP request.", ("method", "route")
        )
        self.executions_finished = Counter(
            "budai_executions_finished_total", "Executions that reached a final status.", ("status",)
        )
        self.execution_duration = Histogram(
            "budai_execution_duration_seconds", "Wall time from start to end of an execution.", ("status",)
        )
        self.step_duration = Histogram(
            "budai_step_duration_seconds",
            "Wall time of a finished step (all attempts).",
            ("action", "status"),
        )
        # Other parts' families (the callback outbox): each callable yields exposition lines.
        self.collectors: list[Callable[[], Iterable[str]]] = []

    def render(
        self,
        *,
        executions_by_status: Mapping[str, int],
        queue_depth: int,
        running: int,
        max_concurrent: int,
    ) -> str:
        """The whole exposition text, sampling the gauges from the given values."""
        statuses = dict.fromkeys(("pending", "running", "completed", "failed", "cancelled", "timeout"), 0)
        statuses.update(executions_by_status)
        lines: list[str] = []
        lines += render_gauge(
            "budai_executions",
            "Stored executions by status.",
            {(status,): count for status, count in statuses.items()},
            ("status",),
        )
        lines += render_gauge("budai_queue_depth", "Executions waiting for a run slot.", {(): queue_depth})
        lines += render_gauge("budai_running_executions", "Executions running now.", {(): running})
        lines += render_gauge(
            "budai_max_concurrent_executions", "Configured run slots.", {(): max_concurrent}
        )
        for family in (
            self.executions_finished,
            self.execution_duration,
            self.step_duration,
            self.http_requests,
            self.http_duration,
        ):
            lines += family.render()
        for collect in self.collectors:
            lines += collect()
        return "\n".join(lines) + "\n" + process_families()


METRICS: web.AppKey[Metrics] = web.AppKey("budai_metrics", Metrics)
