"""Strict JSON reading, RFC 8785 canonical bytes and typed field access for the verifier's parsers.

Hashes are lower-case hex and signatures standard padded base64 (docs/formats.md, introduction); anything
else is ``MalformedInput``. Only ``canonical`` produces bytes that are hashed or signature-checked.

``loads`` refuses, for every format the verifier reads (docs/formats.md, "Strictness"): duplicate keys,
NaN and infinities (``1e400`` included), integers outside ±(2^53 − 1), nesting deeper than
``MAX_DEPTH`` and strings that are not Unicode scalar values (lone surrogates), so that no later step
meets a value it cannot hash, copy or print.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Mapping
from typing import Any

import rfc8785

from verifier.errors import MalformedInput

__all__ = [
    "MAX_DEPTH",
    "MAX_INT",
    "JSONObject",
    "b64_field",
    "canonical",
    "hex_field",
    "hex_list_field",
    "int_field",
    "list_field",
    "loads",
    "object_field",
    "optional_hex_field",
    "optional_int_field",
    "require_fields",
    "require_object",
    "str_field",
    "strict_b64decode",
]

JSONObject = Mapping[str, Any]
MAX_INT = 2**53 - 1
MAX_DEPTH = 64
_HEX_DIGITS = frozenset("0123456789abcdef")
_SURROGATE = re.compile("[\ud800-\udfff]")


def canonical(value: Any) -> bytes:
    """Return the RFC 8785 (JCS) bytes of a JSON value; ``MalformedInput`` if it has no canonical form."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MalformedInput(f"value cannot be canonicalized (rfc 8785): {exc}") from exc


def loads(data: bytes | str, what: str) -> Any:
    """Parse JSON text strictly (see the module docstring); ``what`` names the input in messages.

    Raises ``MalformedInput`` saying what was refused.
    """
    try:
        value = json.loads(
            data,
            object_pairs_hook=_unique_keys,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_finite_float,
        )
    except _OutOfRange as exc:
        raise MalformedInput(f"{what}: {exc}") from exc
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedInput(f"{what} is not valid json: {exc}") from exc
    _check_tree(value, what)
    return value


def require_fields(
    obj: JSONObject, where: str, *, required: Collection[str], optional: Collection[str] = ()
) -> None:
    """Refuse an object that lacks one of ``required`` or has a field in neither list (``MalformedInput``)."""
    for key in required:
        _get(obj, key, where)
    unknown = sorted(set(obj) - set(required) - set(optional))
    if unknown:
        allowed = ", ".join(repr(k) for k in [*required, *optional])
        raise MalformedInput(f"{where} has unknown field {unknown[0]!r}; allowed: {allowed}")


def require_object(value: Any, where: str) -> JSONObject:
    """Return ``value`` if it is a JSON object, else raise ``MalformedInput`` naming ``where``."""
    if not isinstance(value, dict):
        raise MalformedInput(f"{where} must be a json object, got {_kind(value)}")
    return value


def object_field(obj: JSONObject, key: str, where: str) -> JSONObject:
    """The object under ``key``."""
    return require_object(_get(obj, key, where), f"{where}.{key}")


def str_field(obj: JSONObject, key: str, where: str) -> str:
    """The string under ``key``."""
    value = _get(obj, key, where)
    if not isinstance(value, str):
        raise MalformedInput(f"{where}.{key} must be a string, got {_kind(value)}")
    return value


def int_field(obj: JSONObject, key: str, where: str, *, maximum: int = MAX_INT) -> int:
    """The integer in [0, ``maximum``] under ``key`` (booleans and floats refused)."""
    value = _get(obj, key, where)
    if type(value) is not int or not 0 <= value <= maximum:
        raise MalformedInput(f"{where}.{key} must be an integer in [0, {maximum}], got {_short(value)}")
    return value


def list_field(obj: JSONObject, key: str, where: str, *, max_items: int) -> list[Any]:
    """The list under ``key``, of at most ``max_items`` items."""
    value = _get(obj, key, where)
    if not isinstance(value, list):
        raise MalformedInput(f"{where}.{key} must be a list, got {_kind(value)}")
    if len(value) > max_items:
        raise MalformedInput(f"{where}.{key} has {len(value)} items, want at most {max_items}")
    return value


def optional_int_field(obj: JSONObject, key: str, where: str) -> int | None:
    """The non-negative integer under ``key``, or ``None`` when the value is null."""
    return None if _get(obj, key, where) is None else int_field(obj, key, where)


def hex_field(obj: JSONObject, key: str, where: str, *, size: int = 32) -> bytes:
    """The ``size`` bytes written as lower-case hex under ``key``."""
    return _hex(str_field(obj, key, where), f"{where}.{key}", size)


def optional_hex_field(obj: JSONObject, key: str, where: str, *, size: int = 32) -> bytes | None:
    """Like ``hex_field``, or ``None`` when the value is null."""
    return None if _get(obj, key, where) is None else hex_field(obj, key, where, size=size)


def hex_list_field(obj: JSONObject, key: str, where: str, *, max_items: int) -> tuple[bytes, ...]:
    """The list of at most ``max_items`` 32-byte hex hashes under ``key``."""
    values = _get(obj, key, where)
    if not isinstance(values, list):
        raise MalformedInput(f"{where}.{key} must be a list of hex hashes, got {_kind(values)}")
    if len(values) > max_items:
        raise MalformedInput(f"{where}.{key} has {len(values)} hashes, want at most {max_items}")
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise MalformedInput(f"{where}.{key}[{i}] must be a string, got {_kind(value)}")
    return tuple(_hex(value, f"{where}.{key}[{i}]", 32) for i, value in enumerate(values))


def b64_field(obj: JSONObject, key: str, where: str) -> bytes:
    """The bytes written as standard padded base64 under ``key``."""
    return strict_b64decode(str_field(obj, key, where), f"{where}.{key}")


def strict_b64decode(text: str, where: str) -> bytes:
    """Decode standard base64 with padding, refusing any other spelling of the same bytes."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInput(f"{where} is not standard base64: {exc}") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedInput(f"{where} is not canonical padded base64")
    return raw


def _get(obj: JSONObject, key: str, where: str) -> Any:
    if key not in obj:
        raise MalformedInput(f"{where} is missing field {key!r}")
    return obj[key]


def _hex(text: str, where: str, size: int) -> bytes:
    if len(text) != 2 * size or not _HEX_DIGITS.issuperset(text):
        raise MalformedInput(f"{where} must be {size} bytes of lower-case hex, got {text[:80]!r}")
    return bytes.fromhex(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in json")


class _OutOfRange(ValueError):
    """A number the formats do not allow (raised inside ``json.loads``, which lets it through unchanged)."""


def _bounded_int(text: str) -> int:
    # a length check first: int() of a huge literal is slow and raises past 4300 digits
    value = int(text) if len(text) <= 17 else MAX_INT + 1
    if abs(value) > MAX_INT:
        raise _OutOfRange(f"integer {text[:40]}{'...' if len(text) > 40 else ''} is outside ±(2^53 - 1)")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _OutOfRange(f"number {text[:40]} is too large for a double")
    return value


def _check_tree(value: Any, what: str) -> None:
    """Refuse nesting deeper than ``MAX_DEPTH`` and lone surrogates, without recursing."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            raise MalformedInput(f"{what} nests deeper than {MAX_DEPTH} levels")
        if isinstance(item, dict):
            stack.extend((k, depth) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, str) and _SURROGATE.search(item):
            raise MalformedInput(f"{what} has a string with a lone surrogate (not unicode text)")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "..."


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
