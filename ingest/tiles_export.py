"""Publish the log's hash tiles (C2SP tlog-tiles, ``ledger.tiles``) to an object store — an S3 bucket (MinIO,
SeaweedFS) or a folder — incrementally, so that a static host or CDN serves the read side of the log.

The store's own ``<prefix>checkpoint`` says how far it is: an export writes the full tiles the log gained since
that tree size, then the partial tiles of the newest checkpoint, and the checkpoint itself last, so a store is
never ahead of the tiles it holds and an export cut short (a crash, a dead server) is simply run again. A tile
already in the store must hold the very same bytes (tiles are immutable); anything else — another log's
tiles, a checkpoint of another tree — is refused before anything is written. Object keys are
``<prefix>tile/<L>/<N>[.p/<W>]`` and ``<prefix>checkpoint`` (docs/formats.md, "Tiles").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from ingest.objectstore import ObjectExists, ObjectNotFound, ObjectStore
from ledger.checkpoint import SignedCheckpoint
from ledger.errors import LedgerError, MalformedInput
from ledger.tiles import (
    Tile,
    full_tiles_between,
    newest_checkpoint,
    partial_tiles,
    read_tile,
    tiles_between,
    tree_root,
)

__all__ = ["TileExport", "TileExportRefused", "export_tiles"]

Progress = Callable[[int, int], None]
"""Called as ``progress(tiles done, tiles to write)`` every few hundred tiles and at the end."""


class TileExportRefused(LedgerError):
    """The store cannot take this log's tiles as they are (it holds another log's, or cannot be replaced)."""


@dataclass(frozen=True)
class TileExport:
    """What one export did: the store went from ``previous_size`` to ``tree_size``; ``written`` objects were
    put and ``present`` tiles were already there with the same bytes."""

    previous_size: int
    tree_size: int
    written: int
    present: int


def export_tiles(engine: Engine, store: ObjectStore, *, prefix: str = "", progress: Progress | None = None,
                 every: int = 500) -> TileExport:
    """Bring ``store`` up to the log's newest checkpoint (see the module docstring); returns what was done.

    ``engine`` is the log's database (read only); ``prefix`` (empty, or ending in ``/``) is prepended to every
    key. Raises ``TileExportRefused`` (nothing written) when the log has no checkpoint, the store's checkpoint
    is not one of this log's tree, a stored tile differs or the store locks objects; ``ObjectStoreError`` and
    ``StorageError`` from the store and the database.
    """
    if prefix and not prefix.endswith("/"):
        raise TileExportRefused(f"key prefix {prefix!r} must be empty or end with '/'")
    if store.locking is not None:
        raise TileExportRefused("the bucket has Object Lock: the checkpoint object is replaced at every export, "
                                "so publish tiles to a bucket without Object Lock")
    with engine.connect() as conn:
        newest = newest_checkpoint(conn)
        if newest is None:
            raise TileExportRefused("the log has no checkpoint yet: nothing to export")
        size = newest.checkpoint.tree_size
        previous = _stored_size(conn, store, prefix + "checkpoint", size)
        writer = _Writer(store, prefix, progress, every, total=_count(previous, size))
        for tile, data in tiles_between(conn, previous, size):
            writer.put(tile, data)
        for tile in partial_tiles(size):
            writer.put(tile, read_tile(conn, tile, size))
    store.put(prefix + "checkpoint", newest.text.encode(), replace=True)
    writer.report()
    return TileExport(previous_size=previous, tree_size=size, written=writer.written + 1, present=writer.present)


def _count(previous: int, size: int) -> int:
    """How many tiles an export from ``previous`` to ``size`` puts (full ones, then the partial ones)."""
    return sum(1 for _ in full_tiles_between(previous, size)) + len(partial_tiles(size))


def _stored_size(conn: Connection, store: ObjectStore, key: str, size: int) -> int:
    """The tree size of the store's checkpoint (0 if none), after checking it is a prefix of this log's tree."""
    try:
        text = store.get(key).decode("utf-8")
    except ObjectNotFound:
        return 0
    except UnicodeDecodeError as exc:
        raise TileExportRefused(f"{key} in the store is not a checkpoint (not UTF-8): refusing to export over it") \
            from exc
    try:
        stored = SignedCheckpoint.from_text(text).checkpoint
    except MalformedInput as exc:
        raise TileExportRefused(f"{key} in the store is not a checkpoint ({exc}): refusing to export over it") from exc
    if stored.tree_size > size:
        raise TileExportRefused(f"the store's checkpoint has {stored.tree_size:,} leaves, more than the log's newest "
                                f"({size:,}): it holds another log, or this database is behind it")
    ours = tree_root(conn, stored.tree_size)
    if ours != stored.root_hash:
        raise TileExportRefused(f"the store's checkpoint of {stored.tree_size:,} leaves has root "
                                f"{stored.root_hash.hex()}, this log's tree has {ours.hex()}: it holds another log")
    return stored.tree_size


class _Writer:
    """Puts tiles once each, counting what it wrote and what was already there (same bytes)."""

    def __init__(self, store: ObjectStore, prefix: str, progress: Progress | None, every: int, total: int) -> None:
        self.store, self.prefix, self.progress, self.every, self.total = store, prefix, progress, every, total
        self.written = self.present = 0

    def put(self, tile: Tile, data: bytes) -> None:
        key = self.prefix + tile.path
        try:
            self.store.put(key, data, length=len(data))
            self.written += 1
        except ObjectExists:
            if self.store.get(key) != data:
                raise TileExportRefused(f"{key} in the store differs from this log's tile: the store holds another "
                                        f"log's tiles (tiles are immutable: not overwriting)") from None
            self.present += 1
        if self.progress is not None and (self.written + self.present) % self.every == 0:
            self.progress(self.written + self.present, self.total)

    def report(self) -> None:
        if self.progress is not None:
            self.progress(self.written + self.present, self.total)
