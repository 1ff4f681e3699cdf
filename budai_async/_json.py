"""JSON decoding for answers and frames: msgspec's decoder, the standard library's for what it refuses.

`json.loads` was the largest single cost of reading an execution (about 8.5 µs of a 1.1 kB body,
more than building the typed model); msgspec reads the same text in about a third of that. Its
results are the standard library's (big integers stay ints, duplicate keys keep the last value);
what it refuses that `json.loads` reads (``NaN``, ``1e400``, UTF-16 bodies, lone surrogates) goes
to `json.loads`, so a body decodes to the same value, or fails the same way, as it always did
(`tests/sdk/test_json_decoding.py` holds the two to that).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

__all__ = ["loads"]

_decode = msgspec.json.Decoder().decode


def loads(data: bytes | str) -> Any:
    """`json.loads(data)`, faster; raises ValueError (`json.JSONDecodeError`) on text that is not JSON."""
    try:
        return _decode(data)
    except (msgspec.DecodeError, ValueError):  # ValueError: Unicode errors (lone surrogates, older msgspec)
        return json.loads(data)
