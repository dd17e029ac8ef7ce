"""Strict JSON text (RFC 8259 as restricted by I-JSON, RFC 7493): what every request body must be.

A body is parsed once, by ``loads``, and refused with ``MalformedInput`` when it is not UTF-8, has a
duplicate object key (parsers disagree on which one wins, so a signed value could be read two ways), a
non-finite number (``NaN``, ``Infinity``, or ``1e400``, which overflows to infinity and would be stored as
``null``), an integer beyond +-(2**53 - 1) (RFC 8785 and every JavaScript client lose its digits) or a lone
UTF-16 surrogate (no UTF-8 text can carry it). These are the checks the verifier makes on evidence.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from ledger.errors import MalformedInput

__all__ = ["MAX_SAFE_INTEGER", "loads", "reference_loads"]

MAX_SAFE_INTEGER = 2**53 - 1
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def loads(data: bytes, what: str = "body") -> Any:
    """The JSON value of ``data``, exactly as ``reference_loads`` answers (value, or ``MalformedInput`` with
    the same message), several times faster for the bodies intake sees.

    orjson parses (strict RFC 8259: UTF-8, no NaN or infinities, no lone surrogates, no BOM) and writes the
    value again with its 53-bit integer limit, which refuses the unsafe integers. Duplicate keys are
    counted: with no ``\\u`` escape in the text, every ``:`` in it is inside a string or separates one
    member, and so it is in orjson's output of the value (which has every string colon and one per member
    left after duplicates); the counts differ exactly when a key was given twice. Integers beyond 64 bits,
    which orjson reads as floats, are found by one walk, taken only when orjson's text of the value has an
    exponent ``e+`` followed by the end of a number (its form of every float that large; a string holding that
    merely costs the walk). Anything unusual (an escape, a parse error, nesting
    orjson will not write, a finding) goes to ``reference_loads``, which decides and words the refusal.

    >>> loads(b'{"a": [1, 2.5, "x:y"]}')
    {'a': [1, 2.5, 'x:y']}
    >>> loads(b'{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    ledger.errors.MalformedInput: body is not strict JSON: duplicate key 'a' in an object
    """
    if b"\\u" in data:
        return reference_loads(data, what)
    try:
        value = orjson.loads(data)
        again = orjson.dumps(value, option=orjson.OPT_STRICT_INTEGER)
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        return reference_loads(data, what)
    if again.count(b":") != data.count(b":") or (_EXPONENT.search(again) and _has_huge_float(value)):
        return reference_loads(data, what)
    return value


_EXPONENT = re.compile(rb"e\+[0-9]+(?:[],}]|\Z)")
"""What orjson writes for every float of magnitude 1e16 or more (``1.8446744073709552e+19``), followed by what
can follow a number in its compact text (``,``, ``]``, ``}`` or the end): a value whose orjson text has no
match holds no huge float, so the walk is skipped (one C search; a test pins the form). A base64 string (an
event's signature) may hold ``e+`` but never one of those after it, so signed bodies do not cost the walk."""


_HUGE = float(2**63)


def _has_huge_float(value: Any) -> bool:
    """Whether ``value`` holds a float of magnitude 2**63 or more (what orjson makes of an integer beyond 64
    bits; a float written that large is rare and goes to the reference just the same)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is dict:
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        elif kind is float and not -_HUGE < item < _HUGE:
            return True
    return False


def reference_loads(data: bytes, what: str = "body") -> Any:
    """The JSON value of ``data``; raises ``MalformedInput`` naming ``what`` and the fault (the reference
    parser: ``loads`` answers exactly as this does).

    >>> reference_loads(b'{"a": [1, 2.5, "x"]}')
    {'a': [1, 2.5, 'x']}
    >>> reference_loads(b'{"a": 1, "a": 2}')
    Traceback (most recent call last):
    ...
    ledger.errors.MalformedInput: body is not strict JSON: duplicate key 'a' in an object
    >>> reference_loads(b'{"limit": 1e400}')
    Traceback (most recent call last):
    ...
    ledger.errors.MalformedInput: body is not strict JSON: number 1e400 is not finite
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedInput(f"{what} is not UTF-8: {exc}") from exc
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_float=_finite, parse_int=_safe_int,
                           parse_constant=_refuse_constant)
    except RecursionError as exc:
        raise MalformedInput(f"{what} nests too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and the hooks' refusals
        raise MalformedInput(f"{what} is not strict JSON: {exc}") from exc
    if _SURROGATE_ESCAPE.search(text):  # rare: let orjson judge whether each \\uD8xx escape has its pair
        try:
            orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            raise MalformedInput(f"{what} is not strict JSON: {exc}") from exc
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: find the first key given twice, to name it
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r} in an object")
            seen.add(key)
    return result


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text} is not finite")
    return number


def _safe_int(text: str) -> int:
    number = int(text)
    if len(text) > 15 and abs(number) > MAX_SAFE_INTEGER:  # 15 digits are always safe
        raise ValueError(f"integer {text} is beyond +-(2**53 - 1); send it as a string")
    return number


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
