"""Property: the log writer's prebuilt driver SQL (``ledger.writer_sql``) reads and writes exactly what its
SQLAlchemy Core reference does, on SQLite and PostgreSQL: the same chain heads for any keys (stored or not,
odd characters, many at once), and the same rows left by an upsert of heads, a tree-size update and a batch
of attestations. Each example runs in a transaction that is rolled back, once per implementation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, create_engine, text

from ledger import storage as db
from ledger import writer_sql as sql

# what a tenant id / permit id column holds (PostgreSQL text cannot hold NUL; surrogates are not UTF-8)
NAME = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
KEY = st.tuples(NAME, NAME)
HEAD = st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, (1 << 62)))
HEADS = st.dictionaries(KEY, HEAD, max_size=12)
LOOSE = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        yield conn


def _in_rollback(conn: Connection, body: Callable[[], Any]) -> Any:
    """``body()`` inside a transaction of ``conn`` that is rolled back afterwards (the table is as before)."""
    transaction = conn.begin()
    try:
        return body()
    finally:
        transaction.rollback()


def _rows(conn: Connection, table: str) -> list[tuple[Any, ...]]:
    return sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                  for row in conn.execute(text(f"SELECT * FROM {table}")))


@LOOSE
@given(stored=HEADS, asked=st.lists(KEY, max_size=8), also_stored=st.integers(0, 12))
def test_load_heads_reads_what_the_reference_reads(conn: Connection, stored: dict[Any, Any],
                                                    asked: list[tuple[str, str]], also_stored: int) -> None:
    keys = list(dict.fromkeys([*asked, *list(stored)[:also_stored]]))

    def both() -> tuple[sql.Heads, sql.Heads]:
        sql.reference_upsert_heads(conn, stored)
        return sql.load_heads(conn, keys), sql.reference_load_heads(conn, keys)

    fast, reference = _in_rollback(conn, both)
    assert fast == reference
    assert fast == {k: stored[k] for k in keys if k in stored}


def test_load_heads_of_more_keys_than_one_query_binds(conn: Connection) -> None:
    stored = {(f"t{min(n % 10, 1)}", f"P-{n}"): (bytes([n % 256]) * 32, n) for n in range(2000)}  # t1: 1,800
    keys = [*stored, ("t0", "missing")]

    def both() -> tuple[sql.Heads, sql.Heads]:
        sql.upsert_heads(conn, stored)
        return sql.load_heads(conn, keys), sql.reference_load_heads(conn, keys)

    fast, reference = _in_rollback(conn, both)
    assert fast == reference == stored


@LOOSE
@given(before=HEADS, update=HEADS, overlap=st.integers(0, 12))
def test_upsert_heads_leaves_the_rows_the_reference_leaves(conn: Connection, before: dict[Any, Any],
                                                            update: dict[Any, Any], overlap: int) -> None:
    # some of the update's keys are permits that already have a head (an UPDATE), the others new (an INSERT)
    changed = {**update, **{key: (bytes(32), n) for n, key in enumerate(list(before)[:overlap])}}

    def run(upsert: Callable[[Connection, sql.Heads], None]) -> Callable[[], list[tuple[Any, ...]]]:
        def body() -> list[tuple[Any, ...]]:
            sql.reference_upsert_heads(conn, before)
            upsert(conn, changed)
            return _rows(conn, "permit_heads")
        return body

    assert _in_rollback(conn, run(sql.upsert_heads)) == _in_rollback(conn, run(sql.reference_upsert_heads))


@LOOSE
@given(sizes=st.lists(st.integers(0, 1 << 62), min_size=1, max_size=3), fresh=st.booleans())
def test_set_tree_size_leaves_the_row_the_reference_leaves(conn: Connection, sizes: list[int], fresh: bool) -> None:
    def run(set_size: Callable[[Connection, int], None]) -> Callable[[], list[tuple[Any, ...]]]:
        def body() -> list[tuple[Any, ...]]:
            if fresh:
                conn.execute(text("DELETE FROM log_state"))  # a new log: the first commit inserts the row
            for size in sizes:
                set_size(conn, size)
            return _rows(conn, "log_state")
        return body

    assert _in_rollback(conn, run(sql.set_tree_size)) == _in_rollback(conn, run(sql.reference_set_tree_size))


@LOOSE
@given(stored=st.lists(st.binary(min_size=32, max_size=32), max_size=4, unique=True),
       batch=st.lists(st.binary(min_size=32, max_size=32), max_size=6, unique=True), tenant=NAME,
       body=st.binary(max_size=64), reuse=st.integers(0, 4))
def test_new_attestations_leaves_the_rows_the_reference_leaves(conn: Connection, stored: list[bytes],
                                                                batch: list[bytes], tenant: str, body: bytes,
                                                                reuse: int) -> None:
    def row(digest: bytes) -> dict[str, Any]:
        return {"digest": digest, "tenant": tenant, "body": body + digest}

    rows = {d: row(d) for d in [*batch, *stored[:reuse]]}  # some already stored: kept as they are

    def run(insert: Callable[[Connection, dict[bytes, dict[str, Any]]], None]) -> Callable[[], Any]:
        def body_() -> list[tuple[Any, ...]]:
            sql.reference_new_attestations(conn, {d: {**row(d), "body": b"old"} for d in stored})
            insert(conn, rows)
            return _rows(conn, "attestations")
        return body_

    assert _in_rollback(conn, run(sql.new_attestations)) == _in_rollback(conn, run(sql.reference_new_attestations))


def test_load_heads_reads_the_primary_key_not_the_whole_table_on_sqlite() -> None:
    """The reference's row-value IN made SQLite scan every permit the log ever saw at each group commit
    (PostgreSQL plans both forms on the primary key)."""
    engine = create_engine("sqlite://")
    db.metadata.create_all(engine)
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql.heads_query("?", 3), ("t", "a", "b", "c")).all()
    engine.dispose()
    assert [row[-1] for row in plan] == [
        "SEARCH permit_heads USING INDEX sqlite_autoindex_permit_heads_1 (tenant=? AND permit=?)"]
