"""RFC 9162 §2.1.1 Merkle tree hashing with SM3 in place of SHA-256.

The only place on the ledger side that knows the leaf (0x00) and node (0x01) prefixes.
"""

from __future__ import annotations

from ledger.sm import sm3

__all__ = ["EMPTY_ROOT", "HASH_SIZE", "LEAF_PREFIX", "NODE_PREFIX", "leaf_hash", "node_hash"]

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = sm3(b"")


def leaf_hash(leaf: bytes) -> bytes:
    """SM3(0x00 || leaf): the hash of one log entry.

    >>> leaf_hash(b"") == EMPTY_ROOT  # domain separation: an empty leaf is not the empty tree
    False
    """
    return sm3(LEAF_PREFIX + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    """SM3(0x01 || left || right): the hash of an interior node."""
    return sm3(NODE_PREFIX + left + right)
