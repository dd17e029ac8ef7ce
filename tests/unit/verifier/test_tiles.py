"""``verifier.tiles``: inclusion and consistency from C2SP hash tiles alone, against the reference proofs of
``ledger.merkle`` on random tree sizes, and every tampered, short, oversized or missing tile refused by name."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.merkle import Frontier, NodeId, consistency_proof, inclusion_proof, root_at
from ledger.sm import sm3
from ledger.tiles import Tile
from verifier.errors import InvalidProof, MalformedInput, RootMismatch
from verifier.tiles import (
    LeafMismatch,
    TiledTree,
    TileInvalid,
    TileUnavailable,
    TreesInconsistent,
    tile_path,
)

SIZE = 70_000  # the spec's example: full and partial tiles on levels 0 and 1, a partial one on level 2


class _Nodes:
    """Every node of a tree of ``SIZE`` leaves, in memory: the reference's node store and the tiles' source."""

    def __init__(self, size: int, *, fork_at: int | None = None) -> None:
        leaves = (sm3(i.to_bytes(8, "big")) if i != fork_at else sm3(b"fork") for i in range(size))
        self.nodes: dict[NodeId, bytes] = dict(Frontier().append(leaves))

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        return {i: self.nodes[i] for i in ids if i in self.nodes}

    def tile(self, path: str) -> bytes:
        tile = Tile.parse(path)
        first = tile.index * 256
        return b"".join(self.nodes[(8 * tile.level, first + i)] for i in range(tile.width))


@pytest.fixture(scope="module")
def tree() -> _Nodes:
    return _Nodes(SIZE)


class _Recorder:
    """A fetcher over ``tree`` that remembers the paths asked for and can change one tile's bytes."""

    def __init__(self, tree: _Nodes, change: Callable[[str, bytes], bytes] | None = None) -> None:
        self.tree, self.change, self.paths = tree, change, list[str]()

    def __call__(self, path: str) -> bytes:
        self.paths.append(path)
        data = self.tree.tile(path)
        return self.change(path, data) if self.change else data


_SIZES = st.one_of(st.integers(1, SIZE), st.sampled_from([1, 2, 255, 256, 257, 511, 512, 65_535, 65_536,
                                                          65_537, 65_792, 69_999, SIZE]))


@settings(max_examples=200, deadline=None)
@given(size=_SIZES, data=st.data())
def test_inclusion_from_tiles_equals_the_reference(tree: _Nodes, size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    root = root_at(tree, size)
    tiled = TiledTree(size, root, _Recorder(tree))

    assert tiled.inclusion_proof(index) == inclusion_proof(tree, index, size)
    tiled.verify_inclusion(index, tree.nodes[(0, index)])


@settings(max_examples=200, deadline=None)
@given(second=_SIZES, data=st.data())
def test_consistency_from_tiles_equals_the_reference(tree: _Nodes, second: int, data: st.DataObject) -> None:
    first = data.draw(st.one_of(st.integers(0, second), st.sampled_from([0, 1, second])).filter(lambda f: f <= second))
    tiled = TiledTree(second, root_at(tree, second), _Recorder(tree))

    assert tiled.consistency_proof(first) == consistency_proof(tree, first, second)
    assert tiled.root_at(first) == root_at(tree, first)
    tiled.verify_consistency(first, root_at(tree, first))


def _flip(target: str, position: int) -> Callable[[str, bytes], bytes]:
    def change(path: str, data: bytes) -> bytes:
        if path != target:
            return data
        at = position % len(data)
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]
    return change


@settings(max_examples=120, deadline=None)
@given(size=_SIZES, data=st.data())
def test_a_flipped_byte_in_any_tile_is_caught(tree: _Nodes, size: int, data: st.DataObject) -> None:
    index = data.draw(st.integers(0, size - 1))
    root = root_at(tree, size)
    honest = _Recorder(tree)
    TiledTree(size, root, honest).verify_inclusion(index, tree.nodes[(0, index)])
    target = data.draw(st.sampled_from(honest.paths))
    position = data.draw(st.integers(0, 8191))

    with pytest.raises(TileInvalid, match="do not hash to the checkpoint's root|does not hash to entry") as caught:
        TiledTree(size, root, _Recorder(tree, _flip(target, position))).verify_inclusion(index, tree.nodes[(0, index)])
    assert target in str(caught.value)


@settings(max_examples=60, deadline=None)
@given(second=_SIZES, data=st.data())
def test_a_flipped_byte_in_a_consistency_tile_is_caught(tree: _Nodes, second: int, data: st.DataObject) -> None:
    first = data.draw(st.integers(1, second))
    roots = root_at(tree, first), root_at(tree, second)
    honest = _Recorder(tree)
    TiledTree(second, roots[1], honest).verify_consistency(first, roots[0])
    target = data.draw(st.sampled_from(honest.paths))

    with pytest.raises(TileInvalid):
        TiledTree(second, roots[1], _Recorder(tree, _flip(target, data.draw(st.integers(0, 8191))))
                  ).verify_consistency(first, roots[0])


def test_partial_tile_edge_names_every_tile(tree: _Nodes) -> None:
    fetch = _Recorder(tree)
    TiledTree(SIZE, root_at(tree, SIZE), fetch).verify_inclusion(0, tree.nodes[(0, 0)])

    assert fetch.paths[:3] == ["tile/0/273.p/112", "tile/1/001.p/17", "tile/2/000.p/1"]
    assert sorted(fetch.paths[3:]) == ["tile/0/000", "tile/1/000"]  # nothing else, each once


@pytest.mark.parametrize(("path", "change", "want"), [
    ("tile/0/000", lambda d: d[:-1], "tile/0/000 is 8,191 bytes: want 8,192 (256 hashes of 32 bytes)"),
    ("tile/0/000", lambda d: d + b"\x00", "tile/0/000 is 8,193 bytes: want 8,192 (256 hashes of 32 bytes)"),
    ("tile/0/000", lambda d: b"", "tile/0/000 is 0 bytes: want 8,192"),
    ("tile/0/273.p/112", lambda d: d[:-32], "tile/0/273.p/112 is 3,552 bytes: want 3,584 (112 hashes of 32 bytes)"),
    ("tile/1/000", lambda d: d[32:] + d[:32], "tile/1/000 does not hash to entry 0 of tile/2/000.p/1: calculated "),
    ("tile/0/000", lambda d: bytes(8192), "tile/0/000 does not hash to entry 0 of tile/1/000: calculated "),
    ("tile/2/000.p/1", lambda d: sm3(b"x"), ("the right-edge tiles tile/0/273.p/112, tile/1/001.p/17, "
                                             "tile/2/000.p/1 do not hash to the checkpoint's root of tree size 70000")),
    ("tile/0/000", lambda d: "not bytes", "tile/0/000: the fetcher returned str, not bytes"),
])
def test_bad_tile_is_refused_with_its_reason(tree: _Nodes, path: str, change: Callable[[bytes], object],
                                             want: str) -> None:
    fetch = _Recorder(tree, lambda p, d: change(d) if p == path else d)  # type: ignore[arg-type, return-value]

    with pytest.raises(TileInvalid, match=f"^{re.escape(want)}"):
        TiledTree(SIZE, root_at(tree, SIZE), fetch).verify_inclusion(3, tree.nodes[(0, 3)])


def test_wrong_leaf_hash_is_a_leaf_mismatch(tree: _Nodes) -> None:
    tiled = TiledTree(SIZE, root_at(tree, SIZE), _Recorder(tree))

    with pytest.raises(LeafMismatch, match=f"^leaf 7 of the tree of size 70000 is {tree.nodes[(0, 7)].hex()}, "
                                           f"not {tree.nodes[(0, 8)].hex()}$"):
        tiled.verify_inclusion(7, tree.nodes[(0, 8)])


def test_checkpoints_of_a_fork_are_inconsistent(tree: _Nodes) -> None:
    forked = _Nodes(1000, fork_at=500)

    with pytest.raises(TreesInconsistent, match=f"^the tiles of tree size 2000 give root {root_at(tree, 1000).hex()} "
                                                f"for size 1000, but its checkpoint says {root_at(forked, 1000).hex()}"):
        TiledTree(2000, root_at(tree, 2000), _Recorder(tree)).verify_consistency(1000, root_at(forked, 1000))


def test_fetch_failure_is_unavailable_and_names_the_tile(tree: _Nodes) -> None:
    def fetch(path: str) -> bytes:
        raise OSError("connection refused")

    with pytest.raises(TileUnavailable, match=r"^cannot fetch tile/0/273\.p/112: connection refused$"):
        TiledTree(SIZE, root_at(tree, SIZE), fetch).verify_inclusion(0, tree.nodes[(0, 0)])


def test_fetch_limit_is_enforced(tree: _Nodes) -> None:
    with pytest.raises(TileUnavailable, match=r"^cannot fetch tile/1/000: this tree already fetched its limit of 3 tiles$"):
        TiledTree(SIZE, root_at(tree, SIZE), _Recorder(tree), max_tiles=3).verify_inclusion(0, tree.nodes[(0, 0)])


def test_bad_inputs_are_refused(tree: _Nodes) -> None:
    fetch = _Recorder(tree)
    with pytest.raises(MalformedInput, match="^tree size out of range: got -1"):
        TiledTree(-1, bytes(32), fetch)
    with pytest.raises(MalformedInput, match="^root has wrong length: got 31 bytes, want 32$"):
        TiledTree(1, bytes(31), fetch)
    tiled = TiledTree(SIZE, root_at(tree, SIZE), fetch)
    with pytest.raises(InvalidProof, match=f"^leaf index out of range: got {SIZE}, want 0 <= index < {SIZE}$"):
        tiled.inclusion_proof(SIZE)
    with pytest.raises(InvalidProof, match="^leaf hash has wrong length: got 3 bytes, want 32$"):
        tiled.verify_inclusion(0, b"abc")
    with pytest.raises(InvalidProof, match=f"^no tree of size {SIZE + 1} inside a tree of {SIZE}$"):
        tiled.verify_consistency(SIZE + 1, bytes(32))
    with pytest.raises(InvalidProof, match="^no complete subtree at level 1000000000000, index 0 in a tree of 70000$"):
        tiled.node(10**12, 0)
    assert fetch.paths == []  # nothing fetched for a refused request


def test_empty_tree_needs_no_tile_and_checks_its_root(tree: _Nodes) -> None:
    fetch = _Recorder(tree)
    TiledTree(0, root_at(tree, 0), fetch).verify_consistency(0, root_at(tree, 0))
    assert fetch.paths == []
    with pytest.raises(RootMismatch, match=f"calculated {bytes(32).hex()}, want {root_at(tree, 0).hex()}"):
        TiledTree(0, bytes(32), fetch).verify_consistency(0, root_at(tree, 0))


def test_final_rfc9162_check_runs(tree: _Nodes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with a tile check defeated, the proof is checked once more against the root by verifier.merkle."""
    tiled = TiledTree(SIZE, root_at(tree, SIZE), _Recorder(tree))
    real = tiled.inclusion_proof
    monkeypatch.setattr(tiled, "inclusion_proof", lambda i: [sm3(b"x"), *real(i)[1:]])

    with pytest.raises(RootMismatch):
        tiled.verify_inclusion(5, tree.nodes[(0, 5)])


@given(level=st.integers(0, 63), index=st.integers(0, 2**64), width=st.integers(1, 256))
def test_tile_path_matches_the_ledger(level: int, index: int, width: int) -> None:
    assert tile_path(level, index, width) == Tile(level, index, width).path
