"""The private event loop of a `BudClient`: one asyncio loop running forever on a daemon thread.

Blocking calls hand a coroutine to that loop with `asyncio.run_coroutine_threadsafe` and wait for
its answer, so any number of threads can share one client (and its connection pool) while every
socket stays on the one loop that opened it. Calling from inside a running event loop is refused:
it would block that loop for the whole request, and async code has `AsyncBudClient` for that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar, cast

from budai_async.errors import BudError

__all__ = ["EventLoopError", "LoopThread", "refuse_running_loop"]

T = TypeVar("T")
Cleanup = Callable[[], Awaitable[None]]
_log = logging.getLogger("budai_async")
_SHUTDOWN_SECONDS = 30.0


class EventLoopError(BudError, RuntimeError):
    """A blocking `BudClient` call was made inside a running event loop (use `AsyncBudClient`)."""


def refuse_running_loop() -> None:
    """Raise EventLoopError when the calling thread runs an event loop (ours included)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise EventLoopError(
        "BudClient blocks until each call is answered, so it cannot be called inside a running "
        "event loop (it would stall every other task of that loop). In async code use "
        "AsyncBudClient: `async with AsyncBudClient() as client: await client.executions.create(...)`"
    )


class _Call:
    """One blocking call: started on the loop, awaited by the caller on `done` (released at the end)."""

    __slots__ = ("cancelled", "done", "error", "result", "task")

    def __init__(self) -> None:
        self.done = threading.Lock()
        self.done.acquire()
        self.task: asyncio.Task[Any] | None = None
        self.result: Any = None
        self.error: BaseException | None = None
        self.cancelled = False

    def start(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> None:
        if self.cancelled:
            coro.close()
            self.error = asyncio.CancelledError()
            self.done.release()
            return
        self.task = loop.create_task(coro)
        self.task.add_done_callback(self._finish)

    def _finish(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            self.error = BudError("the call was cancelled because its BudClient was closed")
        else:
            self.error = task.exception()
            if self.error is None:
                self.result = task.result()
        self.done.release()

    def cancel(self) -> None:
        """Called on the loop when the waiting caller was interrupted."""
        self.cancelled = True
        if self.task is not None:
            self.task.cancel()

    def outcome(self) -> Any:
        if self.error is not None:
            error, self.error = self.error, None  # no reference cycle through the traceback
            raise error
        return self.result


class LoopThread:
    """An event loop on its own daemon thread; `run(coro)` blocks the caller until `coro` is done."""

    def __init__(self, name: str = "budai-sync-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    @property
    def closed(self) -> bool:
        return self._closed

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self._thread.ident

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the loop; raises BudError (and closes `coro`) once the client is closed."""
        with self._lock:  # a close() cannot slip between the check and the hand-over
            if self._closed:
                coro.close()
                raise BudError("this BudClient is closed; create a new one")
            return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run `coro` on the loop and return its result (or raise its exception) in this thread.

        Raises EventLoopError when called inside a running event loop. An interrupt while waiting
        (Ctrl-C) cancels the call on the loop before it propagates. The hand-over is a task plus a
        lock the task's done-callback releases: about a third less CPU per call than
        `run_coroutine_threadsafe` with its concurrent Future (docs/benchmarks.md).
        """
        try:
            refuse_running_loop()
        except EventLoopError:
            coro.close()
            raise
        call = _Call()
        with self._lock:  # a close() cannot slip between the check and the hand-over
            if self._closed:
                coro.close()
                raise BudError("this BudClient is closed; create a new one")
            self._loop.call_soon_threadsafe(call.start, self._loop, coro)
        try:
            call.done.acquire()
        except BaseException:
            self._loop.call_soon_threadsafe(call.cancel)
            raise
        return cast(T, call.outcome())

    def close(self, cleanup: Cleanup | None = None) -> None:
        """Run `cleanup` on the loop, cancel whatever still runs there, stop the loop, join the thread.

        Idempotent. From the loop's own thread (a finaliser run by the garbage collector there) the
        same shutdown is scheduled instead of awaited, since the thread cannot join itself.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self.in_loop_thread():
            self._loop.create_task(self._shutdown(cleanup))
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(cleanup), self._loop)
        with contextlib.suppress(concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            future.result(timeout=_SHUTDOWN_SECONDS)
        if self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop already stopped and closed itself
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(_SHUTDOWN_SECONDS)

    async def _shutdown(self, cleanup: Cleanup | None) -> None:
        try:
            if cleanup is not None:
                try:
                    await cleanup()
                except Exception:
                    _log.warning("closing the BudClient's connections failed", exc_info=True)
            current = asyncio.current_task()
            others = [task for task in asyncio.all_tasks() if task is not current]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)
            await self._loop.shutdown_asyncgens()
            await self._loop.shutdown_default_executor()
        finally:
            self._loop.call_soon(self._loop.stop)
