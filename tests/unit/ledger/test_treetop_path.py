"""``ledger.treetop.inclusion_path`` against the reference ``ledger.merkle.inclusion_proof``, on an in-memory store
of every complete subtree: the same audit paths, with the right-edge memo shared across trees, and the same
refusal outside the tree."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import ProofError
from ledger.merkle import Frontier, NodeId, inclusion_proof
from ledger.sm import sm3
from ledger.treetop import RightEdges, inclusion_path

LEAVES = 3_000


class _Nodes:
    def __init__(self) -> None:
        self.nodes = dict(Frontier().append(sm3(i.to_bytes(4, "big")) for i in range(LEAVES)))
        self.calls = 0

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls += 1
        return {i: self.nodes[i] for i in ids if i in self.nodes}


STORE, EDGES = _Nodes(), RightEdges(limit=64)  # a small memo: it fills and starts again during the run


@settings(max_examples=400, deadline=None)
@given(data=st.data(), size=st.one_of(st.integers(1, LEAVES), st.sampled_from([1, 2, 3, 1024, 1025, 2047, LEAVES])))
def test_inclusion_path_equals_the_reference(data: st.DataObject, size: int) -> None:
    index = data.draw(st.integers(0, size - 1))
    calls = STORE.calls

    assert inclusion_path(STORE, EDGES, index, size) == inclusion_proof(STORE, index, size)
    assert STORE.calls == calls + 2  # one read each


@pytest.mark.parametrize(("index", "size"), [(0, 0), (-1, 5), (5, 5), (9, 3)])
def test_inclusion_path_outside_the_tree_is_refused_as_by_the_reference(index: int, size: int) -> None:
    with pytest.raises(ProofError, match=rf"^leaf index {index} is outside a tree of size {size}$"):
        inclusion_path(STORE, EDGES, index, size)
    with pytest.raises(ProofError, match=rf"^leaf index {index} is outside a tree of size {size}$"):
        inclusion_proof(STORE, index, size)


def test_a_store_missing_a_node_of_the_path_is_refused() -> None:
    class Partial(_Nodes):
        def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
            return {i: h for i, h in super().get_nodes(ids).items() if i != (3, 1)}

    with pytest.raises(ProofError, match=r"node store lacks 1 subtree hashes, e.g. \(3, 1\)"):
        inclusion_path(Partial(), RightEdges(), 0, 64)
