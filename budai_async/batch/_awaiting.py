"""`as_completed` and `wait_all`: many executions awaited over one status subscription.

Both take executions or ids. `as_completed` yields each execution once, as it ends (ones already
ended when passed in come first, without a request); `wait_all` returns them all, ended, in input
order. Neither polls: one websocket (or, on servers without it, long-polls of up to 1,000 ids) carries
every status change.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Iterable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, Union, cast

from budai_async.batch._watch import StatusWatch, WatchMethod, WatchOptions
from budai_async.errors import TimeoutError, ValidationError
from budai_async.models import Execution

if TYPE_CHECKING:
    from budai_async._requester import Requester

__all__ = ["ClientLike", "ExecutionRef", "ExecutionStream", "as_completed", "wait_all"]

ExecutionRef = Execution | str


class HoldsRequester(Protocol):
    """A resource such as `client.executions`: it holds the client it calls."""

    @property
    def _client(self) -> Requester: ...


ClientLike = Union["Requester", HoldsRequester]
"""The client itself or one of its resources (duck-typed: this package never imports either)."""


def client_of(target: ClientLike) -> Requester:
    """The client behind `client.executions` (or the client itself)."""
    return cast("Requester", getattr(target, "_client", target))


def _split(executions: Iterable[ExecutionRef]) -> tuple[list[str], list[Execution]]:
    """Ids in input order (first occurrence) and the executions that have already ended."""
    ids: list[str] = []
    ended: list[Execution] = []
    seen: set[str] = set()
    for item in executions:
        if isinstance(item, Execution):
            execution_id = item.id
            if item.is_terminal and execution_id not in seen:
                ended.append(item)
        elif isinstance(item, str) and item:
            execution_id = item
        else:
            raise ValidationError(f"expected an Execution or an execution id, got {item!r}")
        if execution_id not in seen:
            seen.add(execution_id)
            ids.append(execution_id)
    return ids, ended


class ExecutionStream:
    """Executions as they end: an async iterator and an async context manager.

    ``async with client.executions.as_completed(executions) as stream: async for e in stream: ...``
    Iteration ends once every execution was yielded. Leaving the ``async with`` early, `aclose()`,
    or cancelling the task closes the subscription's socket; a plain ``async for`` that runs to the
    end closes it too. Raises budai_async.TimeoutError when `timeout` passes with executions still
    running (they keep running), NotFoundError for an unknown id.
    """

    def __init__(
        self,
        client: Requester,
        executions: Iterable[ExecutionRef],
        *,
        timeout: float | None = None,
        method: WatchMethod = "auto",
        options: WatchOptions | None = None,
    ) -> None:
        if timeout is not None and timeout <= 0:
            raise ValidationError(f"timeout must be > 0 seconds, got {timeout!r}")
        ids, ended = _split(executions)
        self._ended = ended
        ended_ids = {execution.id for execution in ended}
        self._waiting = [i for i in ids if i not in ended_ids]
        self._timeout = timeout
        self._deadline: float | None = None
        self._watch = StatusWatch(client, method=method, options=options)
        self._started = False
        self._remaining = len(ids)

    async def __aenter__(self) -> ExecutionStream:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> ExecutionStream:
        return self

    @property
    def remaining(self) -> int:
        """Executions not yielded yet."""
        return self._remaining

    async def __anext__(self) -> Execution:
        try:
            execution = await self._next()
        except BaseException:
            await self.aclose()
            raise
        if execution is None:
            await self.aclose()
            raise StopAsyncIteration
        self._remaining -= 1
        return execution

    async def _next(self) -> Execution | None:
        if self._ended:
            return self._ended.pop(0)
        if not self._started:
            self._started = True
            if self._timeout is not None:
                self._deadline = asyncio.get_running_loop().time() + self._timeout
            await self._watch.add(self._waiting)
            self._watch.finish_adding()
        if self._deadline is None:
            return await self._watch.next()
        left = self._deadline - asyncio.get_running_loop().time()
        try:
            async with asyncio.timeout(max(left, 0.0)):
                return await self._watch.next()
        except builtins.TimeoutError as error:
            raise TimeoutError(
                f"{self._watch.pending} execution(s) did not end within {self._timeout:g} s; "
                "they are still running on the server"
            ) from error

    async def aclose(self) -> None:
        """Close the subscription (idempotent)."""
        await self._watch.aclose()


def as_completed(
    target: ClientLike,
    executions: Iterable[ExecutionRef],
    *,
    timeout: float | None = None,
    method: WatchMethod = "auto",
    options: WatchOptions | None = None,
) -> ExecutionStream:
    """Yield each of `executions` (Execution objects or ids) once, as it ends; see `ExecutionStream`."""
    return ExecutionStream(client_of(target), executions, timeout=timeout, method=method, options=options)


async def wait_all(
    target: ClientLike,
    executions: Iterable[ExecutionRef],
    *,
    timeout: float | None = None,  # noqa: ASYNC109 - the guide's wait deadline
    method: WatchMethod = "auto",
    options: WatchOptions | None = None,
) -> list[Execution]:
    """Wait until every execution has ended; return them in input order (duplicates kept).

    Raises budai_async.TimeoutError after `timeout` seconds (the executions keep running),
    NotFoundError for an unknown id.
    """
    refs: list[Any] = list(executions)
    final: dict[str, Execution] = {}
    async with as_completed(target, refs, timeout=timeout, method=method, options=options) as stream:
        async for execution in stream:
            final[execution.id] = execution
    return [final[ref.id if isinstance(ref, Execution) else ref] for ref in refs]
