"""Keccak-256, RLP and the Merkle-Patricia trie root: what the verifier needs to check EVM blocks offline.

Follows the Ethereum Yellow Paper: appendix B (RLP), appendix C (hex-prefix encoding), appendix D (the
modified Merkle-Patricia trie), and EIP-2718 for typed receipts. Only encoding is implemented: the
verifier re-encodes what an EVM receipt claims and compares hashes, it never parses RLP it was sent.
Keccak-256 is pycryptodome's (BSD-2-Clause and public domain): the standard library and ``cryptography``
offer only SHA-3, whose padding differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from Crypto.Hash import keccak

__all__ = ["EMPTY_TRIE_ROOT", "encode", "encode_int", "keccak256", "trie_root"]


def keccak256(data: bytes) -> bytes:
    """The 32-byte Keccak-256 digest of ``data`` (Ethereum's hash, not NIST SHA3-256)."""
    return keccak.new(digest_bits=256, data=data).digest()


def encode_int(value: int) -> bytes:
    """An unsigned integer as RLP wants it before encoding: big-endian, no leading zeros (0 → b"")."""
    if value < 0:
        raise ValueError(f"rlp encodes unsigned integers only, got {value}")
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def encode(item: Any) -> bytes:
    """RLP of ``item``: ``bytes``, or a list/tuple of items (nested)."""
    if isinstance(item, bytes | bytearray):
        data = bytes(item)
        if len(data) == 1 and data[0] < 0x80:
            return data
        return _length(len(data), 0x80) + data
    if isinstance(item, list | tuple):
        return _list([encode(x) for x in item])
    raise TypeError(f"rlp encodes bytes and lists only, got {type(item).__name__}")


def _list(encoded_items: Sequence[bytes]) -> bytes:
    payload = b"".join(encoded_items)
    return _length(len(payload), 0xC0) + payload


def _length(size: int, offset: int) -> bytes:
    if size < 56:
        return bytes([offset + size])
    size_bytes = encode_int(size)
    return bytes([offset + 55 + len(size_bytes)]) + size_bytes


EMPTY_TRIE_ROOT = keccak256(encode(b""))
"""The root of a trie with no entries (a block without transactions has it as ``receiptsRoot``)."""


def trie_root(values: Sequence[bytes]) -> bytes:
    """The root of the trie mapping RLP(i) to ``values[i]``, as a block's transactions and receipts tries."""
    if not values:
        return EMPTY_TRIE_ROOT
    pairs = sorted((_nibbles(encode(encode_int(i))), value) for i, value in enumerate(values))
    return keccak256(_node(pairs))


def _nibbles(key: bytes) -> tuple[int, ...]:
    return tuple(n for byte in key for n in (byte >> 4, byte & 0x0F))


def _hex_prefix(nibbles: tuple[int, ...], *, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        nibbles = (flag + 1, *nibbles)
    else:
        nibbles = (flag, 0, *nibbles)
    return bytes(nibbles[i] << 4 | nibbles[i + 1] for i in range(0, len(nibbles), 2))


def _node(pairs: list[tuple[tuple[int, ...], bytes]]) -> bytes:
    """RLP of the trie node holding ``pairs`` (sorted, distinct keys, relative to this node)."""
    if len(pairs) == 1:
        key, value = pairs[0]
        return _list([encode(_hex_prefix(key, leaf=True)), encode(value)])
    shared = _shared_prefix([key for key, _ in pairs])
    if shared:
        child = _node([(key[len(shared):], value) for key, value in pairs])
        return _list([encode(_hex_prefix(shared, leaf=False)), _reference(child)])
    slots, here = [encode(b"")] * 16, b""
    for nibble in range(16):
        group = [(key[1:], value) for key, value in pairs if key and key[0] == nibble]
        if group:
            slots[nibble] = _reference(_node(group))
    for key, value in pairs:
        if not key:
            here = value
    return _list([*slots, encode(here)])


def _shared_prefix(keys: list[tuple[int, ...]]) -> tuple[int, ...]:
    first, last = min(keys), max(keys)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def _reference(node: bytes) -> bytes:
    """How a parent holds a child node: inline when its RLP is shorter than 32 bytes, else by hash."""
    return node if len(node) < 32 else encode(keccak256(node))
