"""Network settings against the real server: proxies from the environment (and NO_PROXY, and the
opt-out) through a local proxy, TLS with a private CA (CONNECT tunnel), ssl=False, a connector or
session of your own, default query parameters. The proxy rules are pure and table-tested."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from proxy_support import LocalProxy
from sdk_support import log_step

from budai_async import APIConnectionError, AsyncBudClient
from budai_async._network import bypasses_proxy, env_proxy, ssl_setting

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")


@pytest.fixture(autouse=True)
def clean_proxy_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.mark.parametrize(
    ("url", "environ", "expected"),
    [
        ("http://api:8080", {}, None),
        ("http://api:8080", {"HTTP_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://api", {"HTTP_PROXY": "http://p:3128"}, None),
        ("https://api", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128"),
        ("https://api", {"https_proxy": "http://lower", "HTTPS_PROXY": "http://upper"}, "http://lower"),
        ("https://api", {"ALL_PROXY": "http://all"}, "http://all"),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": "example.com"}, None),
        ("https://api.example.com", {"HTTPS_PROXY": "http://p", "NO_PROXY": ".example.com"}, None),
        ("https://example.com.evil", {"HTTPS_PROXY": "http://p", "NO_PROXY": "example.com"}, "http://p"),
        ("https://api", {"HTTPS_PROXY": "http://p", "no_proxy": "*"}, None),
        ("http://10.1.2.3:80", {"HTTP_PROXY": "http://p", "NO_PROXY": "10.0.0.0/8"}, None),
        ("http://127.0.0.1:9000", {"HTTP_PROXY": "http://p", "NO_PROXY": "127.0.0.1:9000"}, None),
        ("http://127.0.0.1:9001", {"HTTP_PROXY": "http://p", "NO_PROXY": "127.0.0.1:9000"}, "http://p"),
        ("http://[::1]:9000", {"HTTP_PROXY": "http://p", "NO_PROXY": "::1"}, None),
    ],
)
def test_env_proxy_table(url: str, environ: dict[str, str], expected: str | None) -> None:
    assert env_proxy(url, environ) == expected


def test_bypass_ignores_blank_entries() -> None:
    assert not bypasses_proxy("api", None, " , ,")


def test_ssl_setting_rejects_a_context_with_a_ca_bundle(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not both"):
        ssl_setting(ssl.create_default_context(), tmp_path / "ca.pem")
    assert ssl_setting(None, None) is True
    assert ssl_setting(False, None) is False


async def _roundtrip(client: AsyncBudClient) -> None:
    pipeline = await client.pipelines.create(name="via", definition={"steps": [log_step("a")]})
    assert (await client.pipelines.get(pipeline.id)).name == "via"


async def test_http_proxy_from_the_environment_is_used(
    bud_url: str, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with LocalProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        await _roundtrip(make_client(bud_url))
        assert proxy.requests[0] == f"POST {bud_url}/budpipeline"
        assert len(proxy.requests) == 2


async def test_no_proxy_and_trust_env_false_go_direct(
    bud_url: str, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with LocalProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        await _roundtrip(make_client(bud_url, trust_env=False))
        monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
        await _roundtrip(make_client(bud_url))
        assert proxy.requests == []


async def test_explicit_proxy_wins_without_the_environment(bud_url: str, make_client: Any) -> None:
    async with LocalProxy() as proxy:
        await _roundtrip(make_client(bud_url, proxy=proxy.url, trust_env=False))
        assert len(proxy.requests) == 2


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def tls_url(aiohttp_server: Any, server_app: Any, ca: trustme.CA) -> str:
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server_context)
    server = await aiohttp_server(server_app, ssl=server_context)
    return f"https://127.0.0.1:{server.port}"


async def test_https_through_a_connect_tunnel_with_a_private_ca_bundle(
    tls_url: str, ca: trustme.CA, tmp_path: Path, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with LocalProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        await _roundtrip(make_client(tls_url, ca_bundle=bundle))
        assert proxy.requests and all(
            r == f"CONNECT {tls_url.removeprefix('https://')}" for r in proxy.requests
        )


async def test_tls_verification_fails_without_the_ca_and_can_be_turned_off(
    tls_url: str, ca: trustme.CA, make_client: Any
) -> None:
    with pytest.raises(APIConnectionError, match=r"(?i)certificate"):
        await make_client(tls_url, max_retries=0).pipelines.list()
    await _roundtrip(make_client(tls_url, ssl=False))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    await _roundtrip(make_client(tls_url, ssl=context))


async def test_a_connector_of_your_own_is_used_and_left_open(bud_url: str) -> None:
    connector = aiohttp.TCPConnector(limit=3)
    async with AsyncBudClient(base_url=bud_url, connector=connector) as client:
        await _roundtrip(client)
        assert client.connection_stats()["idle"] >= 1
    assert not connector.closed
    await connector.close()


async def test_a_session_of_your_own_gets_the_clients_headers_and_stays_open(make_bud_server: Any) -> None:
    server = await make_bud_server(api_key="sk-session")
    url = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as session:
        async with AsyncBudClient(base_url=url, api_key="sk-session", http_session=session) as client:
            await _roundtrip(client)
        assert not session.closed
        async with session.get(f"{url}/budpipeline") as answer:
            assert answer.status == 401  # the key came from the client, not the session


async def test_default_query_and_default_headers_go_on_every_call(
    aiohttp_server: Any, server_app: Any, make_client: Any
) -> None:
    seen: list[tuple[str, str | None]] = []

    @aiohttp.web.middleware
    async def observe(request: aiohttp.web.Request, handler: Any) -> Any:
        seen.append((request.query_string, request.headers.get("X-Tenant")))
        return await handler(request)

    server_app.middlewares.insert(0, observe)
    server = await aiohttp_server(server_app)
    client = make_client(
        str(server.make_url("")).rstrip("/"),
        default_query={"tenant": "t1"},
        default_headers={"X-Tenant": "t1"},
    )
    await client.pipelines.list(limit=5)
    [(query, tenant)] = seen
    assert query.startswith("tenant=t1&") and "limit=5" in query
    assert tenant == "t1"


def test_session_and_connector_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        AsyncBudClient(connector=object(), http_session=object())  # type: ignore[arg-type]


async def test_websocket_streams_go_through_the_same_proxy(
    bud_url: str, make_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from budai_async.batch._watch import StatusWatch

    async with LocalProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        client: AsyncBudClient = make_client(bud_url)
        assert client.websocket_proxy == proxy.url
        pipeline = await client.pipelines.create(name="ws", definition={"steps": [log_step("a")]})
        execution = await client.executions.create(pipeline.id)
        async with client.executions.logs(execution.id, follow=True) as lines:
            seen = [line.message async for line in lines]
        assert seen
        async with StatusWatch(client, method="websocket") as watch:
            await watch.add([execution.id])
            watch.finish_adding()
            ended = await watch.next()
        assert ended is not None and ended.id == execution.id
        host = bud_url.removeprefix("http://")
        assert proxy.requests.count(f"CONNECT {host}") == 2  # the log stream and the status watch
    assert make_client(bud_url, trust_env=False).websocket_proxy is None
