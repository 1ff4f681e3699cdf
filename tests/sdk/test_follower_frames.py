"""The follower's frame reader (`budai_async.logs._frames`): the server's frames go straight from the
text into `LogEntry`s, and give exactly the entries the dict way builds; every other frame takes the
dict way, and a frame that is no frame is a BudError naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from budai_async.errors import BudError
from budai_async.logs import _frames
from budai_async.logs._frames import Frame, _entry, read_frame
from budai_async.models import ExecutionStatus, LogLevel
from budai_server.logs.frames import lines_frame
from budai_server.logs.store import LogLine

_lines = st.builds(
    LogLine,
    execution_id=st.sampled_from(["exe_a", 'exe_\u00e9"b', "exe_c"]),
    seq=st.integers(min_value=1, max_value=2**53),
    ts=st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False),
    rank=st.integers(min_value=-3, max_value=8),  # unknown ranks become open enum values
    step_id=st.sampled_from([None, "build", "step \u2603", 'quote"d']),
    message=st.text(),
)


def dict_way(text: str | bytes) -> Frame:
    """The frame as decoded to dicts and built entry by entry (the reference)."""
    data = json.loads(text)
    items = (data.get("items") or ()) if data["type"] == "lines" else ()
    status = ExecutionStatus(data.get("status", "completed")) if data["type"] == "end" else None
    return Frame(data["type"], [_entry(item) for item in items], status)


@given(st.lists(_lines, max_size=20))
def test_the_servers_frames_are_read_straight_into_the_same_entries(lines: list[LogLine]) -> None:
    text = lines_frame(lines)
    typed = _frames._typed(text)
    assert typed is not None  # the server's own frames never need the dict way
    assert typed == dict_way(text) == read_frame(text)
    assert all(
        type(entry.level) is LogLevel and entry.timestamp.tzinfo is not None for entry in typed.entries
    )


def _lines_frame(**item: Any) -> str:
    base = {"seq": 1, "timestamp": "2024-05-01T12:00:00.000001Z", "level": "info", "message": "m"}
    return json.dumps({"type": "lines", "items": [{**base, **item}]})


@pytest.mark.parametrize(
    "text",
    [
        _lines_frame(level="TRACE"),  # unknown level: kept as an open enum value
        _lines_frame(level="WARNING"),
        _lines_frame(timestamp="2024-05-01T12:00:00+02:00"),
        _lines_frame(step_id=None, execution_id=None, extra={"x": 1}),
        _lines_frame(timestamp="2024-05-01T12:00:00"),  # no zone: read as UTC (dict way)
        _lines_frame(seq="3"),  # text where a number belongs (dict way, the converter)
        _lines_frame(seq=2.0),
        _lines_frame(message=5),
        _lines_frame(timestamp=1714564800),
        '{"type": "end", "status": "failed"}',
        '{"type": "end"}',
        '{"type": "heartbeat"}',
        '{"type": "subscribed", "items": [1, 2]}',  # a later frame type with other items: ignored
        '{"type": "lines", "items": []}',
        '{"type": "lines"}',  # no items: no lines
        '{"type": "lines", "items": null}',
    ],
)
def test_other_frames_read_as_the_dict_way_reads_them(text: str) -> None:
    assert read_frame(text) == dict_way(text)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"items": []}',
        '{"type": "lines", "items": [1]}',
        '{"type": "end", "status": null}',
    ],
)
def test_a_frame_that_is_no_frame_is_a_bud_error(text: str) -> None:
    with pytest.raises(BudError, match="malformed log stream frame"):
        read_frame(text)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type": "lines", "items": [], "junk": "\xff"}',  # invalid UTF-8 in a key the reader skips
        '{"type": "lines", "items": [{"seq": 1, "timestamp": "2024-05-01T12:00:00Z", "level": "info", '
        '"message": "\ud800"}]}',  # a lone surrogate in a str frame
    ],
)
def test_frames_json_loads_refuses_or_reads_differently_go_the_dict_way(raw: str | bytes) -> None:
    assert _frames._typed(raw) is None
    try:
        expected: object = dict_way(raw)
    except ValueError:
        with pytest.raises(BudError):
            read_frame(raw)
    else:
        assert read_frame(raw) == expected


def test_a_long_number_in_an_unread_key_is_skipped_unread() -> None:
    """The documented difference: `json.loads` refuses more than 4,300 digits, the typed reader
    does not read the key at all, and the frame's lines are read."""
    text = '{"type": "lines", "junk": ' + "9" * 4301 + ', "items": []}'
    with pytest.raises(ValueError):
        json.loads(text)
    assert read_frame(text) == Frame("lines", [], None)
