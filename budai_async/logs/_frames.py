"""The log stream's frames read into `LogEntry`s: straight from the text for the server's shape.

A follower of a busy execution reads every line once, so this runs per line at full speed. msgspec
decodes a `lines` frame directly into the attrs `LogEntry` (it checks each value's type and parses
the timestamp in C): about 0.4 µs a line, against 1.6 µs for decoding to dicts and building each
entry in Python. A frame that does not fit (another shape, a value of another type, a timestamp
without a zone, invalid JSON) goes the dict way, which reads any shape and names what is wrong;
`tests/sdk/test_follower_frames.py` holds the two to the same entries.

Keys of a frame or a line that are not read are skipped unread, as the dict way ignores them: the
one difference is that a number of more than 4,300 digits there (which `json.loads` refuses) does
not make the frame malformed. Checking for that would cost more than reading the lines.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

import msgspec

from budai_async._convert import converter
from budai_async._json import loads as json_loads
from budai_async.errors import BudError
from budai_async.models import ExecutionStatus, LogEntry, LogLevel

__all__ = ["Frame", "read_frame"]

_LEVELS: dict[Any, LogLevel] = {level.value: level for level in LogLevel}  # a dict hit per line


class Frame(NamedTuple):
    """One frame: its type, its log lines (`lines`), and the final status (`end`)."""

    kind: str
    entries: list[LogEntry]
    status: ExecutionStatus | None


class _Wire(msgspec.Struct):
    type: str
    items: list[LogEntry] = []
    status: Any = msgspec.UNSET


_decode = msgspec.json.Decoder(_Wire).decode


def _entry(item: Mapping[str, Any]) -> LogEntry:
    """A `LogEntry` from one wire item as a dict; the shared converter for shapes not our own."""
    try:
        stamp = datetime.fromisoformat(item["timestamp"])
        return LogEntry(
            seq=int(item["seq"]),
            timestamp=stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC),
            level=_LEVELS.get(item["level"]) or LogLevel(item["level"]),
            message=str(item["message"]),
            step_id=item.get("step_id"),
            execution_id=item.get("execution_id"),
        )
    except (KeyError, TypeError, ValueError):
        return converter.structure(item, LogEntry)


def _final_status(kind: str, status: Any) -> ExecutionStatus | None:
    return ExecutionStatus(status) if kind == "end" else None


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode()
    except UnicodeDecodeError:
        return False
    return True


def _typed(raw: str | bytes) -> Frame | None:
    if isinstance(raw, bytes) and not raw.isascii() and not _utf8(raw):
        return None  # the typed decoder would skip unread keys holding invalid UTF-8
    try:
        wire = _decode(raw)
    except (msgspec.DecodeError, ValueError):  # ValueError: Unicode errors (lone surrogates, older msgspec)
        return None
    for entry in wire.items:
        if entry.timestamp.tzinfo is None:  # the dict way reads a zoneless time as UTC
            return None
    try:
        status = _final_status(wire.type, "completed" if wire.status is msgspec.UNSET else wire.status)
    except ValueError:  # an `end` status that is no text: the dict way reports it
        return None
    return Frame(wire.type, wire.items, status)


def read_frame(raw: str | bytes) -> Frame:
    """The frame in `raw`; raises BudError for one that is not a JSON object with a `type`."""
    frame = _typed(raw)
    if frame is not None:
        return frame
    try:
        data = json_loads(raw)
        kind = data["type"]
        items = (data.get("items") or ()) if kind == "lines" else ()  # no items: no lines
        entries = [_entry(item) for item in items]
        return Frame(kind, entries, _final_status(kind, data.get("status", "completed")))
    except Exception as error:  # any shape: not JSON, no `type`, items that are no objects ...
        raise BudError(f"malformed log stream frame: {raw[:200]!r}") from error
