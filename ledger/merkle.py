"""RFC 9162 §2.1 Merkle tree over a node store: append, roots, inclusion and consistency proofs.

The store keeps the hash of every *complete* subtree, addressed by ``(level, index)``: the node covering
leaves ``[index * 2**level, (index + 1) * 2**level)``. Any subtree hash the RFC's recursive definitions need
is a fold of at most log2(n) complete subtrees, and at most one range of a proof is incomplete (once the
recursion leaves the right edge every range is a complete subtree), so a proof at 10 million leaves reads at
most 2 * log2(n) stored hashes, in one batch, and recomputes nothing over the leaves.

Every function here plans the node ids it needs, reads them in one ``get_nodes`` call, then computes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ledger.errors import ProofError
from ledger.hashing import EMPTY_ROOT, node_hash

__all__ = [
    "Frontier",
    "NodeId",
    "NodeReader",
    "consistency_proof",
    "inclusion_proof",
    "path_ranges",
    "perfect_root",
    "root_at",
    "subtree_blocks",
]

NodeId = tuple[int, int]
"""(level, index): the complete subtree over leaves [index * 2**level, (index + 1) * 2**level)."""


class NodeReader(Protocol):
    """Where stored subtree hashes come from (a database table, a dict in tests)."""

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        """Return the hash of every requested node; missing ids may be absent from the result."""
        ...


def _largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly less than ``n``; requires n > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_blocks(start: int, end: int) -> list[NodeId]:
    """The complete subtrees that make up leaves [start, end), left to right.

    Requires 0 <= start < end and ``start`` aligned to the largest power of two <= end - start, which holds
    for every range RFC 9162's MTH recursion visits. MTH(D[start:end]) is the right fold of these blocks.
    """
    blocks: list[NodeId] = []
    while start < end:
        level = (end - start).bit_length() - 1
        blocks.append((level, start >> level))
        start += 1 << level
    return blocks


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """MTH of a complete subtree from its leaf hashes; requires a power-of-two number of them (>= 1)."""
    if not hashes or len(hashes) & (len(hashes) - 1):
        raise ProofError(f"a complete subtree has a power-of-two number of leaves, got {len(hashes)}")
    level = list(hashes)
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _fold(blocks: Sequence[NodeId], nodes: Mapping[NodeId, bytes]) -> bytes:
    digest = nodes[blocks[-1]]
    for block in reversed(blocks[:-1]):
        digest = node_hash(nodes[block], digest)
    return digest


def _read(store: NodeReader, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """MTH of each range, from one batched read of the stored nodes."""
    plans = [subtree_blocks(a, b) for a, b in ranges]
    wanted = {block for plan in plans for block in plan}
    nodes = store.get_nodes(wanted)
    missing = wanted.difference(nodes)
    if missing:
        raise ProofError(f"node store lacks {len(missing)} subtree hashes, e.g. {min(missing)}")
    return [_fold(plan, nodes) for plan in plans]


def root_at(store: NodeReader, tree_size: int) -> bytes:
    """MTH of the first ``tree_size`` leaves (RFC 9162 §2.1.1); SM3("") for the empty tree."""
    if tree_size == 0:
        return EMPTY_ROOT
    return _read(store, [(0, tree_size)])[0]


def inclusion_proof(store: NodeReader, leaf_index: int, tree_size: int) -> list[bytes]:
    """The RFC 9162 §2.1.3.1 audit path for ``leaf_index`` in the tree of ``tree_size`` leaves.

    Requires 0 <= leaf_index < tree_size, else raises ``ProofError``. Hashes are leaf side first.
    """
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    return _read(store, path_ranges(leaf_index, tree_size))


def path_ranges(leaf_index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose hashes make the audit path of ``leaf_index``, leaf side first (RFC 9162's
    PATH recursion); requires 0 <= leaf_index < tree_size."""
    ranges: list[tuple[int, int]] = []
    start, end = 0, tree_size
    while end - start > 1:
        split = start + _largest_power_of_two_below(end - start)
        if leaf_index < split:
            ranges.append((split, end))
            end = split
        else:
            ranges.append((start, split))
            start = split
    return ranges[::-1]


def consistency_proof(store: NodeReader, size1: int, size2: int) -> list[bytes]:
    """The RFC 9162 §2.1.4.1 proof that the tree of ``size1`` leaves is a prefix of the one of ``size2``.

    Requires 0 <= size1 <= size2, else raises ``ProofError``. Empty when size1 is 0 or equals size2.
    """
    if not 0 <= size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}: need 0 <= first <= second")
    if size1 in (0, size2):
        return []
    ranges: list[tuple[int, int]] = []
    start, end, m, complete = 0, size2, size1, True
    while m != end - start:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start, m, complete = start + k, m - k, False
    if not complete:
        ranges.append((start, end))
    return _read(store, ranges[::-1])


@dataclass
class Frontier:
    """The right edge of the tree: the complete subtrees of the current size, highest level first.

    Appending a leaf pushes it and merges equal-level neighbours, yielding each new stored node once.
    """

    size: int = 0
    stack: list[tuple[NodeId, bytes]] = field(default_factory=list)

    @classmethod
    def load(cls, store: NodeReader, tree_size: int) -> Frontier:
        """Rebuild the frontier of a stored tree of ``tree_size`` leaves (log2(n) reads)."""
        blocks = subtree_blocks(0, tree_size) if tree_size else []
        nodes = store.get_nodes(blocks)
        if len(nodes) != len(blocks):
            raise ProofError(f"node store is missing the frontier of tree size {tree_size}")
        return cls(size=tree_size, stack=[(block, nodes[block]) for block in blocks])

    def append(self, leaf_hashes: Iterable[bytes]) -> list[tuple[NodeId, bytes]]:
        """Append leaves; returns every new complete node (the leaves included) to store."""
        created: list[tuple[NodeId, bytes]] = []
        stack = self.stack
        for digest in leaf_hashes:
            entry: tuple[NodeId, bytes] = ((0, self.size), digest)
            created.append(entry)
            self.size += 1
            while stack and stack[-1][0][0] == entry[0][0]:
                (level, index), left = stack.pop()
                entry = ((level + 1, index >> 1), node_hash(left, entry[1]))
                created.append(entry)
            stack.append(entry)
        return created

    def extend(self, leaf_hashes: Iterable[bytes], keep_from: int = 0) -> list[tuple[NodeId, bytes]]:
        """``append`` returning only the new nodes of level ``keep_from`` and above (what a store keeps).

        The same tree and the same nodes as ``append`` (the reference; a property test holds them equal),
        without building the entries that are dropped.
        """
        created: list[tuple[NodeId, bytes]] = []
        stack, size = self.stack, self.size
        for digest in leaf_hashes:
            level, index = 0, size
            size += 1
            if keep_from <= 0:
                created.append(((0, index), digest))
            while stack and stack[-1][0][0] == level:
                digest = node_hash(stack.pop()[1], digest)
                level, index = level + 1, index >> 1
                if level >= keep_from:
                    created.append(((level, index), digest))
            stack.append(((level, index), digest))
        self.size = size
        return created

    def root(self) -> bytes:
        """MTH of the current tree."""
        if not self.stack:
            return EMPTY_ROOT
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node_hash(left, digest)
        return digest

    def copy(self) -> Frontier:
        """An independent copy, so a failed write can be rolled back by keeping the old one."""
        return Frontier(size=self.size, stack=list(self.stack))
