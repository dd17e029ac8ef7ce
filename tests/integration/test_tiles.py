"""Tiles read from the log's storage (``ledger.tiles.read_tile`` over ``events.leaf_hash`` and ``merkle_nodes``)
on SQLite and PostgreSQL: the bytes the tree's nodes make, and proofs from them alone (``verifier.tiles``) equal to
the reference ``ledger.merkle`` over ``SqlNodeStore``."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, text

from ledger import storage as db
from ledger.errors import StorageError
from ledger.merkle import Frontier, NodeId, consistency_proof, inclusion_proof, root_at
from ledger.sm import sm3
from ledger.tiles import Tile, TileNotFound, full_tiles_between, partial_tiles, read_tile, tiles_between
from ledger.treetop import read_level
from verifier.tiles import TiledTree

SIZE = 70_000  # tiles of levels 0 and 1, full and partial, and a partial one of level 2


def _fill(engine: Engine) -> dict[NodeId, bytes]:
    """``SIZE`` synthetic leaves stored as the writer stores them; returns every node of the tree."""
    nodes = dict(Frontier().append(sm3(i.to_bytes(8, "big")) for i in range(SIZE)))
    with engine.begin() as conn:
        db.insert_rows(conn, db.events, [
            (index, f"{index:036d}", "t", "bench.synthetic", None, "k", digest, digest, b"{}", b"", b"", None,
             "2026-12-01T00:00:00.000Z", "", db.event_key("t", f"{index:036d}"))
            for (level, index), digest in nodes.items() if level == 0])
        db.insert_rows(conn, db.merkle_nodes,
                       [(db.node_key(node), digest) for node, digest in nodes.items() if node[0] >= db.STORED_LEVEL])
        conn.execute(db.log_state.insert().values(id=1, tree_size=SIZE))
    return nodes


@pytest.fixture
def stored(engine: Engine) -> dict[NodeId, bytes]:
    return _fill(engine)


def _expected(nodes: dict[NodeId, bytes], tile: Tile) -> bytes:
    first = tile.index * 256
    return b"".join(nodes[(8 * tile.level, first + i)] for i in range(tile.width))


def test_read_tile_is_the_tree_s_hashes(engine: Engine, stored: dict[NodeId, bytes]) -> None:
    full = list(full_tiles_between(0, SIZE))
    some = [*partial_tiles(SIZE), *full[:2], *random.sample(full, 5), full[-1], Tile(0, 100, 7), Tile(1, 1, 16)]
    with engine.connect() as conn:
        for tile in some:
            assert read_tile(conn, tile, SIZE) == _expected(stored, tile), tile.path
        with pytest.raises(TileNotFound, match=r"^tile/1/001\.p/18 does not exist yet: it needs a tree of 70,144"):
            read_tile(conn, Tile(1, 1, 18), SIZE)
        with pytest.raises(TileNotFound, match=r"^tile/0/273 does not exist yet"):
            read_tile(conn, Tile(0, 273), SIZE)


def test_read_level_refuses_what_is_not_stored(engine: Engine, stored: dict[NodeId, bytes]) -> None:
    with engine.connect() as conn:
        assert read_level(conn, 0, 5, 5) == []
        with pytest.raises(ValueError, match=r"^level 2 is not stored: only level 0 and levels >= 4 are$"):
            read_level(conn, 2, 0, 1)
        with pytest.raises(StorageError, match=r"^events hold 10 of the 12 leaf hashes from leaf 69990"):
            read_level(conn, 0, SIZE - 10, SIZE + 2)


def test_a_lost_node_is_a_storage_error_not_a_wrong_tile(engine: Engine, stored: dict[NodeId, bytes]) -> None:
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM merkle_nodes WHERE node_id = :key"), {"key": db.node_key((8, 3))})
    with engine.connect() as conn, pytest.raises(StorageError, match=r"^merkle_nodes holds 255 of the 256 nodes of "
                                                                     r"level 8 from index 0"):
        read_tile(conn, Tile(1, 0), SIZE)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.one_of(st.integers(1, SIZE), st.sampled_from([1, 256, 65_536, 65_537, SIZE])), data=st.data())
def test_proofs_from_stored_tiles_equal_the_reference(engine: Engine, stored: dict[NodeId, bytes], size: int,
                                                      data: st.DataObject) -> None:
    index, first = data.draw(st.integers(0, size - 1)), data.draw(st.integers(0, size))
    with engine.connect() as conn:
        reference = db.SqlNodeStore(conn)
        root = root_at(reference, size)
        tiled = TiledTree(size, root, lambda path: read_tile(conn, Tile.parse(path), size))

        assert tiled.inclusion_proof(index) == inclusion_proof(reference, index, size)
        assert tiled.consistency_proof(first) == consistency_proof(reference, first, size)
        tiled.verify_inclusion(index, stored[(0, index)])
        tiled.verify_consistency(first, root_at(reference, first))


def test_tiles_between_reads_in_batches_what_read_tile_reads(engine: Engine, stored: dict[NodeId, bytes]) -> None:
    with engine.connect() as conn:
        got = list(tiles_between(conn, 1_000, SIZE, batch=7))
    assert [tile for tile, _ in got] == list(full_tiles_between(1_000, SIZE))
    for tile, body in got:
        assert body == _expected(stored, tile), tile.path
