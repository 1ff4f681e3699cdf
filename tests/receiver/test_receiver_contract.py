"""The HTTP response contract, one status code at a time, against the real app on SQLite."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDict
from rx_support import FOREIGN_SECRET, PATH, SECRET, Recorder, Serve, payload, signed, wait_for

from receiver import Receiver


def make(db_url: str, recorder: Recorder | None = None, **options: Any) -> Receiver:
    return Receiver(SECRET, store=db_url, handlers=(recorder or Recorder()).handlers, **options)


async def test_new_then_duplicate(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    client = await serve(make(db_url, recorder))
    body = payload("exec_1")
    headers = signed(body, "msg_1")
    first = await client.post(PATH, data=body, headers=headers)
    assert first.status == 202
    assert await first.json() == {"status": "accepted"}
    second = await client.post(PATH, data=body, headers=headers)
    assert second.status == 200
    assert await second.json() == {"status": "duplicate"}
    await wait_for(lambda: recorder.ids("completed") == ["exec_1"])
    event = recorder.completed[0]
    assert (event.type, event.status, event.outputs, event.tags) == (
        "execution.completed",
        "completed",
        {"answer": 42},
        ["test"],
    )
    assert recorder.ids("any") == ["exec_1"] and recorder.failed == []


async def test_duplicate_resent_later_with_new_timestamp(serve: Serve, db_url: str) -> None:
    """The sender's retries keep the id and re-sign with a fresh timestamp."""
    client = await serve(make(db_url))
    body = payload()
    first = await client.post(PATH, data=body, headers=signed(body, "msg_r", timestamp=int(time.time()) - 60))
    again = await client.post(PATH, data=body, headers=signed(body, "msg_r"))
    assert (first.status, again.status) == (202, 200)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        (b'"a string"', None),
        (b"{}", "type"),
        (b'{"type": 5, "execution_id": "e"}', "type"),
        (b'{"type": "execution.completed"}', "execution_id"),
        (b'{"type": "execution.completed", "execution_id": ""}', "execution_id"),
        (b'{"type": "execution.completed", "execution_id": "e", "outputs": [1]}', "outputs"),
        (b'{"type": "execution.completed", "execution_id": "e", "completed_at": "soon"}', "completed_at"),
        (b'{"type": "execution.completed", "execution_id": "e", "tags": "abc"}', "tags"),
        (b"[" * 100_000 + b"]" * 100_000, None),
        ('{"type": "x", "execution_id": "\udcff"}'.encode("utf-8", "surrogatepass"), None),
    ],
)
async def test_malformed_signed_body_is_400(
    serve: Serve, db_url: str, body: bytes, field: str | None
) -> None:
    receiver = make(db_url)
    client = await serve(receiver)
    headers = signed(body, "msg_bad")
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["code"] in ("malformed", "invalid_body")
    if field:
        assert field in error["message"]
    assert await receiver.store.state("msg_bad") is None


async def test_non_utf8_signed_body_is_400(serve: Serve, db_url: str) -> None:
    client = await serve(make(db_url))
    body = b'{"type": "execution.completed", "execution_id": "\xff"}'
    response = await client.post(PATH, data=body, headers=signed(body))
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_body"


def _tampered(kind: str) -> tuple[bytes, Mapping[str, str]]:
    body = payload("exec_t")
    headers = signed(body, "msg_t")
    if kind == "foreign secret":
        headers = signed(body, "msg_t", secret=FOREIGN_SECRET)
    elif kind == "altered body":
        body = payload("exec_other")
    elif kind == "altered id":
        headers["webhook-id"] = "msg_t2"
    elif kind == "no signature header":
        del headers["webhook-signature"]
    elif kind == "no id header":
        del headers["webhook-id"]
    elif kind == "no timestamp header":
        del headers["webhook-timestamp"]
    elif kind == "garbage signature":
        headers["webhook-signature"] = "v1,garbage"
    elif kind == "float timestamp":
        headers["webhook-timestamp"] += ".0"
    elif kind == "non-ascii id":
        headers["webhook-id"] = "msg_t\u00e9"
    elif kind == "second signature header":  # only the first of repeated headers counts
        repeated = CIMultiDict(headers)
        repeated.popall("webhook-signature")
        repeated.add("webhook-signature", "v1,AAAA")
        repeated.add("webhook-signature", headers["webhook-signature"])
        return body, repeated
    return body, headers


@pytest.mark.parametrize(
    "kind",
    [
        "foreign secret",
        "altered body",
        "altered id",
        "no signature header",
        "no id header",
        "no timestamp header",
        "garbage signature",
        "float timestamp",
        "non-ascii id",
        "second signature header",
    ],
)
async def test_bad_signature_is_401(serve: Serve, db_url: str, kind: str) -> None:
    recorder = Recorder()
    receiver = make(db_url, recorder)
    client = await serve(receiver)
    body, headers = _tampered(kind)
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "invalid_signature"
    for msg_id in ("msg_t", "msg_t2"):
        assert await receiver.store.state(msg_id) is None
    metrics = await (await client.get("/metrics")).text()
    assert 'budai_receiver_rejected_total{reason="' in metrics


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 10**6])
async def test_stale_or_future_timestamp_is_401(serve: Serve, db_url: str, offset: int) -> None:
    now = 1_700_000_000
    receiver = make(db_url, clock=lambda: now)
    client = await serve(receiver)
    body = payload()
    response = await client.post(PATH, data=body, headers=signed(body, "msg_s", timestamp=now + offset))
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "stale_timestamp"
    assert await receiver.store.state("msg_s") is None


@pytest.mark.parametrize("offset", [-300, 300, 0])
async def test_timestamp_at_the_edges_is_accepted(serve: Serve, db_url: str, offset: int) -> None:
    now = 1_700_000_000
    client = await serve(make(db_url, clock=lambda: now))
    body = payload()
    response = await client.post(PATH, data=body, headers=signed(body, timestamp=now + offset))
    assert response.status == 202


async def test_too_large_is_413(serve: Serve, db_url: str) -> None:
    receiver = make(db_url, max_body_bytes=1000)
    client = await serve(receiver)
    body = payload(padding="x" * 2000)
    response = await client.post(PATH, data=body, headers=signed(body, "msg_big"))
    assert response.status == 413
    assert await receiver.store.state("msg_big") is None

    async def chunks() -> Any:  # no Content-Length: the limit applies while reading
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = await client.post(PATH, data=chunks(), headers=signed(body, "msg_big"))
    assert response.status == 413
    small = payload()
    assert len(small) <= 1000
    response = await client.post(PATH, data=small, headers=signed(small))
    assert response.status == 202


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "", "json"])
async def test_not_json_is_415(serve: Serve, db_url: str, content_type: str) -> None:
    receiver = make(db_url)
    client = await serve(receiver)
    body = payload()
    headers = signed(body, "msg_ct", content_type=content_type)
    if not content_type:
        del headers["Content-Type"]
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == 415
    assert await receiver.store.state("msg_ct") is None


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/cloudevents+json"])
async def test_json_content_types_are_accepted(serve: Serve, db_url: str, content_type: str) -> None:
    client = await serve(make(db_url))
    body = payload()
    response = await client.post(PATH, data=body, headers=signed(body, content_type=content_type))
    assert response.status == 202


async def test_full_queue_is_503_with_retry_after(serve: Serve, db_url: str) -> None:
    """One worker stuck in a handler, queue of 2: the fourth new callback is refused, nothing stored."""
    recorder = Recorder()
    gate = recorder.changed  # reused as a gate the blocked handler waits on
    gate.clear()

    @recorder.handlers.on("test.block", name="block")
    async def block(event: Any) -> None:
        await gate.wait()

    receiver = make(db_url, recorder, workers=1, queue_limit=2, retry_after=7)
    client = await serve(receiver)
    statuses = []
    for n in range(4):
        body = payload(type_="test.block")
        response = await client.post(PATH, data=body, headers=signed(body, f"msg_q{n}"))
        statuses.append(response.status)
        if n == 0:
            await wait_for(
                lambda: receiver.runtime is not None and receiver.runtime.dispatcher.in_flight == 1
            )
        if response.status == 503:
            assert response.headers["Retry-After"] == "7"
            assert (await response.json())["error"]["code"] == "overloaded"
    assert statuses == [202, 202, 202, 503]
    assert await receiver.store.state("msg_q3") is None
    # Once the queue drains, the refused callback's retry is accepted as new: it was never stored.
    gate.set()
    await wait_for(lambda: receiver.runtime is not None and receiver.runtime.dispatcher.idle)
    body = payload(type_="test.block")
    assert (await client.post(PATH, data=body, headers=signed(body, "msg_q3"))).status == 202


async def test_draining_is_503_and_not_ready(serve: Serve, db_url: str) -> None:
    receiver = make(db_url)
    client = await serve(receiver)
    assert (await client.get("/readyz")).status == 200
    assert receiver.runtime is not None
    await receiver.runtime.on_shutdown(client.app)
    ready = await client.get("/readyz")
    assert ready.status == 503 and (await ready.json())["status"] == "draining"
    body = payload()
    response = await client.post(PATH, data=body, headers=signed(body))
    assert response.status == 503 and "Retry-After" in response.headers
    assert (await client.get("/healthz")).status == 200


async def test_store_failure_is_503_not_500(serve: Serve, db_url: str) -> None:
    receiver = make(db_url)
    client = await serve(receiver)
    await receiver.store.close()  # the disk went away
    body = payload()
    response = await client.post(PATH, data=body, headers=signed(body))
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "store_unavailable"
    assert receiver.runtime is not None and receiver.runtime.dispatcher.idle  # reservation returned
    await receiver.store.open()  # let the app's cleanup close it normally


async def test_metrics_count_each_outcome(serve: Serve, db_url: str) -> None:
    recorder = Recorder()
    client = await serve(make(db_url, recorder))
    body = payload("exec_m")
    headers = signed(body)
    await client.post(PATH, data=body, headers=headers)
    await client.post(PATH, data=body, headers=headers)
    await client.post(PATH, data=b"{}", headers={"Content-Type": "application/json"})
    await client.post(PATH, data=body, headers={**headers, "Content-Type": "text/plain"})
    text = await (await client.get("/metrics")).text()
    lines = set(text.splitlines())
    for expected in (
        "budai_receiver_received_total 1",
        "budai_receiver_duplicates_total 1",
        'budai_receiver_rejected_total{reason="missing_header"} 1',
        'budai_receiver_rejected_total{reason="unsupported_media_type"} 1',
        "budai_receiver_queue_depth 0",
        "budai_receiver_ack_latency_seconds_count 2",
        "budai_receiver_ready 1",
    ):
        assert expected in lines, expected

    async def dispatched() -> bool:
        text = await (await client.get("/metrics")).text()
        return "budai_receiver_dispatched_total 1" in text.splitlines()

    await wait_for(dispatched)


async def test_mounted_in_a_user_app(aiohttp_client: Any, db_url: str) -> None:
    recorder = Recorder()
    receiver = make(db_url, recorder)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="user route")

    app = web.Application()
    app.router.add_get("/", hello)
    receiver.setup(app, path="/hooks/budai")
    client = await aiohttp_client(app)
    assert await (await client.get("/")).text() == "user route"
    assert (await client.get("/hooks/budai/readyz")).status == 200
    assert (await client.get("/hooks/budai/metrics")).status == 200
    body = payload("exec_mounted")
    assert (await client.post("/hooks/budai", data=body, headers=signed(body))).status == 202
    await wait_for(lambda: recorder.ids() == ["exec_mounted"])
    with pytest.raises(RuntimeError):
        receiver.setup(web.Application())


@pytest.mark.parametrize(("path", "ops"), [("/wh/", "/wh"), ("wh", "/wh"), ("/", ""), ("", "")])
async def test_mounted_path_answers_with_and_without_the_trailing_slash(
    aiohttp_client: Any, db_url: str, path: str, ops: str
) -> None:
    """A sender's callback URL written either way is delivered, never a 404 retried for days."""
    recorder = Recorder()
    receiver = make(db_url, recorder)
    app = web.Application()
    receiver.setup(app, path=path)
    client = await aiohttp_client(app)
    assert (await client.get(f"{ops}/healthz")).status == 200
    urls = [ops or "/"] if ops == "" else [ops, ops + "/"]
    for number, url in enumerate(urls):
        body = payload(f"exec_slash_{number}")
        assert (await client.post(url, data=body, headers=signed(body))).status == 202
    await wait_for(lambda: sorted(recorder.ids()) == [f"exec_slash_{n}" for n in range(len(urls))])


@pytest.mark.parametrize("secrets", [[], "", [""], ["not base64!"], "whsec_"])
def test_refuses_to_construct_without_a_valid_secret(secrets: Any) -> None:
    with pytest.raises(ValueError, match="secret"):
        Receiver(secrets, store="sqlite:///unused.db")


def test_rejects_nonsense_limits() -> None:
    options: list[dict[str, Any]] = [
        {"workers": 0},
        {"queue_limit": 0},
        {"max_body_bytes": 0},
        {"handler_retries": -1},
    ]
    for option in options:
        with pytest.raises(ValueError):
            Receiver(SECRET, store="sqlite:///unused.db", **option)


async def test_error_bodies_are_json(serve: Serve, db_url: str) -> None:
    client = await serve(make(db_url))
    response = await client.post(PATH, data=b"x", headers={"Content-Type": "text/plain"})
    assert set(json.loads(await response.text())["error"]) == {"code", "message"}
