"""The stream's `lines` frame text is exactly what json.dumps writes for the lines' wire form."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from budai_server.logs.frames import lines_frame
from budai_server.logs.store import LogLine

_lines = st.builds(
    LogLine,
    execution_id=st.sampled_from(["exe_a", 'exe_\u00e9"b', "exe_c"]),
    seq=st.integers(min_value=1, max_value=2**53),
    ts=st.floats(min_value=0, max_value=4_102_444_800, allow_nan=False),
    rank=st.integers(min_value=-3, max_value=8),
    step_id=st.sampled_from([None, "build", "step \u2603", 'quote"d']),
    message=st.text(),
)


@given(st.lists(_lines, max_size=20))
def test_lines_frame_is_the_json_of_the_wire_form(lines: list[LogLine]) -> None:
    expected = json.dumps({"type": "lines", "items": [line.wire() for line in lines]}, separators=(",", ":"))
    assert lines_frame(lines) == expected


def test_runs_of_equal_ids_and_steps_are_written_for_every_line() -> None:
    lines = [
        LogLine("exe_1", 1, 1.5, 1, "a", "one"),
        LogLine("exe_1", 2, 1.5, 1, None, "two"),
        LogLine("exe_2", 3, 2.999_999_9, 3, None, "three"),
    ]
    items = json.loads(lines_frame(lines))["items"]
    assert [(i["execution_id"], i["step_id"], i["timestamp"]) for i in items] == [
        ("exe_1", "a", "1970-01-01T00:00:01.500000Z"),
        ("exe_1", None, "1970-01-01T00:00:01.500000Z"),
        ("exe_2", None, "1970-01-01T00:00:03.000000Z"),
    ]
