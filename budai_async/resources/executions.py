"""`client.executions`: start, read, list, wait for, cancel and retry executions.

Kept to the single-execution calls; fan-out (`create_many`, `wait_all`, `as_completed`) lives in
`budai_async.batch._fanout`, and log reading in `budai_async.logs._reader` (reached through `logs()` here).
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal, overload

from budai_async._convert import format_datetime
from budai_async._http import TimeoutLike
from budai_async._polling import (
    LONG_POLL_MAX_SECONDS,
    advertised_maximum,
    fallback_poll_delay,
    long_poll_seconds,
    server_ignored_wait,
)
from budai_async.errors import APIStatusError, TimeoutError, UnprocessableEntityError, ValidationError
from budai_async.models import Execution, LogEntry, Page
from budai_async.pagination import AsyncPager
from budai_async.resources._base import (
    DefinitionLike,
    Resource,
    definition_dict,
    parse,
    read_execution,
    read_execution_page,
    segment,
    unsupported,
)
from budai_async.types import ExecutionStatusLike, PriorityLike, SortField, SortOrder

if TYPE_CHECKING:
    from budai_async.batch import _fanout as _batch
    from budai_async.logs._reader import FollowOptions, LogStream, SinceLike

__all__ = ["DateLike", "ExecutionsResource"]

DateLike = str | date | datetime
_LONG_POLL_MARGIN_SECONDS = 10.0


def _date_text(value: DateLike, name: str) -> str:
    """Query text for a date filter: strings as given, dates as ISO days, datetimes in UTC (naive = UTC)."""
    if isinstance(value, datetime):
        return format_datetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value:
        return value
    raise ValidationError(f"{name} must be a date, a datetime or an ISO string, got {value!r}")


def _run_options(
    *,
    params: Mapping[str, Any] | None,
    priority: PriorityLike | None,
    callbacks: Mapping[str, str] | None,
    tags: Sequence[str] | None,
    timeout_seconds: float | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"params": dict(params or {})}
    if priority is not None:
        body["priority"] = str(priority)
    if callbacks is not None:
        body["callbacks"] = dict(callbacks)
    if tags is not None:
        if isinstance(tags, str):
            raise ValidationError("tags must be a list of strings, not one string")
        body["tags"] = builtins.list(tags)
    if timeout_seconds is not None:
        body["timeout_seconds"] = timeout_seconds
    return body


def _check_wait(wait: bool, timeout: float | None) -> None:
    if timeout is not None and not wait:
        raise ValidationError(
            "timeout= is how long wait=True waits; pass wait=True, or timeout_seconds= for the "
            "server-side execution limit, or client.with_options(timeout=...) for HTTP timeouts"
        )
    if timeout is not None and timeout <= 0:
        raise ValidationError(f"timeout must be > 0 seconds, got {timeout!r}")


class ExecutionsResource(Resource):
    """Executions (``/budpipeline/executions`` and ``/budpipeline/{id}/execute``)."""

    # Longest `?wait=` to ask for: our default, lowered to the server's limit once it names it.
    _wait_cap: float = LONG_POLL_MAX_SECONDS

    async def create(
        self,
        pipeline_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        wait: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - the guide's wait deadline
        priority: PriorityLike | None = None,
        callbacks: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        timeout_seconds: float | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Start a pipeline; with ``wait=True`` return it once it has ended.

        `timeout` is how long ``wait=True`` waits on this side: past it, budai_async.TimeoutError
        (a builtin TimeoutError too) is raised with `execution_id`, and the execution keeps running.
        `timeout_seconds` is the server-side limit after which the server stops the execution.
        Retried attempts reuse one Idempotency-Key, so the server starts the run once.
        Raises NotFoundError for an unknown pipeline, UnprocessableEntityError for bad params.
        """
        _check_wait(wait, timeout)
        body = _run_options(
            params=params, priority=priority, callbacks=callbacks, tags=tags, timeout_seconds=timeout_seconds
        )
        path = f"/budpipeline/{segment(pipeline_id, 'pipeline_id')}/execute"
        execution = await self._client.request(
            "POST", path, json_body=body, idempotency_key=idempotency_key, decode=read_execution
        )
        return await self._finish(execution, wait=wait, deadline_in=timeout)

    async def run_ephemeral(
        self,
        pipeline_definition: DefinitionLike,
        *,
        params: Mapping[str, Any] | None = None,
        wait: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - the guide's wait deadline
        priority: PriorityLike | None = None,
        callbacks: Mapping[str, str] | None = None,
        tags: Sequence[str] | None = None,
        timeout_seconds: float | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Run a definition without storing it (`pipeline_id` is None); same options as `create`."""
        _check_wait(wait, timeout)
        body = _run_options(
            params=params, priority=priority, callbacks=callbacks, tags=tags, timeout_seconds=timeout_seconds
        )
        body["pipeline_definition"] = definition_dict(pipeline_definition, "pipeline_definition")
        execution = await self._client.request(
            "POST", "/budpipeline/run", json_body=body, idempotency_key=idempotency_key, decode=read_execution
        )
        return await self._finish(execution, wait=wait, deadline_in=timeout)

    async def get(self, execution_id: str) -> Execution:
        """One execution with its steps, outputs and metrics; raises NotFoundError."""
        path = self._path(execution_id)
        execution: Execution = await self._client.request("GET", path, decode=read_execution)
        return execution

    def list(
        self,
        *,
        pipeline_id: str | None = None,
        status: ExecutionStatusLike | Sequence[ExecutionStatusLike] | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        tags: Sequence[str] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        sort_by: SortField | None = None,
        sort_order: SortOrder | None = None,
    ) -> AsyncPager[Execution]:
        """Executions matching every filter given (tags: all of them); await for a page, iterate for all."""
        query: builtins.list[tuple[str, str]] = []
        if pipeline_id is not None:
            query.append(("pipeline_id", pipeline_id))
        if status is not None:
            statuses = [status] if isinstance(status, str) else builtins.list(status)
            query.extend(("status", str(item)) for item in statuses)
        if created_after is not None:
            query.append(("created_after", _date_text(created_after, "created_after")))
        if created_before is not None:
            query.append(("created_before", _date_text(created_before, "created_before")))
        if tags is not None:
            if isinstance(tags, str):
                raise ValidationError("tags must be a list of strings, not one string")
            query.extend(("tags", tag) for tag in tags)
        if sort_by is not None:
            query.append(("sort_by", sort_by))
        if sort_order is not None:
            query.append(("sort_order", sort_order))
        return AsyncPager(self._fetch_page, query, limit=limit, offset=offset)

    async def _fetch_page(self, query: builtins.list[tuple[str, str]]) -> Page[Execution]:
        page: Page[Execution] = await self._client.request(
            "GET", "/budpipeline/executions", params=query, decode=read_execution_page
        )
        return page

    async def cancel(self, execution_id: str) -> Execution:
        """Cancel a pending or running execution; raises ConflictError if it had already ended."""
        try:
            execution: Execution = await self._client.request(
                "POST", f"{self._path(execution_id)}/cancel", decode=read_execution
            )
        except APIStatusError as error:
            raise unsupported(error, "executions.cancel") from error
        return execution

    async def retry(
        self,
        execution_id: str,
        *,
        params: Mapping[str, Any] | None = None,
        wait: bool = False,
        timeout: float | None = None,  # noqa: ASYNC109 - the guide's wait deadline
        idempotency_key: str | None = None,
    ) -> Execution:
        """Start a new execution of the same pipeline (`retry_of` set).

        `params` are merged over the original params (only the keys that change need sending); a key
        given as None is removed from the retry. No `params`: the original ones.
        """
        _check_wait(wait, timeout)
        body: dict[str, Any] = {} if params is None else {"params": dict(params)}
        try:
            execution = await self._client.request(
                "POST",
                f"{self._path(execution_id)}/retry",
                json_body=body,
                idempotency_key=idempotency_key,
                decode=read_execution,
            )
        except APIStatusError as error:
            raise unsupported(error, "executions.retry") from error
        return await self._finish(execution, wait=wait, deadline_in=timeout)

    async def progress(self, execution_id: str) -> Execution:
        """The execution from the progress view (per-step states and step counts)."""
        return parse(await self._client.request("GET", f"{self._path(execution_id)}/progress"), Execution)

    async def wait(
        self,
        execution_id: str,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the guide's wait deadline
    ) -> Execution:
        """Wait until the execution ends and return it, using the server's long-poll.

        Raises budai_async.TimeoutError after `timeout` seconds (None: no limit); the execution
        keeps running. On a server without long-poll it falls back to polling with backoff.
        """
        _check_wait(True, timeout)
        return await self._wait_from(None, execution_id, timeout)

    async def delete(self, execution_id: str) -> None:
        """Delete an ended execution with its logs and callback deliveries.

        Raises ConflictError (409 ``execution_not_finished``) while it is pending or running (cancel
        it first) and NotFoundError when it does not exist.
        """
        try:
            await self._client.request("DELETE", self._path(execution_id), missing_ok_after_retry=True)
        except APIStatusError as error:
            raise unsupported(error, "executions.delete") from error

    async def delete_many(
        self,
        *,
        pipeline_id: str | None = None,
        status: str | Sequence[str] | None = None,
        created_after: DateLike | None = None,
        created_before: DateLike | None = None,
        tags: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> int:
        """Delete every ended execution matching all the filters given; return how many went.

        At least one filter is required (nothing is deleted by accident); pending and running
        executions are never deleted, and `status` may name only ended ones. Their logs and
        callback deliveries go with them. With `dry_run`, only count. The guide's advice, "Delete
        old executions to save storage": ``delete_many(created_before=date.today() - timedelta(30))``.
        """
        body: dict[str, Any] = {}
        if pipeline_id is not None:
            body["pipeline_id"] = pipeline_id
        if status is not None:
            body["status"] = [status] if isinstance(status, str) else [str(item) for item in status]
        if created_after is not None:
            body["created_after"] = _date_text(created_after, "created_after")
        if created_before is not None:
            body["created_before"] = _date_text(created_before, "created_before")
        if tags is not None:
            if isinstance(tags, str):
                raise ValidationError("tags must be a list of strings, not one string")
            body["tags"] = builtins.list(tags)
        if not body:
            raise ValidationError(
                "delete_many needs at least one filter: "
                "pipeline_id, status, created_after, created_before or tags"
            )
        if dry_run:
            body["dry_run"] = True
        try:
            data = await self._client.request("POST", "/budpipeline/executions/delete", json_body=body)
        except APIStatusError as error:
            raise unsupported(error, "executions.delete_many") from error
        return int(data["deleted"]) if isinstance(data, Mapping) else 0

    # ------------------------------------------------------------------ hooks into other modules
    # Logs live in `budai_async.logs._reader` and fan-out in `budai_async.batch._fanout`; these methods only
    # delegate (imported on call, so websockets stay off the import path and no cycle forms).

    @overload
    def logs(
        self,
        execution_id: str,
        *,
        level: str | None = ...,
        step_id: str | None = ...,
        since: SinceLike | None = ...,
        follow: Literal[False] = ...,
        after_seq: int = ...,
        options: FollowOptions | None = ...,
    ) -> Awaitable[builtins.list[LogEntry]]: ...

    @overload
    def logs(
        self,
        execution_id: str,
        *,
        level: str | None = ...,
        step_id: str | None = ...,
        since: SinceLike | None = ...,
        follow: Literal[True],
        after_seq: int = ...,
        options: FollowOptions | None = ...,
    ) -> LogStream: ...

    @overload
    def logs(
        self,
        execution_id: str,
        *,
        level: str | None = ...,
        step_id: str | None = ...,
        since: SinceLike | None = ...,
        follow: bool,
        after_seq: int = ...,
        options: FollowOptions | None = ...,
    ) -> Awaitable[builtins.list[LogEntry]] | LogStream: ...

    def logs(
        self,
        execution_id: str,
        *,
        level: str | None = None,
        step_id: str | None = None,
        since: SinceLike | None = None,
        follow: bool = False,
        after_seq: int = 0,
        options: FollowOptions | None = None,
    ) -> Awaitable[builtins.list[LogEntry]] | LogStream:
        """Log lines of an execution: ``await`` for a list, or ``follow=True`` for a live stream.

        HOOK: implemented by `budai_async.logs._reader.execution_logs` (filters, resume, reconnects).
        """
        from budai_async.logs._reader import execution_logs

        client = self._client
        if follow:
            return execution_logs(
                client,
                execution_id,
                level=level,
                step_id=step_id,
                since=since,
                follow=True,
                after_seq=after_seq,
                options=options,
            )
        return execution_logs(
            client,
            execution_id,
            level=level,
            step_id=step_id,
            since=since,
            after_seq=after_seq,
            options=options,
        )

    if TYPE_CHECKING:  # the batch functions take this resource as their first argument
        create_many = _batch.create_many
        wait_all = _batch.wait_all
        as_completed = _batch.as_completed
    else:

        def create_many(self, *args: Any, **kwargs: Any) -> Any:
            """HOOK: `budai_async.batch._fanout.create_many` with this resource as the target."""
            from budai_async.batch._fanout import create_many

            return create_many(self, *args, **kwargs)

        def wait_all(self, *args: Any, **kwargs: Any) -> Any:
            """HOOK: `budai_async.batch._fanout.wait_all` with this resource as the target."""
            from budai_async.batch._fanout import wait_all

            return wait_all(self, *args, **kwargs)

        def as_completed(self, *args: Any, **kwargs: Any) -> Any:
            """HOOK: `budai_async.batch._fanout.as_completed` with this resource as the target."""
            from budai_async.batch._fanout import as_completed

            return as_completed(self, *args, **kwargs)

    # ------------------------------------------------------------------ waiting

    def _path(self, execution_id: str) -> str:
        return f"/budpipeline/executions/{segment(execution_id, 'execution_id')}"

    async def _finish(self, execution: Execution, *, wait: bool, deadline_in: float | None) -> Execution:
        if not wait or execution.status.is_terminal:
            return execution
        return await self._wait_from(execution, execution.id, deadline_in)

    async def _long_poll(self, execution_id: str, seconds: float, http_timeout: TimeoutLike) -> Execution:
        try:
            execution: Execution = await self._client.request(
                "GET",
                self._path(execution_id),
                params=[("wait", f"{seconds:g}")],
                timeout=http_timeout,
                decode=read_execution,
            )
        except UnprocessableEntityError as error:
            # A server whose `--long-poll-max-seconds` is below our chunk refuses it naming its
            # maximum: remember that for this client and ask again within it.
            maximum = advertised_maximum(error.details, "wait", seconds)
            if maximum is None:
                raise
            self._wait_cap = maximum
            execution = await self._client.request(
                "GET",
                self._path(execution_id),
                params=[("wait", f"{maximum:g}")],
                timeout=http_timeout,
                decode=read_execution,
            )
        return execution

    async def _wait_from(
        self, last: Execution | None, execution_id: str, deadline_in: float | None
    ) -> Execution:
        loop = asyncio.get_running_loop()
        deadline = None if deadline_in is None else loop.time() + deadline_in
        polls = 0
        while last is None or not last.status.is_terminal:
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                status = None if last is None else str(last.status)
                raise TimeoutError(
                    f"execution {execution_id} did not end within {deadline_in:g} s (last status: {status}); "
                    "it is still running on the server",
                    execution_id=execution_id,
                    last_status=status,
                )
            seconds = long_poll_seconds(remaining, max_chunk=self._wait_cap)
            http_timeout = self._client.timeout.with_read(seconds + _LONG_POLL_MARGIN_SECONDS)
            started = loop.time()
            current = await self._long_poll(execution_id, seconds, http_timeout)
            changed = last is None or current.status != last.status or current.progress != last.progress
            last = current
            if last.status.is_terminal:
                break
            if server_ignored_wait(requested=seconds, elapsed=loop.time() - started, changed=changed):
                pause = fallback_poll_delay(polls)
                polls += 1
                if deadline is not None:
                    pause = max(min(pause, deadline - loop.time()), 0.0)
                await asyncio.sleep(pause)
        return last
