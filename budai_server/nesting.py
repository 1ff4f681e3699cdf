"""JSON nesting depth, measured on the raw text before parsing (pure).

`json.loads` recurses once per level, so a body of a few thousand ``[`` raises `RecursionError`
inside the parser, and every later walk over the value (validation, templates, `json.dumps`)
would recurse as deep. Measuring the depth first lets a route answer 422 naming the limit instead.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

__all__ = ["DEFAULT_MAX_DEPTH", "exceeds_depth"]

#: Deepest nesting of arrays and objects a request body, frame or token may have.
DEFAULT_MAX_DEPTH = 64

# A JSON string, escapes included: brackets inside strings do not count.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Keep only brackets, objects' turned into arrays' (only the nesting matters); then +1 / -1.
_DROP = bytes(i for i in range(256) if i not in b"[]{}")
_AS_ARRAY = bytes.maketrans(b"{}", b"[]")
_SIGNED = bytes.maketrans(b"[]", b"\x01\xff")


def exceeds_depth(raw: bytes | str, limit: int) -> bool:
    """True when arrays and objects in `raw` nest deeper than `limit` levels.

    Mostly at C speed: strings are cut out, the brackets kept, a run of more than `limit` openers
    answers at once, else the running depth is summed. Malformed JSON may be over-counted past its
    first error, never under-counted before it, so a False answer is safe to parse.
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", data).translate(_AS_ARRAY, _DROP)
    if b"[" * (limit + 1) in brackets:
        return True
    return max(accumulate(array("b", brackets.translate(_SIGNED))), default=0) > limit
