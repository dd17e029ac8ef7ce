"""RFC 9162 §2.1.1 Merkle tree hashing with SM3 in place of SHA-256 (docs/formats.md, "Merkle log").

The only place in the verifier that knows the domain-separation prefixes: 0x00 for leaves, 0x01 for
interior nodes. The root of the empty tree is SM3 of the empty string.
"""

from __future__ import annotations

from verifier.sm import sm3

__all__ = ["HASH_SIZE", "empty_root", "leaf_hash", "node_hash"]

HASH_SIZE = 32
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"


def empty_root() -> bytes:
    """The root hash of a tree with no leaves: SM3("")."""
    return sm3(b"")


def leaf_hash(leaf: bytes) -> bytes:
    """The hash of a leaf whose bytes are ``leaf``: SM3(0x00 || leaf)."""
    return sm3(_LEAF_PREFIX + leaf)


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an interior node from its children's hashes: SM3(0x01 || left || right)."""
    return sm3(_NODE_PREFIX + left + right)
