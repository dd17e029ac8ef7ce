"""Strict JSON reading, RFC 8785 canonical bytes and typed field access for the verifier's parsers.

Hashes are lower-case hex and signatures standard padded base64 (docs/formats.md, introduction); anything
else is ``MalformedInput``. Only ``canonical`` produces bytes that are hashed or signature-checked.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

import rfc8785

from verifier.errors import MalformedInput

__all__ = [
    "JSONObject",
    "b64_field",
    "canonical",
    "hex_field",
    "hex_list_field",
    "int_field",
    "loads",
    "object_field",
    "optional_hex_field",
    "optional_int_field",
    "require_object",
    "str_field",
    "strict_b64decode",
]

JSONObject = Mapping[str, Any]
_HEX_DIGITS = frozenset("0123456789abcdef")


def canonical(value: Any) -> bytes:
    """Return the RFC 8785 (JCS) bytes of a JSON value; ``MalformedInput`` if it has no canonical form."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MalformedInput(f"value cannot be canonicalized (rfc 8785): {exc}") from exc


def loads(data: bytes | str, what: str) -> Any:
    """Parse JSON text, refusing duplicate keys and the non-JSON constants NaN and Infinity."""
    try:
        return json.loads(data, object_pairs_hook=_unique_keys, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MalformedInput(f"{what} is not valid json: {exc}") from exc


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


def int_field(obj: JSONObject, key: str, where: str) -> int:
    """The non-negative integer under ``key`` (booleans and floats refused)."""
    value = _get(obj, key, where)
    if type(value) is not int or value < 0:
        raise MalformedInput(f"{where}.{key} must be a non-negative integer, got {value!r}")
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


def hex_list_field(obj: JSONObject, key: str, where: str) -> tuple[bytes, ...]:
    """The list of 32-byte hex hashes under ``key``."""
    values = _get(obj, key, where)
    if not isinstance(values, list):
        raise MalformedInput(f"{where}.{key} must be a list of hex hashes, got {_kind(values)}")
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


def _kind(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )
