"""Verification of Merkle inclusion and consistency proofs, RFC 9162 §2.1.3.2 and §2.1.4.2, over SM3.

Computing and comparing are separate, as in transparency-dev/merkle: ``root_from_inclusion_proof`` and
``root_from_consistency_proof`` return the root a proof leads to; ``verify_inclusion`` and
``verify_consistency`` compare it with a trusted root and raise ``RootMismatch``. Proofs are lists of
32-byte hashes, lowest level first (docs/formats.md, "Merkle log").
"""

from __future__ import annotations

from collections.abc import Sequence

from verifier.errors import InvalidProof, RootMismatch
from verifier.hashing import HASH_SIZE, empty_root, node_hash

MAX_INCLUSION_HASHES = 64
"""No inclusion proof in a tree of at most 2^64 - 1 leaves (the checkpoint's limit) has more hashes."""
MAX_CONSISTENCY_HASHES = 65
"""No consistency proof between trees of at most 2^64 - 1 leaves has more hashes."""

__all__ = [
    "MAX_CONSISTENCY_HASHES",
    "MAX_INCLUSION_HASHES",
    "consistency_proof_length",
    "inclusion_proof_length",
    "root_from_consistency_proof",
    "root_from_inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]


def inclusion_proof_length(leaf_index: int, tree_size: int) -> int:
    """The length of the audit path for ``leaf_index`` in a tree of ``tree_size`` leaves.

    Requires 0 <= leaf_index < tree_size. The path has one hash per level below the point where the
    paths to ``leaf_index`` and to the last leaf split ("inner"), plus one per left sibling above it.
    """
    inner = (leaf_index ^ (tree_size - 1)).bit_length()
    return inner + (leaf_index >> inner).bit_count()


def consistency_proof_length(size1: int, size2: int) -> int:
    """The length of the RFC 9162 consistency proof between trees of ``size1`` and ``size2`` leaves.

    Requires 0 < size1 < size2. The proof is the tail of the audit path of leaf ``size1 - 1`` above the
    largest complete subtree ending there, plus that subtree's hash unless it is the whole first tree.
    """
    shift = (size1 & -size1).bit_length() - 1
    length = inclusion_proof_length(size1 - 1, size2) - shift
    return length if size1 == 1 << shift else length + 1


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes]
) -> bytes:
    """Return the root that ``proof`` leads to from ``leaf_hash`` at ``leaf_index`` (RFC 9162 §2.1.3.2).

    ``leaf_index`` and ``tree_size`` place the leaf; ``leaf_hash`` is SM3(0x00 || leaf bytes); ``proof``
    is the audit path, lowest level first. Requires 0 <= leaf_index < tree_size, 32-byte hashes and
    ``len(proof) == inclusion_proof_length(leaf_index, tree_size)``; raises ``InvalidProof`` otherwise.

    Steps of RFC 9162 §2.1.3.2:
    1. fn = leaf_index, sn = tree_size - 1, r = leaf_hash.
    2. For each p in proof: fail if sn is 0; if fn is odd or fn == sn, r = HASH(p, r) and, when fn is
       even, shift fn and sn right until fn is odd or 0; otherwise r = HASH(r, p). Then shift once.
    3. Fail unless sn ended at 0 (the path reached the root); return r.
    """
    if not 0 <= leaf_index < tree_size:
        raise InvalidProof(f"leaf index out of range: got {leaf_index}, want 0 <= index < {tree_size}")
    _require_hash("leaf hash", leaf_hash)
    _require_proof(proof, inclusion_proof_length(leaf_index, tree_size))
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise InvalidProof("inclusion proof goes past the root")
        fn, sn, left = _step(fn, sn)
        r = node_hash(p, r) if left else node_hash(r, p)
    if sn != 0:
        raise InvalidProof(f"inclusion proof stops below the root: {sn} levels left")
    return r


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that the leaf with ``leaf_hash`` is at ``leaf_index`` of the tree of ``tree_size`` with ``root``.

    Parameters and preconditions as ``root_from_inclusion_proof``; ``root`` is the trusted root (from a
    verified checkpoint). Returns nothing; raises ``InvalidProof`` or ``RootMismatch``.
    """
    _require_hash("root", root)
    calculated = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash, proof)
    if calculated != root:
        raise RootMismatch(expected=root, calculated=calculated)


def root_from_consistency_proof(size1: int, size2: int, root1: bytes, proof: Sequence[bytes]) -> bytes:
    """Return the root of the tree of ``size2`` that ``proof`` leads to from ``root1`` (RFC 9162 §2.1.4.2).

    ``root1`` is the root of the first ``size1`` leaves; ``proof`` is the consistency proof. Requires
    0 < size1 <= size2 (a proof from the empty tree fixes no second root), 32-byte hashes, an empty
    proof when size1 == size2 (``root1`` is then returned) and otherwise
    ``len(proof) == consistency_proof_length(size1, size2)``. Raises ``InvalidProof``, or
    ``RootMismatch`` when the proof does not lead back to ``root1``.

    Steps of RFC 9162 §2.1.4.2:
    1. If size1 is a power of two, prepend root1 to the proof.
    2. fn = size1 - 1, sn = size2 - 1; shift both right while fn is odd.
    3. fr = sr = first proof hash.
    4. For each further c: fail if sn is 0; if fn is odd or fn == sn, fr = HASH(c, fr), sr = HASH(c, sr)
       and, when fn is even, shift until fn is odd or 0; otherwise sr = HASH(sr, c). Then shift once.
    5. Fail unless sn ended at 0 and fr == root1; return sr.
    """
    _require_sizes(size1, size2)
    _require_hash("root1", root1)
    if size1 == size2:
        _require_proof(proof, 0)
        return root1
    if size1 == 0:
        raise InvalidProof("consistency proof from an empty tree does not determine the second root")
    _require_proof(proof, consistency_proof_length(size1, size2))
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise InvalidProof("consistency proof goes past the root")
        fn, sn, left = _step(fn, sn)
        fr, sr = (node_hash(c, fr), node_hash(c, sr)) if left else (fr, node_hash(sr, c))
    if sn != 0:
        raise InvalidProof(f"consistency proof stops below the root: {sn} levels left")
    if fr != root1:
        raise RootMismatch(expected=root1, calculated=fr, what="first root")
    return sr


def verify_consistency(size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``size2`` with ``root2`` extends the tree of ``size1`` with ``root1``.

    Requires 0 <= size1 <= size2 and 32-byte hashes. When size1 == 0 the proof must be empty and
    ``root1`` must be the empty-tree root (any second tree extends it); otherwise as
    ``root_from_consistency_proof``. Returns nothing; raises ``InvalidProof`` or ``RootMismatch``.
    """
    _require_sizes(size1, size2)
    _require_hash("root2", root2)
    if size1 == 0:
        _require_proof(proof, 0)
        _require_root(empty_root(), root1, "empty tree root")
        if size2 == 0:
            _require_root(empty_root(), root2, "empty tree root")
        return
    _require_root(root2, root_from_consistency_proof(size1, size2, root1, proof), "second root")


def _step(fn: int, sn: int) -> tuple[int, int, bool]:
    """One level of the RFC 9162 loops: the next (fn, sn) and whether this level's proof hash lies left."""
    left = bool(fn & 1) or fn == sn
    if left:
        while not fn & 1 and fn != 0:
            fn, sn = fn >> 1, sn >> 1
    return fn >> 1, sn >> 1, left


def _require_sizes(size1: int, size2: int) -> None:
    if not 0 <= size1 <= size2:
        raise InvalidProof(
            f"tree sizes out of order: got size1={size1} size2={size2}, want 0 <= size1 <= size2"
        )


def _require_hash(name: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise InvalidProof(f"{name} has wrong length: got {len(value)} bytes, want {HASH_SIZE}")


def _require_proof(proof: Sequence[bytes], length: int) -> None:
    if len(proof) != length:
        raise InvalidProof(f"wrong proof length: got {len(proof)} hashes, want {length}")
    for i, value in enumerate(proof):
        _require_hash(f"proof hash {i}", value)


def _require_root(expected: bytes, calculated: bytes, what: str) -> None:
    if calculated != expected:
        raise RootMismatch(expected=expected, calculated=calculated, what=what)
