"""Cheap, real resource measurements of one execution inside a shared event loop.

`cpu_seconds`: the event-loop thread's CPU time (``time.thread_time``) spent inside this execution's
own coroutines — the runner's loop and every step attempt, including the synchronous part of the
actions and of the step reports — measured around each resumption of those coroutines, so other
executions interleaved on the same loop are not counted. Work done by other threads on the
execution's behalf (the SQLite writer thread, DNS resolution) and time spent waiting are not counted.

`peak_memory_mb`: the highest resident set size (RSS) of the whole server process, in MiB, sampled
when the execution starts, before and after each step attempt, and when it ends. Python cannot
attribute heap memory to one of many coroutines sharing a process without tracing every allocation
(tracemalloc costs several times the run time), so this is the process's footprint while the
execution ran — an upper bound of what the execution itself needed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Coroutine, Generator
from typing import Any, Generic, TypeVar

__all__ = ["Meter", "metered", "rss_bytes"]

T = TypeVar("T")

_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


_statm: tuple[int, int] | None = None  # (pid, fd) of an open /proc/self/statm


def _statm_fd() -> int:
    """An fd on this process's /proc statm, opened once per process (re-read with pread)."""
    global _statm
    pid = os.getpid()
    if _statm is None or _statm[0] != pid:
        _statm = (pid, os.open(f"/proc/{pid}/statm", os.O_RDONLY))
    return _statm[1]


def rss_bytes() -> int:
    """The process's current resident set size (Linux ``/proc``), else its peak from getrusage."""
    try:
        return int(os.pread(_statm_fd(), 128, 0).split()[1]) * _PAGE_SIZE
    except (OSError, ValueError, IndexError, AttributeError):
        try:
            import resource

            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        except (ImportError, OSError):
            return 0
        return peak if peak > 1 << 32 else peak * 1024  # macOS reports bytes, Linux KiB


class Meter:
    """Accumulates CPU seconds and the peak RSS of one execution."""

    __slots__ = ("cpu_seconds", "peak_rss_bytes")

    def __init__(self) -> None:
        self.cpu_seconds = 0.0
        self.peak_rss_bytes = 0

    def sample_memory(self) -> None:
        rss = rss_bytes()
        if rss > self.peak_rss_bytes:
            self.peak_rss_bytes = rss

    @property
    def peak_memory_mb(self) -> float:
        return round(self.peak_rss_bytes / (1024 * 1024), 3)


class _Metered(Generic[T]):
    """Drive a coroutine step by step, adding the thread CPU time of each step to a meter."""

    __slots__ = ("_coro", "_meter")

    def __init__(self, coro: Coroutine[Any, Any, T], meter: Meter) -> None:
        self._coro = coro
        self._meter = meter

    def __await__(self) -> Generator[Any, Any, T]:
        coro, meter, clock = self._coro, self._meter, time.thread_time
        value: Any = None
        error: BaseException | None = None
        while True:
            started = clock()
            try:
                yielded = coro.send(value) if error is None else coro.throw(error)
            except StopIteration as stop:
                meter.cpu_seconds += clock() - started
                return stop.value  # type: ignore[no-any-return]
            except BaseException:
                meter.cpu_seconds += clock() - started
                raise
            meter.cpu_seconds += clock() - started
            value, error = None, None
            try:
                value = yield yielded
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # cancellation and thrown errors go on to the coroutine
                error = exc


async def metered(coro: Coroutine[Any, Any, T], meter: Meter) -> T:
    """Await `coro`, charging the CPU it uses to `meter` (wrap a task's coroutine with this)."""
    return await _Metered(coro, meter)
