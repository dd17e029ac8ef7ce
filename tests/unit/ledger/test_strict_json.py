"""``strict_json.loads`` (orjson and a counting walk) answers exactly as ``reference_loads`` (the json module
with strict hooks): the same value with the same types, or ``MalformedInput`` with the same message."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import MalformedInput
from ledger.strict_json import _EXPONENT, loads, reference_loads

_KEYS = st.sampled_from(["a", "b", "a:b", ":", "key", "ünï", "日本", "\\", "\"", "x y"])
_STRINGS = st.one_of(_KEYS, st.text(max_size=12), st.sampled_from(["2026-11-23T08:00:00Z", "ab" * 32, "a:1,b:2"]))
_NUMBERS = st.one_of(
    st.integers(-(2**70), 2**70), st.sampled_from([2**53 - 1, 2**53, -(2**53), 2**64, 2**64 - 1, -(2**63) - 1]),
    st.floats(allow_nan=False, allow_infinity=False), st.sampled_from([1e308, -0.0, 5e-324, 0.1]))
_SCALARS = st.one_of(st.none(), st.booleans(), _NUMBERS, _STRINGS)


def _members(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """An object's text, duplicate keys allowed (a list of pairs, not a dict)."""
    return st.lists(st.tuples(_KEYS, children), max_size=4).map(
        lambda pairs: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in pairs) + "}")


_TEXT = st.recursive(_SCALARS.map(json.dumps),
                     lambda children: st.one_of(st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
                                                _members(children)), max_leaves=12)
_ASCII_ESCAPED = st.recursive(_SCALARS, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(_KEYS, c, max_size=3)),
                              max_leaves=8).map(lambda v: json.dumps(v, ensure_ascii=True))


def _answer(parse: Any, data: bytes) -> tuple[str, Any]:
    try:
        return "value", _typed(parse(data))
    except MalformedInput as exc:
        return "refused", str(exc)


def _typed(value: Any) -> Any:
    """``value`` with every scalar tagged by its type (1 and 1.0, 0.0 and -0.0 must not compare equal)."""
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    return (type(value).__name__, repr(value))


def _same(data: bytes) -> None:
    assert _answer(loads, data) == _answer(reference_loads, data)


@settings(max_examples=600, deadline=None)
@given(text=st.one_of(_TEXT, _ASCII_ESCAPED), spaces=st.sampled_from(["", " ", "\n", "\t "]))
def test_loads_agrees_with_reference_on_json_texts(text: str, spaces: str) -> None:
    _same((spaces + text + spaces).encode())


@settings(max_examples=600, deadline=None)
@given(text=_TEXT, position=st.integers(0, 200), junk=st.sampled_from(
    [b":", b",", b"\"", b"\\u003a", b"\\ud800", b"1234567890123456789012", b"NaN", b"1e400", b"\xff", b"}", b"\x00"]))
def test_loads_agrees_with_reference_on_mutated_texts(text: str, position: int, junk: bytes) -> None:
    data = text.encode()
    cut = min(position, len(data))
    _same(data[:cut] + junk + data[cut:])
    _same(data[:cut] + data[cut + 1:])


@pytest.mark.parametrize("data", [
    b'{"a":1,"a":2}', b'{"x":"\\u003a","a":1,"a":2}', b'{"a:":1,"a:":2}', b'[9007199254740992]',
    b'[18446744073709551616]', b'[-9223372036854775809]', b"[" * 100 + b"]" * 100, b"[" * 2000 + b"]" * 2000,
    b'{"a":1e400}', b'"\\ud800"', b"\xef\xbb\xbf{}", b'{"s":"2026-11-23T08:00:00Z","t":"a:b:c"}', b"",
])
def test_loads_agrees_with_reference_on_known_traps(data: bytes) -> None:
    _same(data)


def test_loads_refuses_a_duplicate_key_hidden_behind_an_escaped_colon() -> None:
    with pytest.raises(MalformedInput, match="duplicate key 'a' in an object"):
        loads(b'{"a":1,"a":2,"x":"\\u003a"}')


@settings(max_examples=400, deadline=None)
@given(number=st.one_of(st.floats(min_value=2.0**63, allow_infinity=False),
                        st.floats(max_value=-(2.0**63), allow_infinity=False),
                        st.integers(2**64, 2**300).map(float), st.integers(-(2**300), -(2**63) - 1).map(float)))
def test_orjson_writes_every_huge_float_with_the_exponent_loads_looks_for(number: float) -> None:
    """``loads`` skips its huge-float walk when orjson's text of the value has no ``e+``: sound only while
    orjson writes every float of magnitude 2**63 or more that way (an orjson upgrade that changed it fails here)."""
    for text in (orjson.dumps(number), orjson.dumps({"a": [number]}), orjson.dumps([number, "x"]),
                 orjson.dumps({"a": number, "b": 1})):
        assert _EXPONENT.search(text), text


@settings(max_examples=200, deadline=None)
@given(signature=st.binary(min_size=64, max_size=80).map(lambda b: base64.b64encode(b).decode()))
def test_a_base64_string_never_looks_like_a_huge_float_to_loads(signature: str) -> None:
    """What lets a body of individually signed events skip the walk: base64 has no ``,``, ``]`` or ``}``."""
    assert not _EXPONENT.search(orjson.dumps({"events": [{"signature": signature + "e+1"}]}))


@pytest.mark.parametrize("data", [b'{"n":18446744073709551616}', b'[1, -9223372036854775809]',
                                  b'{"big":123456789012345678901234567890,"x":"no exponent here"}',
                                  b'{"f":1e19}', b'{"f":9.3E18}'])
def test_loads_still_refuses_or_keeps_huge_numbers_as_the_reference(data: bytes) -> None:
    _same(data)
