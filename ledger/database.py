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
    # a new file only (fixed once the WAL header is written): rows of ~700 B waste up to a sixth of a 4 KiB
    # page (5 fit where 5.9 would) and at most 4 % of a 16 KiB one; index pages hold 4x the keys
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache: event-id index inserts are random
    cursor.execute("PRAGMA wal_autocheckpoint=4096")  # fold the WAL back every ~64 MiB of 16 KiB pages
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
