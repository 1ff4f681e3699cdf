"""The websocket `lines` frame as JSON text, written in one pass over the lines (the stream's hot path).

A follower of a busy execution receives every line once, so this runs per line at full speed. It
writes the same text `json.dumps({"type": "lines", "items": [line.wire() ...]}, separators=(",", ":"))`
gives, without a dict or a method call per line: the execution id and step id are escaped once per
run of equal values (so is the level), and the timestamp's per-second prefix is cached.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from json.encoder import encode_basestring_ascii as _escape

from budai_async.logs.cursor import LEVELS, level_name
from budai_server.logs.store import LogLine

__all__ = ["lines_frame"]

_LEVEL_JSON = {rank: _escape(name) for rank, name in enumerate(LEVELS)}
_NO_STEP = object()  # what no line's step id is, so the first line sets the run's level and step


def lines_frame(lines: Iterable[LogLine]) -> str:
    """`{"type":"lines","items":[...]}` for `lines`, in order (see the module doc)."""
    items: list[str] = []
    append = items.append
    escape, levels = _escape, _LEVEL_JSON
    execution_id: str | None = None
    tail = ""  # ',"execution_id":"…"}' of the current run of one execution id
    rank_now: int | None = None
    step_now: object = _NO_STEP
    middle = ""  # ',"level":…,"step_id":…,"message":' of the current run of one level and step
    cached_second = -1
    prefix = ""
    for line_execution, seq, ts, rank, step_id, message in lines:
        if line_execution is not execution_id:
            execution_id, tail = line_execution, f',"execution_id":{escape(line_execution)}}}'
        if rank != rank_now or step_id is not step_now:
            level = levels.get(rank)
            if level is None:
                level = escape(level_name(rank))
            step_json = "null" if step_id is None else escape(step_id)
            rank_now, step_now = rank, step_id
            middle = f',"level":{level},"step_id":{step_json},"message":'
        second = int(ts)
        micros = round((ts - second) * 1_000_000)
        if micros == 1_000_000:
            second, micros = second + 1, 0
        if second != cached_second:
            cached_second, prefix = second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        append(f'{{"seq":{seq},"timestamp":"{prefix}.{micros:06d}Z"{middle}{escape(message)}{tail}')
    return '{"type":"lines","items":[' + ",".join(items) + "]}"
