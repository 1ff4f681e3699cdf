"""Counters and one latency histogram, rendered as Prometheus text for ``GET /metrics``.

The counters are plain integers the request handler and the dispatcher increment (no lock on the
hot path, unlike prometheus_client's metric objects); the text is built at scrape time. The
process and garbage-collector families come from prometheus_client's own collectors.
"""

from __future__ import annotations

import bisect
from collections import Counter

from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

__all__ = ["Metrics"]

_PREFIX = "budai_receiver"
_PROCESS = CollectorRegistry()
ProcessCollector(registry=_PROCESS)
GCCollector(registry=_PROCESS)
PlatformCollector(registry=_PROCESS)
#: Acknowledgement latency buckets in seconds.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Histogram:
    """A cumulative Prometheus histogram with fixed buckets."""

    def __init__(self, buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.count += 1

    def render(self, name: str) -> list[str]:
        lines = [f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound}"}} {cumulative}')
        lines.append(f'{name}_bucket{{le="+Inf"}} {self.count}')
        lines.append(f"{name}_sum {self.total:.6f}")
        lines.append(f"{name}_count {self.count}")
        return lines


class Metrics:
    """Everything ``/metrics`` reports; the app and the dispatcher increment the fields directly."""

    def __init__(self) -> None:
        self.received = 0
        self.duplicates = 0
        self.rejected: Counter[str] = Counter()
        self.dispatched = 0
        self.dead_lettered = 0
        self.handler_failures = 0
        self.recovered = 0
        self.ack_latency = Histogram()

    def render(self, *, queue_depth: int, in_flight: int, ready: bool) -> str:
        """Return the Prometheus text exposition of every metric."""
        lines: list[str] = []

        def counter(name: str, help_text: str, value: int) -> None:
            lines.extend(
                [
                    f"# HELP {_PREFIX}_{name} {help_text}",
                    f"# TYPE {_PREFIX}_{name} counter",
                    f"{_PREFIX}_{name} {value}",
                ]
            )

        def gauge(name: str, help_text: str, value: int) -> None:
            lines.extend(
                [
                    f"# HELP {_PREFIX}_{name} {help_text}",
                    f"# TYPE {_PREFIX}_{name} gauge",
                    f"{_PREFIX}_{name} {value}",
                ]
            )

        counter("received_total", "New callbacks stored and acknowledged (202).", self.received)
        counter("duplicates_total", "Callbacks whose webhook-id was already stored (200).", self.duplicates)
        lines.append(f"# HELP {_PREFIX}_rejected_total Callbacks refused, by reason.")
        lines.append(f"# TYPE {_PREFIX}_rejected_total counter")
        for reason, value in sorted(self.rejected.items()):
            lines.append(f'{_PREFIX}_rejected_total{{reason="{reason}"}} {value}')
        counter("dispatched_total", "Events whose handlers all succeeded.", self.dispatched)
        counter(
            "dead_letters_total",
            "Events dead-lettered after a handler used up its retries.",
            self.dead_lettered,
        )
        counter(
            "handler_failures_total", "Failed handler attempts (each retry counts).", self.handler_failures
        )
        counter(
            "recovered_total",
            "Pending events taken from the store (restart, lease expiry, replay).",
            self.recovered,
        )
        gauge("queue_depth", "Events waiting for a dispatch worker.", queue_depth)
        gauge("in_flight", "Events being dispatched now.", in_flight)
        gauge("ready", "1 while accepting callbacks, 0 while starting or draining.", int(ready))
        lines.append(f"# HELP {_PREFIX}_ack_latency_seconds Time from request to acknowledgement.")
        lines.extend(self.ack_latency.render(f"{_PREFIX}_ack_latency_seconds"))
        return "\n".join(lines) + "\n" + generate_latest(_PROCESS).decode()
