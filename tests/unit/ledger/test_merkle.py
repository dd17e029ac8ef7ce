"""The Merkle log's proofs against the independent verifier (``verifier.merkle``) and a reference tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError
from ledger.hashing import EMPTY_ROOT, leaf_hash, node_hash
from ledger.merkle import Frontier, NodeId, consistency_proof, inclusion_proof, root_at
from verifier import merkle as independent
from verifier.errors import VerificationFailed


class DictStore(dict[NodeId, bytes]):
    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        return {i: self[i] for i in ids if i in self}


def reference_root(leaves: list[bytes]) -> bytes:
    """MTH straight from RFC 9162 §2.1.1, recursively over the leaf bytes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(reference_root(leaves[:k]), reference_root(leaves[k:]))


def build(n: int) -> tuple[DictStore, list[bytes]]:
    leaves = [f"leaf {i}".encode() for i in range(n)]
    store, frontier = DictStore(), Frontier()
    store.update(frontier.append(leaf_hash(leaf) for leaf in leaves))
    return store, leaves


def test_root_at_matches_reference_for_every_size() -> None:
    store, leaves = build(70)
    for size in range(71):
        assert root_at(store, size) == reference_root(leaves[:size])


def test_frontier_load_resumes_the_same_tree() -> None:
    store, _ = build(37)
    resumed = Frontier.load(store, 37)
    assert resumed.root() == root_at(store, 37)
    store.update(resumed.append([leaf_hash(b"next")]))
    assert root_at(store, 38) == resumed.root()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_inclusion_proof_verifies_for_every_leaf(size: int, data: st.DataObject) -> None:
    store, leaves = build(size)
    root = root_at(store, size)
    for index in data.draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=20)):
        proof = inclusion_proof(store, index, size)
        independent.verify_inclusion(index, size, leaf_hash(leaves[index]), proof, root)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.data())
def test_consistency_proof_verifies_for_every_pair(size2: int, data: st.DataObject) -> None:
    store, _ = build(size2)
    for size1 in data.draw(st.lists(st.integers(0, size2), min_size=1, max_size=20)):
        proof = consistency_proof(store, size1, size2)
        independent.verify_consistency(size1, size2, root_at(store, size1), root_at(store, size2), proof)


def test_all_proofs_exhaustive_up_to_64() -> None:
    store, leaves = build(64)
    for size in range(1, 65):
        root = root_at(store, size)
        for index in range(size):
            independent.verify_inclusion(index, size, leaf_hash(leaves[index]), inclusion_proof(store, index, size), root)
        for first in range(size + 1):
            independent.verify_consistency(first, size, root_at(store, first), root, consistency_proof(store, first, size))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 200), st.data())
def test_inclusion_proof_fails_for_changed_leaf_or_index(size: int, data: st.DataObject) -> None:
    # (A changed tree size alone is not always caught by the proof: the size is bound by the signed
    # checkpoint, which the verifier checks first.)
    store, leaves = build(size)
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(store, index, size)
    with pytest.raises(VerificationFailed):
        independent.verify_inclusion(index, size, leaf_hash(b"forged"), proof, root_at(store, size))
    other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
    with pytest.raises(VerificationFailed):
        independent.verify_inclusion(other, size, leaf_hash(leaves[index]), proof, root_at(store, size))


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 200), st.data())
def test_consistency_proof_fails_for_changed_size_or_root(size2: int, data: st.DataObject) -> None:
    store, _ = build(size2)
    size1 = data.draw(st.integers(1, size2 - 1))
    proof = consistency_proof(store, size1, size2)
    root1, root2 = root_at(store, size1), root_at(store, size2)
    with pytest.raises(VerificationFailed):
        independent.verify_consistency(size1, size2, root1, leaf_hash(b"forged root"), proof)
    other = data.draw(st.integers(1, size2 - 1).filter(lambda s: s != size1))
    if proof:
        with pytest.raises(VerificationFailed):
            independent.verify_consistency(other, size2, root_at(store, other), root2, proof)


def test_inclusion_proof_out_of_range() -> None:
    store, _ = build(5)
    with pytest.raises(ProofError, match="leaf index 5 is outside a tree of size 5"):
        inclusion_proof(store, 5, 5)


def test_consistency_proof_wrong_order() -> None:
    store, _ = build(5)
    with pytest.raises(ProofError, match="from size 4 to size 3"):
        consistency_proof(store, 4, 3)


class CountingStore(DictStore):
    """Counts the node hashes read and the read calls."""

    def __init__(self) -> None:
        super().__init__()
        self.nodes_read = self.calls = 0

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        wanted = list(ids)
        self.nodes_read, self.calls = self.nodes_read + len(wanted), self.calls + 1
        return super().get_nodes(wanted)


@pytest.mark.parametrize("size", [4999, 5000, 8191, 8193])
def test_proofs_read_logarithmically_many_nodes_in_one_call(size: int) -> None:
    # Only one range of a proof can be an incomplete subtree, so a proof needs at most 2 * log2(n) hashes.
    store = CountingStore()
    store.update(Frontier().append(leaf_hash(i.to_bytes(4, "big")) for i in range(size)))
    bound = 2 * size.bit_length()
    for index in (0, 1234, size // 2, size - 1):
        store.nodes_read = store.calls = 0
        inclusion_proof(store, index, size)
        assert store.calls == 1 and store.nodes_read <= bound
    for first in (1, 1000, size // 2 + 1, size - 1):
        store.nodes_read = store.calls = 0
        consistency_proof(store, first, size)
        assert store.calls == 1 and store.nodes_read <= bound


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.lists(st.integers(0, 70), max_size=6), st.integers(0, 6))
def test_frontier_extend_keeps_the_nodes_append_makes_from_a_level_up(start: int, batches: list[int],
                                                                      keep_from: int) -> None:
    """``Frontier.extend`` (the writer's) grows the same tree as ``append`` (the reference) and returns exactly
    its nodes of level >= ``keep_from``, batch after batch."""
    reference, fast = Frontier(), Frontier()
    reference.append(leaf_hash(b"%d" % n) for n in range(start))
    fast.extend(leaf_hash(b"%d" % n) for n in range(start))
    done = start
    for count in batches:
        hashes = [leaf_hash(b"%d" % n) for n in range(done, done + count)]
        done += count
        expected = [(node, digest) for node, digest in reference.append(hashes) if node[0] >= keep_from]

        assert fast.extend(hashes, keep_from) == expected
        assert (fast.size, fast.stack, fast.root()) == (reference.size, reference.stack, reference.root())
