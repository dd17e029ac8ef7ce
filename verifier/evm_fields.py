"""The JSON fields of an EVM receipt, parsed strictly (docs/formats.md, "EVM receipt"): ``0x`` lower-case
hex, minimal quantities, bounded sizes; anything else is ``MalformedInput``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from verifier._json import JSONObject, list_field, require_fields, require_object, str_field
from verifier.errors import MalformedInput
from verifier.evm_tx import MAX_TRANSACTION_BYTES
from verifier.rlp import encode, encode_int

__all__ = [
    "HEADER_FIELDS",
    "MAX_RECEIPTS",
    "BlockReceipt",
    "EvmLog",
    "address_field",
    "hex0x_field",
    "parse_header",
    "parse_log",
    "parse_receipt",
    "parse_transactions",
]

MAX_RECEIPTS, _MAX_LOGS, _MAX_TOPICS, _MAX_DATA = 100_000, 10_000, 4, 1 << 20
"""At most this many receipts (and transactions) per block."""
_HEX = re.compile(r"[0-9a-f]*")
HEADER_FIELDS = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
    "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
    "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot", "requestsHash",
)
_QUANTITIES = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}
)

@dataclass(frozen=True)
class EvmLog:
    """An event log: emitting contract (20 bytes), topics (32 bytes each), data."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes

    def rlp_item(self) -> list[Any]:
        """The log as the receipt trie encodes it: [address, [topics], data]."""
        return [self.address, list(self.topics), self.data]


@dataclass(frozen=True)
class BlockReceipt:
    """One receipt of a block, as its receipt-trie entry encodes it."""

    type: int
    status: int
    cumulative_gas: int
    bloom: bytes
    logs: tuple[EvmLog, ...]

    def trie_value(self) -> bytes:
        """The receipt-trie value: RLP, behind the EIP-2718 type byte for typed receipts."""
        body = encode([encode_int(self.status), encode_int(self.cumulative_gas), self.bloom,
                       [log.rlp_item() for log in self.logs]])
        return body if self.type == 0 else bytes([self.type]) + body


def hex0x_field(obj: JSONObject, key: str, where: str, *, size: int | None = None) -> bytes:
    """The ``0x`` hex bytes under ``key`` (exactly ``size`` of them when given)."""
    text = str_field(obj, key, where)
    return _bytes0x(text, f"{where}.{key}", size)


def _bytes0x(text: Any, where: str, size: int | None, *, limit: int = _MAX_DATA) -> bytes:
    body = text[2:] if isinstance(text, str) and text.startswith("0x") else None
    # only [0-9a-f] pairs: bytes.fromhex would also take spaces, a second spelling of the same bytes
    if body is None or len(body) % 2 or len(body) > 2 * limit or not _HEX.fullmatch(body):
        raise MalformedInput(f"{where} must be 0x and lower-case hex bytes, got {str(text)[:80]!r}")
    try:
        raw = bytes.fromhex(body)
    except ValueError as exc:
        raise MalformedInput(f"{where} must be 0x and lower-case hex bytes, got {str(text)[:80]!r}") from exc
    if size is not None and len(raw) != size:
        raise MalformedInput(f"{where} must be {size} bytes, got {len(raw)}")
    return raw


def _quantity(text: Any, where: str) -> int:
    body = text[2:] if isinstance(text, str) and text.startswith("0x") else ""
    # int(body, 16) would also take "_", "+" and spaces: other spellings of one quantity
    if not body or len(body) > 64 or (body != "0" and body.startswith("0")) or not _HEX.fullmatch(body):
        raise MalformedInput(f"{where} must be a minimal 0x hex quantity, got {str(text)[:80]!r}")
    try:
        return int(body, 16)
    except ValueError as exc:
        raise MalformedInput(f"{where} must be a minimal 0x hex quantity, got {str(text)[:80]!r}") from exc


def address_field(obj: JSONObject, key: str, where: str) -> str:
    """The 20-byte address under ``key``, as ``0x`` lower-case hex."""
    return "0x" + hex0x_field(obj, key, where, size=20).hex()


def parse_log(value: Any, where: str) -> EvmLog:
    """An event log object: ``address``, at most 4 ``topics``, ``data``."""
    obj = require_object(value, where)
    require_fields(obj, where, required=("address", "topics", "data"))
    topics = list_field(obj, "topics", where, max_items=_MAX_TOPICS)
    return EvmLog(hex0x_field(obj, "address", where, size=20),
                  tuple(_bytes0x(t, f"{where}.topics[{i}]", 32) for i, t in enumerate(topics)),
                  hex0x_field(obj, "data", where))


def parse_receipt(value: Any, where: str) -> BlockReceipt:
    """A block receipt object: ``type``, ``status`` (0 or 1), ``cumulativeGasUsed``, ``logsBloom``, ``logs``."""
    obj = require_object(value, where)
    require_fields(obj, where, required=("type", "status", "cumulativeGasUsed", "logsBloom", "logs"))
    kind, status = _quantity(obj["type"], f"{where}.type"), _quantity(obj["status"], f"{where}.status")
    if kind > 0x7F or status > 1:
        raise MalformedInput(f"{where}: type must be below 0x80 and status 0 or 1, got {kind:#x} and {status:#x}")
    logs = list_field(obj, "logs", where, max_items=_MAX_LOGS)
    return BlockReceipt(kind, status, _quantity(obj["cumulativeGasUsed"], f"{where}.cumulativeGasUsed"),
                         hex0x_field(obj, "logsBloom", where, size=256),
                         tuple(parse_log(lg, f"{where}.logs[{i}]") for i, lg in enumerate(logs)))


def parse_transactions(obj: JSONObject, where: str) -> tuple[bytes, ...] | None:
    """The raw transactions under ``transactions`` (each at most 128 KiB), or None for null."""
    if obj["transactions"] is None:
        return None
    items = list_field(obj, "transactions", where, max_items=MAX_RECEIPTS)
    return tuple(_bytes0x(t, f"{where}.transactions[{i}]", None, limit=MAX_TRANSACTION_BYTES)
                 for i, t in enumerate(items))


def parse_header(obj: JSONObject, where: str) -> tuple[tuple[str, bytes], ...]:
    """The header fields in RLP order as (name, raw value): the first 15 and a prefix of the later ones."""
    names = HEADER_FIELDS[: len(obj)]
    if len(obj) < 15 or set(obj) != set(names):
        raise MalformedInput(f"{where} must have the header fields {', '.join(HEADER_FIELDS[:15])} and a prefix of "
                             f"{', '.join(HEADER_FIELDS[15:])}; got {', '.join(sorted(obj))[:300]}")
    return tuple((name, encode_int(_quantity(obj[name], f"{where}.{name}")) if name in _QUANTITIES
                  else _bytes0x(obj[name], f"{where}.{name}", None)) for name in names)
