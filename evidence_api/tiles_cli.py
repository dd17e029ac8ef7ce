"""``tiezheng tiles export``: publish the log's hash tiles to an S3 bucket or a folder (``ingest.tiles_export``)."""

from __future__ import annotations

import sys
from pathlib import Path

from ingest.objectstore import FilesystemObjectStore, ObjectStore, ObjectStoreError, S3ObjectStore
from ingest.tiles_export import export_tiles
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.errors import LedgerError

__all__ = ["export_command"]


def export_command(*, database_url: str, s3: str | None, bucket: str | None, directory: Path | None, prefix: str,
                   create: bool) -> int:
    """Export once, progress on stderr, a summary on stdout. 0 done, 1 refused or failed, 2 unusable arguments."""
    if (s3 is None) == (directory is None) or (s3 is not None and not bucket):
        print("tiles export: give either --s3 URL with --bucket NAME, or --dir FOLDER", file=sys.stderr)
        return 2
    engine = make_engine(database_url)
    try:
        store: ObjectStore = (S3ObjectStore.connect(s3, bucket or "", clock=Clock(), create=create) if s3
                              else FilesystemObjectStore(directory or Path()))
        done = export_tiles(engine, store, prefix=prefix, progress=_progress)
    except (LedgerError, ObjectStoreError) as exc:
        print(f"\ntiles export: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"tiles export: the store now holds the tree of {done.tree_size:,} leaves (was {done.previous_size:,}): "
          f"{done.written:,} objects written, {done.present:,} tiles already there")
    return 0


def _progress(done: int, total: int) -> None:
    print(f"\r  {done:,} / {total:,} tiles", end="", file=sys.stderr, flush=True)
