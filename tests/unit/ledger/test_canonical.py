"""RFC 8785 canonical bytes: the examples of the RFC, and the orjson fast path equal to rfc8785 everywhere."""

from __future__ import annotations

import math
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical
from ledger.errors import MalformedInput


def test_canonical_sorts_keys_and_strips_whitespace() -> None:
    assert canonical({"b": [1, {"d": 2, "c": None}], "a": "x"}) == b'{"a":"x","b":[1,{"c":null,"d":2}]}'


def test_canonical_rfc8785_number_examples() -> None:
    # RFC 8785 §3.2.2.3 / Appendix B
    assert canonical([1e21, 1e-7, 0.000001, 1.0, -0.0, 333333333.3333333]) == \
        b"[1e+21,1e-7,0.000001,1,0,333333333.3333333]"


def test_canonical_rfc8785_string_example() -> None:
    assert canonical("\u20ac$\u000f\nA'B\"\\\\\"/") == b'"\xe2\x82\xac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'


def test_canonical_sorts_keys_by_utf16_code_units() -> None:
    # An astral-plane key sorts before U+FB33 in UTF-16 (surrogates 0xD8xx < 0xFB33), not by code point.
    assert canonical({"\ufb33": 1, "\U0001f600": 2}) == rfc8785.dumps({"\ufb33": 1, "\U0001f600": 2})
    assert canonical({"\ufb33": 1, "\U0001f600": 2}).index("😀".encode()) < canonical(
        {"\ufb33": 1, "\U0001f600": 2}).index("\ufb33".encode())


@pytest.mark.parametrize("value", [math.nan, math.inf, 2**60])
def test_canonical_refuses_unrepresentable_numbers(value: Any) -> None:
    with pytest.raises(MalformedInput, match="cannot be canonicalized"):
        canonical({"x": value})


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_canonical_equals_rfc8785_reference(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=1e-6, max_value=1e16, allow_nan=False) | st.floats(min_value=-1e16, max_value=-1e-6))
def test_canonical_equals_rfc8785_for_measurements(value: float) -> None:
    assert canonical({"lel_pct": value}) == rfc8785.dumps({"lel_pct": value})
