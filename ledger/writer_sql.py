"""The log writer's per-group statements as prebuilt driver SQL: the same text on SQLite and PostgreSQL.

A group commit reads its permits' chain heads, writes them back, sets the tree size and keeps a batch's
attestation once. Built with SQLAlchemy Core on every call, those statements (construct, cache key, bind
processing of each value) cost the writer, the log's one serial stage, more than the rows they move. The
SQL here is written once per placeholder style and run through the driver (``Connection.exec_driver_sql``,
like ``ledger.storage.insert_rows``): the values are ints, str and bytes, which need no processing.

The Core forms stay beside them as the reference (``reference_*``): tests/integration/test_writer_sql.py
checks, on SQLite and PostgreSQL, that both read the same heads and leave the same rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from ledger import storage as db

__all__ = [
    "Heads",
    "heads_query",
    "load_heads",
    "new_attestations",
    "reference_load_heads",
    "reference_new_attestations",
    "reference_set_tree_size",
    "reference_upsert_heads",
    "set_tree_size",
    "upsert_heads",
]

Heads = dict[tuple[str, str], tuple[bytes, int]]
"""(tenant, permit) -> (leaf hash, leaf index) of the permit's newest event: its chain head."""

_PAIRS_PER_QUERY = 400  # 800 bound parameters: below SQLite's old default limit of 999


def load_heads(conn: Connection, keys: Iterable[tuple[str, str]]) -> Heads:
    """The stored chain heads of ``keys`` (those with none are absent): per tenant, one query per 800 permits,
    ``tenant = ? AND permit IN (...)``, which both databases answer from the primary key. (The row-value form
    ``(tenant, permit) IN ((?, ?), ...)`` of the reference makes SQLite scan the whole table: every permit the
    log ever saw, at each group commit.)"""
    by_tenant: dict[str, list[str]] = {}
    for tenant, permit in keys:
        by_tenant.setdefault(tenant, []).append(permit)
    mark, found = db.placeholder(conn), {}
    for tenant, permits in by_tenant.items():
        for start in range(0, len(permits), 2 * _PAIRS_PER_QUERY):
            some = permits[start:start + 2 * _PAIRS_PER_QUERY]
            rows = conn.exec_driver_sql(heads_query(mark, len(some)), (tenant, *some))
            for row_tenant, permit, digest, index in rows:
                found[(row_tenant, permit)] = (bytes(digest), int(index))
    return found


def heads_query(mark: str, count: int) -> str:
    """``load_heads``' statement for one tenant and ``count`` permits, with placeholder ``mark``."""
    return ("SELECT tenant, permit, leaf_hash, leaf_index FROM permit_heads "
            f"WHERE tenant = {mark} AND permit IN ({', '.join([mark] * count)})")


def upsert_heads(conn: Connection, heads: Mapping[tuple[str, str], tuple[bytes, int]]) -> None:
    """Write ``heads``: a new permit's row inserted, a known one's replaced (one ``executemany``)."""
    if not heads:
        return
    mark = db.placeholder(conn)
    conn.exec_driver_sql(
        f"INSERT INTO permit_heads (tenant, permit, leaf_hash, leaf_index) VALUES ({mark}, {mark}, {mark}, {mark}) "
        "ON CONFLICT (tenant, permit) DO UPDATE SET leaf_hash = excluded.leaf_hash, leaf_index = excluded.leaf_index",
        [(tenant, permit, digest, index) for (tenant, permit), (digest, index) in heads.items()])


def set_tree_size(conn: Connection, size: int) -> None:
    """Store the tree size (the one ``log_state`` row, created on the first commit)."""
    mark = db.placeholder(conn)
    if conn.exec_driver_sql(f"UPDATE log_state SET tree_size = {mark} WHERE id = 1", (size,)).rowcount == 0:
        conn.exec_driver_sql(f"INSERT INTO log_state (id, tree_size) VALUES (1, {mark})", (size,))


def new_attestations(conn: Connection, rows: Mapping[bytes, dict[str, Any]]) -> None:
    """Insert the attestation rows (digest -> row of ``db.attestations``) not stored yet."""
    if not rows:
        return
    mark, digests = db.placeholder(conn), list(rows)
    known: set[bytes] = set()
    for start in range(0, len(digests), 2 * _PAIRS_PER_QUERY):
        some = digests[start:start + 2 * _PAIRS_PER_QUERY]
        known.update(bytes(d) for (d,) in conn.exec_driver_sql(
            f"SELECT digest FROM attestations WHERE digest IN ({', '.join([mark] * len(some))})", tuple(some)))
    fresh = [(row["digest"], row["tenant"], row["body"]) for digest, row in rows.items() if digest not in known]
    if fresh:
        conn.exec_driver_sql(f"INSERT INTO attestations (digest, tenant, body) VALUES ({mark}, {mark}, {mark})", fresh)


# -- the reference: the same statements in SQLAlchemy Core (what the writer ran before) ------------------
def reference_load_heads(conn: Connection, keys: Iterable[tuple[str, str]]) -> Heads:
    """``load_heads`` in SQLAlchemy Core."""
    wanted = sorted(keys)
    if not wanted:
        return {}
    heads = db.permit_heads.c
    rows = conn.execute(select(heads.tenant, heads.permit, heads.leaf_hash, heads.leaf_index)
                        .where(tuple_(heads.tenant, heads.permit).in_(wanted)))
    return {(row.tenant, row.permit): (bytes(row.leaf_hash), row.leaf_index) for row in rows}


def reference_upsert_heads(conn: Connection, heads: Mapping[tuple[str, str], tuple[bytes, int]]) -> None:
    """``upsert_heads`` in SQLAlchemy Core."""
    if not heads:
        return
    rows = [{"tenant": t, "permit": p, "leaf_hash": h, "leaf_index": i} for (t, p), (h, i) in heads.items()]
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(db.permit_heads)
    stmt = stmt.on_conflict_do_update(
        index_elements=["tenant", "permit"],
        set_={"leaf_hash": stmt.excluded.leaf_hash, "leaf_index": stmt.excluded.leaf_index},
    )
    conn.execute(stmt, rows)


def reference_set_tree_size(conn: Connection, size: int) -> None:
    """``set_tree_size`` in SQLAlchemy Core."""
    log_state = db.log_state
    if conn.execute(update(log_state).where(log_state.c.id == 1).values(tree_size=size)).rowcount == 0:
        conn.execute(insert(log_state).values(id=1, tree_size=size))


def reference_new_attestations(conn: Connection, rows: Mapping[bytes, dict[str, Any]]) -> None:
    """``new_attestations`` in SQLAlchemy Core."""
    if not rows:
        return
    a = db.attestations.c
    known = set(conn.execute(select(a.digest).where(a.digest.in_(list(rows)))).scalars())
    fresh = [row for digest, row in rows.items() if digest not in known]
    if fresh:
        conn.execute(insert(db.attestations), fresh)
