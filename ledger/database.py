"""Engines for the log's database: SQLite (WAL, full fsync) or PostgreSQL, through SQLAlchemy 2.

Opening a database is not reading the log: modules outside ``ledger`` take their engine from here and read
the log only through ``TransparencyLog`` (``ledger.reader``), never through ``ledger.storage``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

__all__ = ["begin_write", "make_engine"]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # a new file only (fixed once the WAL header is written; an existing one keeps its size). 4 KiB, SQLite's
    # default: each event's id key lands on a random page of its index, and every page a commit changes is
    # written whole to the WAL (and again by the checkpoint): at 3 M leaves 16 KiB pages wrote 25 kB per
    # event, 4 KiB ones 11 kB (bench.writer --prefill); the packed rows (~650 B) fill 4 KiB pages as well
    cursor.execute("PRAGMA page_size=4096")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache: event-id index inserts are random
    cursor.execute("PRAGMA wal_autocheckpoint=16384")  # fold the WAL back every ~64 MiB of 4 KiB pages
    cursor.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL and full fsync on commit (crash-safe acknowledgements).

    ``kwargs`` go to ``sqlalchemy.create_engine`` (e.g. ``pool_size`` for PostgreSQL).
    """
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()`` whose transaction really starts at once, also on SQLite; commits on success.

    Python's sqlite3 driver opens a transaction lazily, before the first INSERT, and not before a SAVEPOINT;
    a SAVEPOINT issued first would then be the outermost transaction and its RELEASE would commit. An
    explicit ``BEGIN IMMEDIATE`` makes the savepoints nest and takes the write lock up front (the log has
    one writer, so it never waits on an upgrade from a read lock).
    """
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn
