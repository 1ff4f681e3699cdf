"""Pure pieces of the SDK's log reading: query building, URLs, wire items to `LogEntry`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from budai_async._requester import websocket_headers
from budai_async.errors import ValidationError
from budai_async.logs._frames import _entry
from budai_async.logs._reader import build_query, stream_url
from budai_async.logs._stream import FollowOptions
from budai_async.models import LogEntry, LogLevel


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8080", "ws://127.0.0.1:8080/budpipeline/executions/exec_1/logs/stream"),
        ("https://bud.example/api/", "wss://bud.example/api/budpipeline/executions/exec_1/logs/stream"),
    ],
)
def test_stream_url(base: str, expected: str) -> None:
    assert stream_url(base, "exec_1") == expected


def test_stream_url_quotes_the_id_and_refuses_other_schemes() -> None:
    assert stream_url("http://h", "a/b c").endswith("/executions/a%2Fb%20c/logs/stream")
    with pytest.raises(ValidationError):
        stream_url("ftp://h", "x")


def test_stream_headers_carry_the_bearer_key_only_when_given() -> None:
    assert websocket_headers("k")["Authorization"] == "Bearer k"
    assert "Authorization" not in websocket_headers(None)
    assert websocket_headers(None)["User-Agent"].startswith("budai-async/")


def test_build_query_canonicalises_and_keeps_relative_since_for_rest() -> None:
    assert build_query() == {}
    assert build_query(level="WARN", step_id="s", since="5m") == {
        "level": "warning",
        "step_id": "s",
        "since": "5m",
    }
    assert build_query(since=timedelta(minutes=2)) == {"since": "120s"}
    aware = datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    assert build_query(since=aware) == {"since": "2024-05-01T10:00:00Z"}
    assert build_query(since=datetime(2024, 5, 1, 12)) == {"since": "2024-05-01T12:00:00Z"}


def test_a_follower_pins_a_relative_since_to_an_instant() -> None:
    before = datetime.now(UTC)
    pinned = build_query(since="10m", absolute_since=True)["since"]
    instant = datetime.fromisoformat(pinned)
    assert before - timedelta(minutes=10, seconds=1) <= instant <= datetime.now(UTC) - timedelta(minutes=10)
    by_delta = datetime.fromisoformat(build_query(since=timedelta(hours=1), absolute_since=True)["since"])
    assert abs((datetime.now(UTC) - by_delta) - timedelta(hours=1)) < timedelta(seconds=5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"level": "loud"}, "level"),
        ({"since": "soon"}, "since"),
        ({"since": timedelta(seconds=-1)}, "negative"),
    ],
)
def test_build_query_rejects_bad_filters(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        build_query(**options)  # type: ignore[arg-type]


def test_entry_reads_the_servers_shape() -> None:
    entry = _entry(
        {
            "seq": 7,
            "timestamp": "2024-05-01T12:00:00.250000Z",
            "level": "warning",
            "step_id": "deploy",
            "message": "slow",
            "execution_id": "exec_1",
        }
    )
    assert entry == LogEntry(
        seq=7,
        timestamp=datetime(2024, 5, 1, 12, 0, 0, 250000, tzinfo=UTC),
        level=LogLevel.WARNING,
        message="slow",
        step_id="deploy",
        execution_id="exec_1",
    )


def test_entry_falls_back_to_the_converter_for_other_shapes() -> None:
    """Epoch timestamps, missing optional keys and unknown levels still parse."""
    entry = _entry({"seq": "3", "timestamp": 1714564800, "level": "TRACE", "message": "x"})
    assert entry.seq == 3
    assert entry.timestamp == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert entry.level == "trace" and entry.step_id is None
    naive = _entry({"seq": 1, "timestamp": "2024-05-01T12:00:00", "level": "info", "message": "m"})
    assert naive.timestamp.tzinfo is UTC


@pytest.mark.parametrize("field", ["buffer_lines", "reconnect_base_seconds", "idle_timeout_seconds"])
def test_follow_options_refuse_non_positive_values(field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        FollowOptions(**{field: 0})
    assert FollowOptions(give_up_after_seconds=None).give_up_after_seconds is None
