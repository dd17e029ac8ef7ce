"""Canonical JSON bytes (RFC 8785, JSON Canonicalization Scheme): the only source of bytes we hash or sign.

``rfc8785`` (Trail of Bits) is the reference implementation we trust. It is pure Python and costs
~25 us for a typical event, which is most of the intake budget at 20,000 events/s. For values whose
RFC 8785 form is provably the same as orjson's sorted output we take orjson's (~0.4 us):

- strings: both escape only ``"``, ``\\`` and control characters, with the same short forms;
- object keys in the Basic Multilingual Plane below U+D800: UTF-16 order (RFC 8785) equals orjson's order;
- integers within +-(2**53 - 1): both print them as decimal digits;
- non-integral floats with 1e-5 <= |x| < 1e15: both print the shortest round-trip digits without an exponent.

Anything else (other floats, big integers, astral-plane keys) goes to ``rfc8785``. The equivalence is
checked by property tests in ``tests/unit/ledger/test_canonical.py``.
"""

from __future__ import annotations

from typing import Any

import orjson
import rfc8785

from ledger.errors import MalformedInput

__all__ = ["canonical", "fast_path_safe"]

_MAX_SAFE_INT = 2**53 - 1
_FAST_OPTIONS = orjson.OPT_SORT_KEYS


def canonical(value: Any, *, known_fast: bool = False) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of a JSON value.

    ``value`` is made of dict (str keys), list, str, int, float, bool and None. ``known_fast`` skips the
    walk when the caller has established ``fast_path_safe`` for the value (the log writer does, for a claim
    checked at intake plus its ASCII-keyed string server fields).
    Raises ``MalformedInput`` for values JSON cannot represent canonically (NaN, infinities,
    integers beyond 2**53, non-string keys).

    >>> canonical({"b": 1, "a": [True, None, 0.5, 1e21]})
    b'{"a":[true,null,0.5,1e+21],"b":1}'
    """
    try:
        if known_fast or fast_path_safe(value):
            return orjson.dumps(value, option=_FAST_OPTIONS)
        return rfc8785.dumps(value)
    except orjson.JSONEncodeError as exc:  # nesting deeper than orjson's 255 levels
        raise MalformedInput(f"value nests too deeply to be canonicalized ({exc}): use fewer than 255 levels") from exc
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        raise MalformedInput(f"value cannot be canonicalized (RFC 8785): {exc}") from exc


def fast_path_safe(value: Any) -> bool:
    """True when orjson's sorted output is byte-identical to RFC 8785 for ``value`` (see the module docstring).

    An explicit stack rather than recursion: this runs several times per event on the intake hot path.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is dict:
            for key in item:
                if type(key) is not str or not (key.isascii() or max(key, default="") < "\ud800"):
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is int:
            if not -_MAX_SAFE_INT <= item <= _MAX_SAFE_INT:
                return False
        elif kind is float:
            if item.is_integer() or not 1e-5 <= abs(item) < 1e15:
                return False
        else:
            return False
    return True
