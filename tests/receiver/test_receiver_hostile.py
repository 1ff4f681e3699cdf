"""The receiver under the bad-input battery of issue 14: forged, stale, replayed, oversized, nested,
wrong content type, and the same webhook-id delivered many times at once - never a 500, and every
authentic webhook-id dispatched exactly once (SQLite and Redis stores)."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from rx_support import FOREIGN_SECRET, PATH, REDIS_URL, SECRET, Recorder, Serve, payload, signed, wait_for

from budai_async.webhooks import sign
from receiver import Receiver
from receiver.stores.redis import RedisStore

NOW = 1_700_000_000
LIMIT = 4096


def deep(levels: int) -> Any:
    value: Any = "bottom"
    for _ in range(levels):
        value = {"k": [value]}
    return value


async def start(serve: Serve, store: Any) -> tuple[Any, Receiver, Recorder]:
    recorder = Recorder()
    receiver = Receiver(
        SECRET, store=store, handlers=recorder.handlers, clock=lambda: NOW, max_body_bytes=LIMIT
    )
    return await serve(receiver), receiver, recorder


@pytest.fixture(params=["sqlite", "redis"])
async def target(request: pytest.FixtureRequest, serve: Serve, db_url: str) -> tuple[Any, Receiver, Recorder]:
    if request.param == "redis":
        store: Any = RedisStore(REDIS_URL, prefix=request.getfixturevalue("redis_prefix"))
    else:
        store = db_url
    return await start(serve, store)


def cases() -> list[tuple[str, Any, dict[str, str], int]]:
    """(name, body, headers, expected status) for every hostile delivery."""
    body = payload(f"exec_{uuid.uuid4().hex}")
    msg = f"msg_{uuid.uuid4().hex}"
    nested = b"[" * 2000 + b"]" * 2000  # under the size limit, deeper than the parser recurses
    nested_event = b'{"type":"execution.completed","execution_id":"exec_n","x":' + nested + b"}"
    big = b"x" * (LIMIT + 1)
    huge_nested = b"[" * 50_000 + b"]" * 50_000
    no_type = {k: v for k, v in signed(body, msg, timestamp=NOW).items() if k != "Content-Type"}
    form = "application/x-www-form-urlencoded"
    return [
        ("forged", body, signed(body, msg, secret=FOREIGN_SECRET, timestamp=NOW), 401),
        ("unsigned", body, {"Content-Type": "application/json", "webhook-id": msg}, 401),
        ("stale", body, signed(body, msg, timestamp=NOW - 301), 401),
        ("future", body, signed(body, msg, timestamp=NOW + 301), 401),
        ("tampered", body + b" ", signed(body, msg, timestamp=NOW), 401),
        ("oversized", big, signed(big, msg, timestamp=NOW), 413),
        ("oversized_chunked", chunked(big), signed(big, msg, timestamp=NOW), 413),
        ("huge_nested", huge_nested, signed(huge_nested, msg, timestamp=NOW), 413),
        ("nested_array", nested, signed(nested, msg, timestamp=NOW), 400),
        ("nested_in_event", nested_event, signed(nested_event, msg, timestamp=NOW), 400),
        ("text_plain", body, signed(body, msg, timestamp=NOW, content_type="text/plain"), 415),
        ("no_content_type", body, no_type, 415),
        ("form", body, signed(body, msg, timestamp=NOW, content_type=form), 415),
        ("not_utf8", b"\xff\xfe\x00", signed(b"\xff\xfe\x00", msg, timestamp=NOW), 400),
        ("nan", b'{"type": NaN}', signed(b'{"type": NaN}', msg, timestamp=NOW), 400),
    ]


def chunked(data: bytes) -> Any:
    """A body sent without Content-Length (chunked), so only reading can find its size."""

    async def parts() -> Any:
        for index in range(0, len(data), 1024):
            yield data[index : index + 1024]

    return parts()


@pytest.mark.parametrize("index", range(len(cases())))
async def test_hostile_deliveries_are_refused_and_never_dispatched(
    target: tuple[Any, Receiver, Recorder], index: int
) -> None:
    client, receiver, recorder = target
    name, body, headers, expected = cases()[index]
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == expected, (name, await response.text())
    assert json.loads(await response.text())["error"]["code"]
    msg = headers.get("webhook-id")
    if msg:
        assert await receiver.store.state(msg) is None
    assert recorder.ids() == []
    health = await client.get("/healthz")
    assert health.status == 200


async def test_replays_and_concurrent_duplicates_dispatch_once(
    target: tuple[Any, Receiver, Recorder],
) -> None:
    client, _receiver, recorder = target
    ids = [f"exec_{uuid.uuid4().hex}" for _ in range(5)]
    deliveries = []
    for execution_id in ids:
        body = payload(execution_id)
        msg = f"msg_{uuid.uuid4().hex}"
        for offset in range(8):  # the same webhook-id, re-signed at other times (a sender's retries)
            deliveries.append((body, signed(body, msg, timestamp=NOW - offset)))
        deliveries.append((body, signed(body, msg, timestamp=NOW)))  # a byte-exact replay
    responses = await asyncio.gather(*(client.post(PATH, data=body, headers=h) for body, h in deliveries))
    statuses = [response.status for response in responses]
    assert sorted(set(statuses)) == [200, 202] and statuses.count(202) == len(ids), statuses
    await wait_for(lambda: sorted(recorder.ids()) == sorted(ids))
    await asyncio.sleep(0.2)  # nothing else arrives later
    assert sorted(recorder.ids()) == sorted(ids)
    assert all(recorder.calls.get(name) == len(ids) for name in ("completed", "any"))


async def test_a_replayed_signature_for_another_body_is_refused(
    target: tuple[Any, Receiver, Recorder],
) -> None:
    client, receiver, recorder = target
    body = payload("exec_a")
    msg = f"msg_{uuid.uuid4().hex}"
    headers = signed(body, msg, timestamp=NOW)
    assert (await client.post(PATH, data=body, headers=headers)).status == 202
    other = payload("exec_b")
    answer = await client.post(PATH, data=other, headers=headers)  # the captured headers, a new body
    assert answer.status == 401
    forged_id = {**headers, "webhook-id": f"msg_{uuid.uuid4().hex}"}  # the captured signature, a new id
    assert (await client.post(PATH, data=body, headers=forged_id)).status == 401
    await wait_for(lambda: recorder.ids() == ["exec_a"])
    assert sign(SECRET, msg, NOW, body) in headers["webhook-signature"]
    assert await receiver.store.state(forged_id["webhook-id"]) is None
