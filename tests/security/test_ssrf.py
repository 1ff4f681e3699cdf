"""Server-side request forgery, tried against the real server under `--outbound strict`.

Every form of a loopback, private, link-local or metadata address - literal, IPv4-mapped, odd
IPv4 spellings, a name resolving to loopback, a templated URL, a redirect - must fail its step
quickly with an error naming the rule, and the loopback listener (`sink`) must receive nothing.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from security_support import Client, Sink, json_of, run, start_sink, step

from budai_server.config import ServerConfig
from budai_server.outbound.policy import blocked_rule


def forms(port: int) -> list[tuple[str, str]]:
    """(url, rule) for every spelling of a forbidden destination; loopback ones reach the sink."""
    return [
        (f"http://127.0.0.1:{port}/hit", "loopback"),
        (f"http://localhost:{port}/hit", "loopback"),
        (f"http://[::ffff:127.0.0.1]:{port}/hit", "loopback"),
        (f"http://[::ffff:7f00:1]:{port}/hit", "loopback"),
        (f"http://[::127.0.0.1]:{port}/hit", "loopback"),
        (f"http://[::1]:{port}/hit", "loopback"),
        (f"http://2130706433:{port}/hit", "ip_encoding"),
        (f"http://0x7f000001:{port}/hit", "ip_encoding"),
        (f"http://0x7f.0.0.1:{port}/hit", "ip_encoding"),
        (f"http://017700000001:{port}/hit", "ip_encoding"),
        (f"http://127.1:{port}/hit", "ip_encoding"),
        (f"http://0.0.0.0:{port}/hit", "unspecified"),
        (f"http://[::]:{port}/hit", "unspecified"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("http://[fe80::1]/", "link_local"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.0.1/", "private"),
        ("http://[fd00::1]/", "private"),
        ("http://224.0.0.1/", "multicast"),
    ]


async def failed_step(api: Client, definition: dict[str, Any], **params: Any) -> dict[str, Any]:
    done = await run(api, definition, params=params)
    assert done["status"] == "failed", done
    (state,) = done["steps"]  # the wire's step objects; `run_status` is our full status
    assert state["run_status"] == "failed", state
    assert state["attempts"] == 1, state  # refused is not retried
    return dict(state)


@pytest.mark.parametrize("index", range(19))
async def test_api_call_to_a_forbidden_address_is_refused(api: Client, sink: Sink, index: int) -> None:
    url, rule = forms(sink.port)[index]
    definition = {
        "steps": [
            {
                **step("call", "api_call", url=url, method="POST", headers={"X-Steal": "1"}, body={"a": 1}),
                "retry": {"max_attempts": 3, "initial_delay_seconds": 0},
            }
        ]
    }
    state = await failed_step(api, definition)
    assert f"(rule: {rule})" in state["error"], state["error"]
    assert sink.hits == []


async def test_templated_url_is_checked_after_rendering(api: Client, sink: Sink) -> None:
    definition = {"steps": [step("call", "http_request", url="{{ params.u }}")]}
    state = await failed_step(api, definition, u=f"http://[::ffff:127.0.0.1]:{sink.port}/hit")
    assert "(rule: loopback)" in state["error"]
    state = await failed_step(api, definition, u=f"http://localhost:{sink.port}/hit")
    assert "(rule: loopback)" in state["error"] and "resolves to" in state["error"]
    assert sink.hits == []


async def test_notification_url_is_checked(api: Client, sink: Sink) -> None:
    definition = {"steps": [step("n", "notification", message="hi", url="{{ params.u }}")]}
    state = await failed_step(api, definition, u=f"http://2130706433:{sink.port}/hook")
    assert "(rule: ip_encoding)" in state["error"]
    assert sink.hits == []


async def test_the_servers_own_routes_are_not_reachable(api: Client, bud_server: TestServer) -> None:
    own = str(bud_server.make_url("/budpipeline"))
    state = await failed_step(api, {"steps": [step("call", "api_call", url=own)]})
    assert "(rule: loopback)" in state["error"]


async def test_callbacks_to_a_name_resolving_to_a_forbidden_address_fail_at_once(
    api: Client, sink: Sink
) -> None:
    # A literal address or `localhost` is refused when the callback is given (test_callback_urls.py);
    # a host name needs DNS, so it is checked on delivery. This machine's own name resolves locally.
    host = socket.gethostname()
    try:
        address = ipaddress.ip_address(socket.getaddrinfo(host, sink.port)[0][4][0])
    except (OSError, ValueError):
        pytest.skip(f"this machine's name {host!r} does not resolve")
    rule = blocked_rule(address)
    if rule is None:
        pytest.skip(f"this machine's name resolves to the global address {address}")
    url = f"http://{host}:{sink.port}/hook"
    created = await json_of(
        api,
        "POST",
        "/budpipeline/run",
        json={
            "pipeline_definition": {"steps": [step("a", "log", message="x")]},
            "callbacks": {"on_complete": url, "on_failure": url},
        },
        expect=201,
    )
    await json_of(api, "GET", f"/budpipeline/executions/{created['id']}", params={"wait": "10"}, expect=200)
    path = f"/budpipeline/executions/{created['id']}/callbacks"
    for _ in range(500):
        items = (await json_of(api, "GET", path, expect=200))["items"]
        if items and items[0]["status"] != "pending":
            break
        await asyncio.sleep(0.02)
    (delivery,) = items
    assert delivery["status"] == "failed", delivery
    (attempt,) = delivery["attempts"]
    assert f"(rule: {rule})" in attempt["error"]
    assert sink.hits == []


async def redirector(aiohttp_server: Any, target: str) -> TestServer:
    async def hop(request: web.Request) -> web.Response:
        raise web.HTTPFound(target)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", hop)
    server: TestServer = await aiohttp_server(app)
    return server


async def test_allow_list_opens_a_network_and_redirects_are_checked_per_hop(
    aiohttp_server: Any, make_bud_server: Any, aiohttp_client: Any, server_config: ServerConfig
) -> None:
    allowed = await start_sink(aiohttp_server, host="127.0.0.1")
    other = await start_sink(aiohttp_server, host="127.0.0.2")
    jump = await redirector(aiohttp_server, other.url("/stolen"))
    server = await make_bud_server(allow_outbound=("127.0.0.1/32",))
    client: Client = await aiohttp_client(server)

    done = await run(client, {"steps": [step("ok", "api_call", url=allowed.url("/fine"))]})
    assert done["status"] == "completed", done
    assert done["steps"][0]["id"] == "ok" and done["steps"][0]["output"]["body"] == {"reached": True}
    assert allowed.hits == ["GET /fine"]

    state = await failed_step(client, {"steps": [step("hop", "api_call", url=str(jump.make_url("/go")))]})
    assert "(rule: loopback)" in state["error"] and "127.0.0.2" in state["error"]
    assert other.hits == []

    state = await failed_step(client, {"steps": [step("direct", "api_call", url=other.url("/x"))]})
    assert "(rule: loopback)" in state["error"]
    assert other.hits == []
