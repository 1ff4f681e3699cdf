"""`budai_async._json.loads` (msgspec first, the standard library for what msgspec refuses) against
`json.loads`: the same value, or the same failure, for any body, so answers decode as they always did."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budai_async._json import loads
from budai_async._responses import decode_body


def stdlib_decode_body(body: bytes) -> Any:
    """`decode_body` as it was before msgspec: `json.loads`, else the text."""
    if not body:
        return None
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace")


def same(left: Any, right: Any) -> bool:
    """Equal, types included (1 is not 1.0 or True), NaN equal to NaN."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or left == right
    if isinstance(left, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[key], right[key]) for key in left)
    return bool(left == right)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


@settings(max_examples=400)
@given(json_values)
def test_any_json_text_decodes_as_the_standard_library_does(value: Any) -> None:
    """Big integers, NaN/Infinity (which msgspec refuses), unicode, nesting: the same value."""
    text = json.dumps(value)
    assert same(loads(text.encode()), json.loads(text))
    assert same(loads(text), json.loads(text))


@settings(max_examples=400)
@given(st.binary(max_size=64))
def test_any_bytes_give_the_same_answer_as_before(body: bytes) -> None:
    assert same(decode_body(body), stdlib_decode_body(body))


@pytest.mark.parametrize(
    "body",
    [
        b"[NaN, Infinity, -Infinity]",  # the stdlib reads them; msgspec refuses
        b"[1e400]",  # out of a double's range: the stdlib says inf
        b"123456789012345678901234567890",  # stays an int
        '{"a": "\u00e9"}'.encode("utf-16"),  # the stdlib detects UTF-16/32 in bytes
        b'"\\ud800"',  # a lone surrogate escape
        b'{"a": 1, "a": 2}',  # the last duplicate wins
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark
        b"{}x",  # trailing text: not JSON, so the text
        b'"a\x01b"',  # a raw control character: not JSON
        b'"\xff"',  # not UTF-8
        b"9" * 5000,  # past the stdlib's int digit limit: not read as JSON
    ],
)
def test_edge_cases_decode_as_before(body: bytes) -> None:
    assert same(decode_body(body), stdlib_decode_body(body))


def test_text_that_is_not_json_raises_the_standard_library_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        loads(b"{not json")


def test_a_str_with_a_lone_surrogate_decodes_as_the_standard_library_does() -> None:
    text = '{"msg": "\ud800"}'  # a surrogate character in the text, not an escape
    assert loads(text) == json.loads(text) == {"msg": "\ud800"}
