"""`BudClient`, the blocking twin, against the real server: same resources, models and errors.

The server runs on its own thread (`threaded_server`), since a `BudClient` refuses to run inside an
event loop; these tests are plain functions.
"""

from __future__ import annotations

import asyncio
import builtins
import copy
import inspect
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from budai_async import (
    APIResponse,
    AsyncBudClient,
    BatchResult,
    BudClient,
    BudError,
    EventLoopError,
    Execution,
    LogEntry,
    NotFoundError,
    PageList,
    Pipeline,
    Schedule,
    SyncPager,
    SyncStream,
    TimeoutError,
    UnprocessableEntityError,
)
from budai_async.models import Page
from budai_async.pagination import AsyncPager
from budai_async.resources._base import Resource, parse_page

SyncClientFactory = Callable[..., BudClient]
LOG_ONLY = {"steps": [{"id": "hello", "action": "log", "params": {"message": "hi"}}]}
SLOW = {"steps": [{"id": "nap", "action": "delay", "params": {"seconds": 30}}]}


def test_same_resources_models_and_errors(sync_client: BudClient) -> None:
    pipeline = sync_client.pipelines.create(name="sync", definition=LOG_ONLY, description="d")
    assert isinstance(pipeline, Pipeline)
    assert sync_client.pipelines.get(pipeline.id) == pipeline
    execution = sync_client.executions.create(pipeline.id, wait=True, timeout=30)
    assert isinstance(execution, Execution)
    assert execution.status == "completed"
    assert sync_client.actions.get("log").type == "log"
    with pytest.raises(NotFoundError):
        sync_client.pipelines.get("pipe_missing")
    with pytest.raises(UnprocessableEntityError):
        sync_client.pipelines.create(name="bad", definition={"steps": [{"id": "x", "action": "nope"}]})
    sync_client.pipelines.delete(pipeline.id)
    with pytest.raises(NotFoundError):
        sync_client.pipelines.get(pipeline.id)


def test_methods_keep_the_async_signature_and_doc(sync_client: BudClient) -> None:
    create = sync_client.executions.create
    async_create = AsyncBudClient(base_url="http://127.0.0.1:1").executions.create
    assert inspect.signature(create) == inspect.signature(async_create)
    assert create.__doc__ == async_create.__doc__


def test_list_walks_every_page_and_len_counts_what_it_walks(sync_client: BudClient) -> None:
    for n in range(5):
        sync_client.pipelines.create(name=f"p{n}", definition=LOG_ONLY)
    pager = sync_client.pipelines.list(limit=2)
    assert isinstance(pager, SyncPager)
    names = [pipeline.name for pipeline in pager]
    assert sorted(names) == [f"p{n}" for n in range(5)]
    assert len(pager) == 5  # every page, as iterated (the guide's success rate relies on it)
    assert [p.name for p in pager] == names and pager[0].name == names[0]
    page = sync_client.pipelines.list(limit=2).first_page()
    assert isinstance(page, PageList)
    assert (len(page), page.total) == (2, 5)
    assert [len(p) for p in sync_client.pipelines.list(limit=2).pages()] == [2, 2, 1]
    fresh = sync_client.pipelines.list(name_contains="p3")
    assert len(fresh) == 1 and bool(fresh)


def test_len_before_iterating_fetches_once_and_stays_consistent(sync_client: BudClient) -> None:
    pipeline = sync_client.pipelines.create(name="rate", definition=LOG_ONLY)
    for _ in range(3):
        sync_client.executions.create(pipeline.id, wait=True, timeout=30)
    history = sync_client.executions.list(pipeline_id=pipeline.id, limit=2, sort_order="desc")
    total = len(history)
    sync_client.executions.create(pipeline.id)  # a newer run after len(): not counted twice
    successful = len([e for e in history if e.status == "completed"])
    assert (total, successful) == (3, 3)


def test_logs_follow_is_a_plain_iterator_that_ends_with_the_execution(sync_client: BudClient) -> None:
    steps = [
        {"id": "a", "action": "log", "params": {"message": "first"}},
        {"id": "b", "action": "delay", "params": {"seconds": 0.2}, "depends_on": ["a"]},
        {"id": "c", "action": "log", "params": {"message": "last", "level": "error"}, "depends_on": ["b"]},
    ]
    pipeline = sync_client.pipelines.create(name="logs", definition={"steps": steps})
    execution = sync_client.executions.create(pipeline.id)
    stream = sync_client.executions.logs(execution.id, follow=True)
    assert isinstance(stream, SyncStream)
    lines = list(stream)
    assert all(isinstance(line, LogEntry) for line in lines)
    messages = [line.message for line in lines]
    assert messages.index("first") < messages.index("last")
    assert stream.status == "completed"
    assert [line.seq for line in lines] == sorted({line.seq for line in lines})
    listed = sync_client.executions.logs(execution.id, level="error")
    assert [line.message for line in listed] == ["last"]


def test_logs_follow_as_context_manager_raises_for_unknown_id_on_enter(sync_client: BudClient) -> None:
    with pytest.raises(NotFoundError), sync_client.executions.logs("exec_missing", follow=True):
        pass


def test_breaking_out_of_a_stream_closes_it(sync_client: BudClient) -> None:
    pipeline = sync_client.pipelines.create(name="slow", definition=SLOW)
    execution = sync_client.executions.create(pipeline.id)
    with sync_client.executions.logs(execution.id, follow=True) as stream:
        for _line in stream:
            break
    with pytest.raises(StopIteration):
        next(stream)
    assert sync_client.executions.cancel(execution.id).status == "cancelled"


def test_wait_with_timeout_raises_the_guide_timeout_error(sync_client: BudClient) -> None:
    pipeline = sync_client.pipelines.create(name="slow", definition=SLOW)
    with pytest.raises(TimeoutError) as caught:
        sync_client.executions.create(pipeline.id, wait=True, timeout=0.2)
    assert isinstance(caught.value, builtins.TimeoutError)
    assert caught.value.execution_id is not None
    sync_client.executions.cancel(caught.value.execution_id)


def test_create_many_wait_all_and_as_completed(sync_client: BudClient) -> None:
    pipeline = sync_client.pipelines.create(name="fan", definition=LOG_ONLY)
    result = sync_client.executions.create_many(pipeline.id, [{"n": n} for n in range(6)], chunk_size=2)
    assert isinstance(result, BatchResult)
    ids = [item.execution.id for item in result if item.execution is not None]
    assert len(ids) == 6
    ended = sync_client.executions.wait_all(ids, timeout=30)
    assert [e.id for e in ended] == ids and {e.status for e in ended} == {"completed"}
    stream = sync_client.executions.as_completed(ids, timeout=30)
    assert isinstance(stream, SyncStream)
    seen = [execution.id for execution in stream]
    assert sorted(seen) == sorted(ids)
    assert stream.remaining == 0


def test_eight_threads_share_one_client(sync_client: BudClient) -> None:
    pipeline = sync_client.pipelines.create(name="threads", definition=LOG_ONLY)

    def work(n: int) -> list[str]:
        statuses = []
        for _ in range(3):
            execution = sync_client.executions.create(pipeline.id, params={"n": n}, wait=True, timeout=30)
            statuses.append(str(sync_client.executions.get(execution.id).status))
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(8)))
    assert results == [["completed"] * 3] * 8
    assert len(sync_client.executions.list(pipeline_id=pipeline.id)) == 24


def test_inside_a_running_loop_it_raises_and_points_to_the_async_client(sync_client: BudClient) -> None:
    async def misuse() -> None:
        sync_client.actions.list()

    with pytest.raises(EventLoopError, match="AsyncBudClient") as caught:
        asyncio.run(misuse())
    assert isinstance(caught.value, BudError) and isinstance(caught.value, RuntimeError)
    assert sync_client.actions.get("log").type == "log"  # still usable outside the loop


def test_with_options_shares_the_loop_and_closing_the_copy_keeps_it(sync_client: BudClient) -> None:
    copy = sync_client.with_options(timeout=5, max_retries=0)
    assert copy.max_retries == 0 and sync_client.max_retries != 0
    assert copy.actions.get("log").type == "log"
    copy.close()
    assert not sync_client.closed
    assert sync_client.actions.get("log").type == "log"


def test_a_copy_shares_the_loop_and_closing_it_leaves_the_original_open(sync_client: BudClient) -> None:
    duplicate = copy.copy(sync_client)
    assert duplicate.actions.get("log").type == "log"
    duplicate.close()
    assert not sync_client.closed and sync_client.actions.get("log").type == "log"


def test_close_is_idempotent_and_later_calls_raise(make_sync_client: SyncClientFactory) -> None:
    with make_sync_client() as client:
        assert client.actions.get("log").type == "log"
        assert client.connection_stats()["in_use"] + client.connection_stats()["idle"] >= 1
    assert client.closed
    client.close()
    with pytest.raises(BudError, match="closed"):
        client.actions.get("log")


PLAIN = ("plain",)


class WidgetsResource(Resource):
    """A resource the sync package has never heard of: it must get a sync form for free."""

    async def count(self) -> int:
        data = await self._client.request("GET", "/budpipeline/actions")
        return len(parse_page(data, dict).items)

    def names(self) -> Any:
        async def walk() -> Any:
            for name in ("a", "b", "c"):
                await asyncio.sleep(0)
                yield name

        return walk()

    def every_pipeline(self) -> AsyncPager[Pipeline]:
        async def fetch(query: list[tuple[str, str]]) -> Page[Pipeline]:
            return parse_page(await self._client.request("GET", "/budpipeline", params=query), Pipeline)

        return AsyncPager(fetch, [], limit=1, offset=None)

    def plain(self) -> tuple[str, ...]:
        return PLAIN  # not awaitable, not iterable: returned as is


def test_any_new_resource_of_the_async_client_is_wrapped(
    monkeypatch: pytest.MonkeyPatch, make_sync_client: SyncClientFactory
) -> None:
    attach = AsyncBudClient._attach_resources

    def attach_more(self: AsyncBudClient) -> None:
        attach(self)
        self.widgets = WidgetsResource(self)  # type: ignore[attr-defined]

    monkeypatch.setattr(AsyncBudClient, "_attach_resources", attach_more)
    client = make_sync_client()
    assert client.widgets.count() == len(client.actions.list()) > 0
    assert list(client.widgets.names()) == ["a", "b", "c"]
    assert client.widgets.plain() is PLAIN
    client.pipelines.create(name="one", definition=LOG_ONLY)
    client.pipelines.create(name="two", definition=LOG_ONLY)
    pager = client.widgets.every_pipeline()
    assert isinstance(pager, SyncPager)
    assert sorted(p.name for p in pager) == ["one", "two"] and len(pager) == 2
    assert "widgets" in dir(client) and "count" in dir(client.widgets)
    assert client.with_options(timeout=3).widgets.count() == client.widgets.count()


def test_closing_from_another_thread_ends_calls_in_flight(make_sync_client: SyncClientFactory) -> None:
    client = make_sync_client()
    pipeline = client.pipelines.create(name="slow", definition=SLOW)
    execution = client.executions.create(pipeline.id)
    with ThreadPoolExecutor(max_workers=1) as pool:
        waiting = pool.submit(client.executions.wait, execution.id)
        for _ in range(2000):  # until the long-poll is on the wire
            if client.connection_stats()["in_use"]:
                break
            time.sleep(0.005)
        client.close()
        with pytest.raises(BudError, match="closed"):
            waiting.result()


def test_the_trigger_resources_have_their_sync_form_without_sync_code(sync_client: BudClient) -> None:
    """schedules, webhooks and event_triggers (issue 15) arrived after BudClient: nothing was added."""
    pipeline = sync_client.pipelines.create(name="triggered", definition=LOG_ONLY)
    schedule = sync_client.schedules.create(pipeline.id, name="nightly", cron="0 2 * * *")
    assert sync_client.schedules.get(schedule.id).name == "nightly"
    assert len(sync_client.schedules.next_runs(schedule.id, count=3)) == 3
    assert sync_client.schedules.pause(schedule.id).enabled is False
    fired = sync_client.schedules.trigger(schedule.id)
    assert isinstance(fired, Execution) and fired.pipeline_id == pipeline.id
    hook = sync_client.webhooks.create(pipeline.id, name="on push")
    assert [w.name for w in sync_client.webhooks.list(pipeline_id=pipeline.id)] == ["on push"]
    trigger = sync_client.event_triggers.create(pipeline.id, name="chain", event_type="execution.failed")
    listed = sync_client.event_triggers.list(pipeline_id=pipeline.id)
    assert isinstance(listed, SyncPager) and [t.id for t in listed] == [trigger.id]
    sync_client.schedules.delete(schedule.id)
    with pytest.raises(NotFoundError):
        sync_client.schedules.get(schedule.id)
    assert hook is not None


def test_raw_responses_block_too(sync_client: BudClient) -> None:
    """`with_raw_response` on the sync client answers `APIResponse`, not an un-awaited coroutine."""
    pipeline = sync_client.pipelines.create(name="raw", definition=LOG_ONLY)
    raw = sync_client.with_raw_response.executions.create(pipeline.id, wait=True, timeout=30)
    assert isinstance(raw, APIResponse) and raw.parsed.status == "completed"
    assert raw.request_id is not None and raw.request_id.startswith("req_")
    fetched = sync_client.with_raw_response.executions.get(raw.parsed.id)
    assert fetched.status_code == 200 and fetched.parsed.id == raw.parsed.id
    schedule = sync_client.with_raw_response.schedules.create(pipeline.id, name="n", cron="0 2 * * *")
    assert schedule.status_code == 201 and isinstance(schedule.parsed, Schedule)
    with pytest.raises(NotFoundError):
        sync_client.with_raw_response.webhooks.get("wh_missing")
    first_page = sync_client.with_raw_response.pipelines.list(limit=1)
    assert first_page.status_code == 200 and [p.id for p in first_page.parsed] == [pipeline.id]
    with pytest.raises(BudError, match="no raw response"):
        sync_client.with_raw_response.executions.logs(raw.parsed.id, follow=True)
