"""Signed EVM transactions, decoded offline: chain id, nonce, destination, value, calldata and the sender
recovered from the signature (EIP-155 legacy, EIP-2930 and EIP-1559 envelopes of EIP-2718).

With the block's raw transactions, the verifier checks what a receipt alone cannot: that the block's
``transactionsRoot`` commits to them, that the claimed transaction hash is keccak-256 of one of them, and
that it was signed by the claimed sender and calls the registry with exactly the logged arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier.rlp import decode, decode_int, encode, keccak256
from verifier.secp256k1 import recover_public_key

__all__ = ["MAX_TRANSACTION_BYTES", "EvmTransaction", "decode_transaction"]

MAX_TRANSACTION_BYTES = 128 * 1024
"""The largest raw transaction the verifier decodes (the registry's are about 200 bytes)."""


@dataclass(frozen=True)
class EvmTransaction:
    """The fields of a signed transaction the verifier checks, and its recovered ``sender`` (lower-case hex)."""

    chain_id: int
    nonce: int
    to: bytes | None
    value: int
    data: bytes
    sender: str


def decode_transaction(raw: bytes) -> EvmTransaction:
    """Decode the raw signed transaction ``raw`` and recover its sender; ``ValueError`` naming the fault
    (not canonical RLP, an unknown type, a malformed field, a signature that recovers no key)."""
    if len(raw) > MAX_TRANSACTION_BYTES or not raw:
        raise ValueError(f"raw transaction is {len(raw)} bytes, want 1 to {MAX_TRANSACTION_BYTES}")
    if raw[0] >= 0xC0:
        return _legacy(decode(raw))
    if raw[0] in (1, 2):
        return _typed(raw[0], decode(raw[1:]))
    raise ValueError(f"transaction type {raw[0]:#x} is not one the registry's operators send (legacy, 0x1, 0x2)")


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _fields(item: Any, count: int, what: str) -> list[Any]:
    if not isinstance(item, list) or len(item) != count:
        raise ValueError(f"{what} transaction must be an rlp list of {count} fields")
    return item


def _typed(kind: int, item: Any) -> EvmTransaction:
    fields = _fields(item, 11 if kind == 1 else 12, f"type {kind:#x}")
    signed, (parity, r, s) = fields[:-3], fields[-3:]
    to_index = 4 if kind == 1 else 5  # 0x1: chain, nonce, gasPrice, gas, to; 0x2: ..., maxFee, gas, to
    _require(isinstance(fields[to_index + 3], list), "transaction access list must be an rlp list")
    digest = keccak256(bytes([kind]) + encode(signed))
    return _transaction(decode_int(fields[0], "chain id"), fields[1], fields[to_index], fields[to_index + 1],
                        fields[to_index + 2], _sender(digest, r, s, decode_int(parity, "y parity")))


def _legacy(item: Any) -> EvmTransaction:
    fields = _fields(item, 9, "legacy")
    v = decode_int(fields[6], "v")
    if v < 35:
        raise ValueError(f"legacy transaction v {v} has no eip-155 chain id (replayable on any chain)")
    chain_id, recovery_id = (v - 35) // 2, (v - 35) % 2
    digest = keccak256(encode([*fields[:6], chain_id.to_bytes((chain_id.bit_length() + 7) // 8, "big"), b"", b""]))
    return _transaction(chain_id, fields[0], fields[3], fields[4], fields[5],
                        _sender(digest, fields[7], fields[8], recovery_id))


def _transaction(chain_id: int, nonce: Any, to: Any, value: Any, data: Any, sender: str) -> EvmTransaction:
    if not isinstance(to, bytes) or len(to) not in (0, 20) or not isinstance(data, bytes):
        raise ValueError("transaction destination must be 20 bytes (or empty) and its data a byte string")
    return EvmTransaction(chain_id, decode_int(nonce, "nonce"), to or None, decode_int(value, "value"), data, sender)


def _sender(digest: bytes, r: Any, s: Any, recovery_id: int) -> str:
    key = recover_public_key(digest, decode_int(r, "r"), decode_int(s, "s"), recovery_id)
    if key is None:
        raise ValueError("transaction signature recovers no secp256k1 key (bad r, s or recovery id, or high s)")
    return "0x" + keccak256(key)[12:].hex()
