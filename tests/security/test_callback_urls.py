"""Callback URLs the outbound policy refuses without DNS are answered 422 when they are given.

A literal address or a `localhost` name the server's current policy refuses is known to fail on
delivery, so execute, run, retry, batch items (and defaults) and schedules refuse it at once, naming
the field and the rule. Host names needing DNS are still checked on delivery (test_ssrf.py).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from security_support import Client, Sink, json_of, run, step

LOG = {"steps": [step("a", "log", message="x")]}
REFUSED = [
    ("http://127.0.0.1:9/hook", "loopback"),
    ("http://localhost:9/hook", "loopback"),
    ("http://api.localhost./hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://10.1.2.3/hook", "private"),
    ("http://169.254.169.254/latest", "link_local"),
    ("http://2130706433/hook", "ip_encoding"),
]


def _refusal(answer: Any, path: str, rule: str) -> None:
    details = answer["error"]["details"]
    assert [(d["path"], d["code"]) for d in details] == [(path, "outbound_refused")], details
    assert f"(rule: {rule})" in details[0]["message"]


@pytest.mark.parametrize(("url", "rule"), REFUSED)
async def test_run_refuses_a_callback_the_policy_refuses(api: Client, url: str, rule: str) -> None:
    body = {"pipeline_definition": LOG, "callbacks": {"on_failure": url}}
    answer = await json_of(api, "POST", "/budpipeline/run", json=body, expect=422)
    _refusal(answer, "callbacks.on_failure", rule)


async def test_every_route_taking_callbacks_refuses_them(api: Client) -> None:
    bad = {"on_complete": "https://example.com/ok", "on_failure": "http://[::1]:8080/hook"}
    pipeline = await json_of(api, "POST", "/budpipeline", json={"name": "p", "definition": LOG}, expect=201)
    answer = await json_of(
        api, "POST", f"/budpipeline/{pipeline['id']}/execute", json={"callbacks": bad}, expect=422
    )
    _refusal(answer, "callbacks.on_failure", "loopback")

    ended = await run(api, LOG)
    retry = f"/budpipeline/executions/{ended['id']}/retry"
    answer = await json_of(api, "POST", retry, json={"callbacks": bad}, expect=422)
    _refusal(answer, "callbacks.on_failure", "loopback")

    batch = f"/budpipeline/{pipeline['id']}/execute/batch"
    items = {"items": [{"params": {}}, {"callbacks": bad}]}
    answer = await json_of(api, "POST", batch, json=items, expect=200)
    refused = [item for item in answer["items"] if item.get("error")]
    assert len(refused) == 1 and answer["failed"] == 1, answer
    assert refused[0]["error"]["field"] == "items[1].callbacks.on_failure", refused
    assert "(rule: loopback)" in refused[0]["error"]["message"]
    answer = await json_of(api, "POST", batch, json={**items, "defaults": {"callbacks": bad}}, expect=422)
    assert answer["error"]["details"][0]["path"] == "defaults.callbacks.on_failure"

    schedule = {"pipeline_id": pipeline["id"], "name": "s", "cron": "0 * * * *", "callbacks": bad}
    answer = await json_of(api, "POST", "/budpipeline/schedules", json=schedule, expect=422)
    _refusal(answer, "callbacks.on_failure", "loopback")
    created = await json_of(
        api, "POST", "/budpipeline/schedules", json={**schedule, "callbacks": None}, expect=201
    )
    answer = await json_of(
        api, "PATCH", f"/budpipeline/schedules/{created['id']}", json={"callbacks": bad}, expect=422
    )
    _refusal(answer, "callbacks.on_failure", "loopback")


async def test_allowed_and_dns_callbacks_are_accepted(
    make_bud_server: Any, aiohttp_client: Any, sink: Sink
) -> None:
    # The allow-list opens loopback (as `auto` mode on a loopback server does: make demo, tests):
    # the same URL is accepted and delivered.
    client: Client = await aiohttp_client(await make_bud_server(allow_outbound=("127.0.0.0/8",)))
    body = {"pipeline_definition": LOG, "callbacks": {"on_complete": sink.url("/hook")}}
    created = await json_of(client, "POST", "/budpipeline/run", json=body, expect=201)
    await json_of(
        client, "GET", f"/budpipeline/executions/{created['id']}", params={"wait": "10"}, expect=200
    )
    for _ in range(500):
        if sink.hits:
            break
        await asyncio.sleep(0.02)
    assert sink.hits == ["POST /hook"]
    # a host name is left to the delivery-time check
    named = {"pipeline_definition": LOG, "callbacks": {"on_complete": "http://callbacks.example.invalid/x"}}
    await json_of(client, "POST", "/budpipeline/run", json=named, expect=201)
