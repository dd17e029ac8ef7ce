"""``tiezheng tiles export`` (``ingest.tiles_export``): the log's tiles published to a folder and to a real MinIO
bucket, incrementally; the store alone then proves inclusion and consistency (``verifier.tiles``); a store of
another log, a changed tile, or a cut-short export is handled as docs/formats.md ("Tiles") says."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio.deleteobjects import DeleteObject
from sqlalchemy import Engine, update

from evidence_api.tiles_cli import export_command
from ingest.objectstore import FilesystemObjectStore, ObjectStore, S3ObjectStore
from ingest.tiles_export import TileExportRefused, export_tiles
from ledger import storage as db
from ledger.checkpoint import Checkpoint, SignedCheckpoint
from ledger.clock import Clock
from ledger.log import TransparencyLog
from ledger.merkle import Frontier
from ledger.sm import Signer, SM2PrivateKey, sm3
from ledger.tiles import Tile, full_tiles_between, partial_tiles, read_tile
from verifier.tiles import TiledTree

FIRST, SECOND = 66_000, 70_000


class _Tree:
    """Synthetic leaves appended to a migrated database as the writer stores them, with checkpoints cut."""

    def __init__(self, engine: Engine, key: SM2PrivateKey) -> None:
        self.engine, self.key, self.frontier = engine, key, Frontier()
        with engine.begin() as conn:
            conn.execute(db.log_state.insert().values(id=1, tree_size=0))

    def grow(self, size: int) -> SignedCheckpoint:
        start = self.frontier.size
        created = self.frontier.append(sm3(i.to_bytes(8, "big")) for i in range(start, size))
        with self.engine.begin() as conn:
            db.insert_rows(conn, db.events, [
                (index, f"{index:036d}", "t", "bench.synthetic", None, "k", h, h, b"{}", b"", b"", None,
                 "2026-12-01T00:00:00.000Z", "", db.event_key("t", f"{index:036d}"))
                for (level, index), h in created if level == 0])
            db.insert_rows(conn, db.merkle_nodes, [(db.node_key(n), h) for n, h in created if n[0] >= db.STORED_LEVEL])
            conn.execute(update(db.log_state).values(tree_size=size))
        log = TransparencyLog(self.engine, origin="test.tiezheng/log", signer=Signer.from_private_key(self.key))
        return log.cut_checkpoint()


@pytest.fixture
def tree(engine: Engine, log_key: SM2PrivateKey) -> _Tree:
    return _Tree(engine, log_key)


@pytest.fixture(params=["filesystem", pytest.param("minio", marks=pytest.mark.minio)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "filesystem":
        yield FilesystemObjectStore(tmp_path / "tiles")
        return
    url = os.environ.get("TIEZHENG_TEST_MINIO_URL")
    if not url:
        reason = "TIEZHENG_TEST_MINIO_URL is not set (start minio with: bash network/nodes/minio.sh up)"
        if request.config.getoption("--require-services"):
            pytest.fail(f"required service missing: {reason}")
        pytest.skip(reason)
    s3 = S3ObjectStore.connect(url, f"tz-tiles-{uuid.uuid4().hex[:12]}", clock=Clock(), create=True)
    yield s3
    versions = [DeleteObject(o.object_name, o.version_id)
                for o in s3.client.list_objects(s3.bucket, recursive=True, include_version=True)]
    if not list(s3.client.remove_objects(s3.bucket, versions)):
        s3.client.remove_bucket(s3.bucket)


def _verified_from_store(store: ObjectStore, prefix: str = "") -> TiledTree:
    """The store's checkpoint and a tiled tree read from the store alone, with a few leaves proved."""
    checkpoint = SignedCheckpoint.from_text(store.get(prefix + "checkpoint").decode()).checkpoint
    tiled = TiledTree(checkpoint.tree_size, checkpoint.root_hash, lambda path: store.get(prefix + path))
    for index in random.sample(range(checkpoint.tree_size), 5) + [checkpoint.tree_size - 1]:
        tiled.verify_inclusion(index, sm3(index.to_bytes(8, "big")))
    return tiled


def test_export_publishes_tiles_incrementally_and_the_store_alone_proves(tree: _Tree, store: ObjectStore,
                                                                         engine: Engine) -> None:
    first = tree.grow(FIRST)
    done = export_tiles(engine, store, prefix="tlog/")
    full = list(full_tiles_between(0, FIRST))
    assert (done.previous_size, done.tree_size, done.written, done.present) == (0, FIRST, len(full) + 3 + 1, 0)
    assert store.get("tlog/checkpoint").decode() == first.text
    with engine.connect() as conn:
        for tile in [*partial_tiles(FIRST), full[0], full[-1], random.choice(full)]:
            assert store.get("tlog/" + tile.path) == read_tile(conn, tile, FIRST)
    _verified_from_store(store, "tlog/")

    second = tree.grow(SECOND)
    done = export_tiles(engine, store, prefix="tlog/")

    added = list(full_tiles_between(FIRST, SECOND))
    assert added == [Tile(0, n) for n in range(257, 273)] and len(partial_tiles(SECOND)) == 3
    # the level-2 partial tile (one hash: the first 65,536 leaves) is the same at both sizes: already there
    assert (done.previous_size, done.tree_size, done.written, done.present) == (FIRST, SECOND, 16 + 2 + 1, 1)
    assert store.get("tlog/checkpoint").decode() == second.text
    tiled = _verified_from_store(store, "tlog/")
    tiled.verify_consistency(FIRST, first.checkpoint.root_hash)
    assert store.exists("tlog/tile/0/257.p/208")  # an older checkpoint's partial tile stays (same hashes)

    again = export_tiles(engine, store, prefix="tlog/")
    assert (again.previous_size, again.written, again.present) == (SECOND, 1, 3)


def test_cut_short_export_is_run_again(tree: _Tree, store: ObjectStore, engine: Engine) -> None:
    first = tree.grow(FIRST)
    export_tiles(engine, store)
    tree.grow(SECOND)
    export_tiles(engine, store)
    store.put("checkpoint", first.text.encode(), replace=True)  # as if the last export died before its checkpoint

    done = export_tiles(engine, store)

    assert (done.previous_size, done.written, done.present) == (FIRST, 1, 16 + 3)
    _verified_from_store(store)


def test_store_of_another_log_is_refused_and_left_as_it_was(tree: _Tree, store: ObjectStore, engine: Engine,
                                                            log_key: SM2PrivateKey) -> None:
    tree.grow(FIRST)
    other = Checkpoint("test.tiezheng/log", 1_000, sm3(b"another tree")).sign(Signer.from_private_key(log_key))
    store.put("checkpoint", other.text.encode())

    with pytest.raises(TileExportRefused, match=f"^the store's checkpoint of 1,000 leaves has root "
                                                f"{sm3(b'another tree').hex()}, this log's tree has [0-9a-f]{{64}}: "
                                                f"it holds another log$"):
        export_tiles(engine, store)
    assert not store.exists("tile/0/000")

    store.put("checkpoint", Checkpoint("x", 10**6, bytes(32)).sign(Signer.from_private_key(log_key)).text.encode(),
              replace=True)
    with pytest.raises(TileExportRefused, match="^the store's checkpoint has 1,000,000 leaves, more than the log's "
                                                "newest \\(66,000\\)"):
        export_tiles(engine, store)
    store.put("checkpoint", b"not a note", replace=True)
    with pytest.raises(TileExportRefused, match="^checkpoint in the store is not a checkpoint \\(malformed checkpoint"):
        export_tiles(engine, store)


def test_changed_tile_in_the_store_is_not_overwritten(tree: _Tree, store: ObjectStore, engine: Engine) -> None:
    tree.grow(FIRST)
    store.put("tile/0/005", bytes(8192))

    with pytest.raises(TileExportRefused, match=r"^tile/0/005 in the store differs from this log's tile: the store "
                                                r"holds another log's tiles \(tiles are immutable: not overwriting\)$"):
        export_tiles(engine, store)
    assert store.get("tile/0/005") == bytes(8192) and not store.exists("checkpoint")


def test_export_refuses_bad_settings(tree: _Tree, engine: Engine, tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path / "tiles")
    with pytest.raises(TileExportRefused, match="^the log has no checkpoint yet: nothing to export$"):
        export_tiles(engine, store)
    tree.grow(300)
    with pytest.raises(TileExportRefused, match="^key prefix 'tlog' must be empty or end with '/'$"):
        export_tiles(engine, store, prefix="tlog")


def test_cli_exports_to_a_folder(tree: _Tree, engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                 ) -> None:
    tree.grow(300)
    url = engine.url.render_as_string(hide_password=False)

    assert export_command(database_url=url, s3=None, bucket=None, directory=tmp_path / "out", prefix="",
                          create=False) == 0
    assert capsys.readouterr().out == ("tiles export: the store now holds the tree of 300 leaves (was 0): 4 objects "
                                       "written, 0 tiles already there\n")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").rglob("*") if p.is_file()) \
        == ["checkpoint", "tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"]
    assert export_command(database_url=url, s3=None, bucket=None, directory=None, prefix="", create=False) == 2
    assert "give either --s3 URL with --bucket NAME, or --dir FOLDER" in capsys.readouterr().err
