"""Long-poll waits over `--long-poll-max-seconds` are a 422 naming the limit, and our SDK adapts to it."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestServer
from security_support import Client, json_of, step

from budai_async import AsyncBudClient
from budai_async.batch import as_completed

DELAY = {"steps": [step("wait", "delay", seconds=1.0)]}


async def _start(client: Client) -> str:
    created = await json_of(
        client, "POST", "/budpipeline/run", json={"pipeline_definition": DELAY}, expect=201
    )
    return str(created["id"])


def _limit_detail(answer: Any, path: str) -> dict[str, Any]:
    (detail,) = answer["error"]["details"]
    assert (detail["path"], detail["code"], detail["limit"]) == (path, "over_limit", "long_poll_max_seconds")
    assert "long_poll_max_seconds" in detail["message"]
    return dict(detail)


async def test_wait_over_the_limit_is_refused_naming_it(make_bud_server: Any, aiohttp_client: Any) -> None:
    client: Client = await aiohttp_client(await make_bud_server(long_poll_max_seconds=0.5))
    execution_id = await _start(client)
    path = f"/budpipeline/executions/{execution_id}"
    answer = await json_of(client, "GET", path, params={"wait": "30"}, expect=422)
    assert _limit_detail(answer, "wait")["maximum"] == 0.5
    # at the limit is fine, and so is the watch long-poll's default (it adapts to the limit)
    await json_of(client, "GET", path, params={"wait": "0.5"}, expect=200)
    body = {"ids": [execution_id], "timeout": 60}
    answer = await json_of(client, "POST", "/budpipeline/executions/wait", json=body, expect=422)
    assert _limit_detail(answer, "timeout")["maximum"] == 0.5
    await json_of(client, "POST", "/budpipeline/executions/wait", json={"ids": [execution_id]}, expect=200)


async def test_sdk_waits_within_a_lower_server_limit(make_bud_server: Any) -> None:
    server: TestServer = await make_bud_server(long_poll_max_seconds=0.25)
    async with AsyncBudClient(base_url=str(server.make_url(""))) as sdk:
        pipeline = await sdk.pipelines.create(name="delay", definition=DELAY)
        first = await sdk.executions.create(pipeline.id)
        done = await sdk.executions.wait(first.id, timeout=30)  # asks 30 s, the server allows 0.25
        assert done.status == "completed"
        assert sdk.executions._wait_cap == 0.25
        second = await sdk.executions.create(pipeline.id)
        async with as_completed(sdk.executions, [second], method="longpoll") as stream:  # asks 5 s
            ended = [execution async for execution in stream]
        assert [execution.status for execution in ended] == ["completed"]
