"""JSON decoding for answers and frames: msgspec's decoder, the standard library's for what it refuses.

`json.loads` was the largest single cost of reading an execution (about 8.5 µs of a 1.1 kB body,
more than building the typed model); msgspec reads the same text in about a third of that. Its
results are the standard library's (big integers stay ints, duplicate keys keep the last value);
what it refuses that `json.loads` reads (``NaN``, ``1e400``, UTF-16 bodies, lone surrogates) goes
to `json.loads`, so a body decodes to the same value, or fails the same way, as it always did
(`tests/sdk/test_json_decoding.py` holds the two to that). `typed_decode_allowed` guards the
typed fast paths (`_fastdecode`, `logs._frames`), whose decoders skip the keys they do not read
without checking all of them.
"""

from __future__ import annotations

import functools
import json
import re
import sys
from typing import Any

import msgspec

__all__ = ["loads", "typed_decode_allowed"]

_decode = msgspec.json.Decoder().decode


@functools.lru_cache(maxsize=4)
def _long_number(limit: int, text: bool) -> re.Pattern[Any]:
    """A run of more digits than `limit` (the interpreter's int digit limit), in text or bytes."""
    pattern = rf"\d{{{limit + 1}}}"
    return re.compile(pattern if text else pattern.encode())


def loads(data: bytes | str) -> Any:
    """`json.loads(data)`, faster; raises ValueError (`json.JSONDecodeError`) on text that is not JSON."""
    try:
        return _decode(data)
    except (msgspec.DecodeError, UnicodeEncodeError):  # the latter: a str with a lone surrogate
        return json.loads(data)


def typed_decode_allowed(data: bytes | str) -> bool:
    """Whether a typed msgspec decoder may read `data`: False for text `json.loads` would refuse in a
    part a typed decoder skips unchecked (invalid UTF-8, a number past the interpreter's digit limit),
    so a typed fast path never accepts what the standard library's reading rejects."""
    if isinstance(data, bytes) and not data.isascii():
        try:
            data.decode()
        except UnicodeDecodeError:
            return False
    limit = sys.get_int_max_str_digits()  # read per call, as json.loads does (0: no limit)
    if not limit or len(data) <= limit:
        return True
    return _long_number(limit, isinstance(data, str)).search(data) is None
