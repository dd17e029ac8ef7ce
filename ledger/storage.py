"""Tables and stores of the log: events, attestations, permit chain heads, Merkle nodes, checkpoints, anchors.

SQLAlchemy 2 Core over SQLite (WAL, ``synchronous=FULL``: a commit is on disk before it is acknowledged) or
PostgreSQL. The schema is created by the Alembic migrations in ``evidence_api/migrations``; ``metadata`` here
is their source of truth and a test checks the two agree.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.exc import SQLAlchemyError

from ledger.database import make_engine
from ledger.errors import StorageError
from ledger.merkle import NodeId, perfect_root

__all__ = [
    "STORED_LEVEL",
    "SqlNodeStore",
    "anchors",
    "attestations",
    "checkpoints",
    "cosignatures",
    "decode_flags",
    "encode_flags",
    "event_ids",
    "event_key",
    "events",
    "events_at",
    "id_filter",
    "id_runs",
    "insert_rows",
    "log_state",
    "make_engine",
    "merkle_nodes",
    "metadata",
    "node_key",
    "permit_heads",
    "placeholder",
    "read_tree_size",
]

metadata = MetaData()

events = Table(
    "events",
    metadata,
    # INTEGER on SQLite makes the key the rowid itself: one B-tree fewer per appended event
    Column("leaf_index", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("permit", String(128)),
    Column("key_id", String(128), nullable=False),
    Column("claim_hash", LargeBinary(32), nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("leaf", LargeBinary, nullable=False),
    Column("payload_sealed", LargeBinary, nullable=False),
    Column("payload_key", LargeBinary, nullable=False),
    Column("attestation", LargeBinary(32)),
    Column("received_at", String(40), nullable=False),
    Column("flags", String(200), nullable=False, server_default=""),  # encode_flags (migration 0011)
    # idempotency is per tenant (migration 0003): the writer finds an id of a tenant by ``event_key``, an
    # 8-byte key (migration 0010), and compares the id and tenant of each row found; keys of different events
    # may collide. Not indexed here (migration 0012): ``ledger.idindex`` finds a key in the writer's memory and
    # ``event_ids`` (below ``log_state.ids_merged``) or in the rows above that cursor
    Column("id_key", BigInteger, nullable=False),
)
Index("ix_events_tenant_permit", events.c.tenant, events.c.permit, events.c.leaf_index)
Index("ix_events_tenant_leaf", events.c.tenant, events.c.leaf_index)  # a tenant's events of a day (digests)

attestations = Table(
    "attestations",
    metadata,
    Column("digest", LargeBinary(32), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("body", LargeBinary, nullable=False),
)

permit_heads = Table(
    "permit_heads",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("permit", String(128), primary_key=True),
    Column("leaf_hash", LargeBinary(32), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
)

merkle_nodes = Table(
    "merkle_nodes",
    metadata,
    Column("node_id", BigInteger, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)

log_state = Table(
    "log_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("tree_size", BigInteger, nullable=False),
    # every event below this leaf index has its id key in ``event_ids`` (migration 0012, ``ledger.idindex``)
    Column("ids_merged", BigInteger, nullable=False, server_default="0"),
)

event_ids = Table(
    "event_ids",
    metadata,
    # sorted runs of (id_key, leaf_index): a run is appended in key order, so its pages are written once
    # (``ledger.idindex``; docs/formats.md "Event-id index")
    Column("run", BigInteger, primary_key=True, autoincrement=False),
    Column("id_key", BigInteger, primary_key=True, autoincrement=False),
    Column("leaf_index", BigInteger, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)

id_runs = Table(
    "id_runs",
    metadata,
    # one row per run of ``event_ids``: how many keys it holds (or will, once built), the run a source is
    # being merged into, and for a run being built the key below which its sources' keys have moved into it
    Column("run", BigInteger, primary_key=True, autoincrement=False),
    Column("key_count", BigInteger, nullable=False),
    Column("merging_into", BigInteger),
    Column("built_below", BigInteger),
)

id_filter = Table(
    "id_filter",
    metadata,
    # the writer's Bloom filter over every key in ``event_ids``, saved when it stops cleanly (migration 0013,
    # ``ledger.idindex``): it holds the keys of the events below ``merged``; one row per part, SM3 of its bits
    Column("part", Integer, primary_key=True, autoincrement=False),
    Column("merged", BigInteger, nullable=False),
    Column("key_count", BigInteger, nullable=False),
    Column("digest", LargeBinary, nullable=False),
    Column("bits", LargeBinary, nullable=False),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_checkpoints_created_at", checkpoints.c.created_at)  # day-end checkpoints (ledger.dayend)

anchors = Table(
    "anchors",
    metadata,
    # the one source of truth for anchor receipts: a row per backend transaction, written "pending" (with its
    # tx id) before the transaction is sent, then "anchored" with its receipt, or "failed" with the reason
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("backend", String(32), nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("tx_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("pending", Text),
    Column("receipt", Text),
    Column("error", Text),
    Column("created_at", String(40), nullable=False),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("backend", "tx_id", name="uq_anchors_backend_tx"),
)
Index("ix_anchors_backend_status_size", anchors.c.backend, anchors.c.status, anchors.c.tree_size)

cosignatures = Table(
    "cosignatures",
    metadata,
    # witness cosignatures (C2SP cosignature/v1) onto the log's checkpoints, collected by ledger.witnesses:
    # one per witness and tree size; the cosigned note is the checkpoint's text plus ``line`` (migration 0007)
    Column("witness", String(255), primary_key=True),
    Column("tree_size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("line", Text, nullable=False),
    Column("created_at", String(40), nullable=False),
)
Index("ix_cosignatures_tree_size", cosignatures.c.tree_size)

_LEVEL_SHIFT = 56
STORED_LEVEL = 4
"""``merkle_nodes`` holds the subtrees of this level and above (1 row per 8 leaves, not 2 per leaf, migration
0010); a lower one is folded from the leaf hashes in ``events``: at most 16 rows, read by their key."""
_INDEX_MASK = (1 << _LEVEL_SHIFT) - 1
_PARAMS_PER_QUERY = 450  # twice that stays below SQLite's limit of bound parameters


def event_key(tenant: str, event_id: str) -> int:
    """The lookup key of ``tenant``'s event ``event_id``: the first 8 bytes of BLAKE2b over both, signed.

    Not a security function (a hit is checked against the row's tenant and id), but unkeyed-collision resistant
    enough that nobody can pile many ids of their choice onto one key and slow every lookup of it down.
    """
    digest = hashlib.blake2b(f"{tenant}\x00{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# Flags an event row stores as one character each (``encode_flags``, migration 0011): the ones the service
# sets. The position is the code: only ever append. A code is never a flag's name (those are words), and a
# flag stored as its name is escaped with "=" if it could be read as a code or an escape.
_FLAGS = ("occurred_long_before_receipt", "received_late", "occurred_in_future", "keyframe.bad_link",
          "keyframe.chain_break", "exif.no_time", "exif.time_mismatch", "exif.no_gps", "exif.place_mismatch")
_FLAG_CODE = {flag: chr(ord("1") + n) for n, flag in enumerate(_FLAGS)}
_CODE_FLAG = {code: flag for flag, code in _FLAG_CODE.items()}


def encode_flags(flags: Iterable[str]) -> str:
    """The stored form of an event's flags: comma-separated, each known flag as its code (``_FLAGS``)."""
    return ",".join(_FLAG_CODE.get(flag) or (f"={flag}" if flag in _CODE_FLAG or flag[:1] == "=" else flag)
                    for flag in flags)


def decode_flags(stored: str) -> tuple[str, ...]:
    """The flags ``encode_flags`` stored (rows written before migration 0011 hold names: read the same)."""
    return tuple(_CODE_FLAG.get(token) or (token[1:] if token[:1] == "=" else token)
                 for token in stored.split(",") if token)


def node_key(node: NodeId) -> int:
    """Pack (level, index) into one integer key: level in the top byte, index below (index < 2**56)."""
    level, index = node
    return (level << _LEVEL_SHIFT) | index


class SqlNodeStore:
    """``NodeReader`` over ``merkle_nodes`` and the leaf hashes of ``events``, on a connection (so uncommitted
    rows are visible)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        """Read the requested nodes, in one query for a proof: stored ones by key, lower ones folded from the
        leaf hashes under them (at most 15 for the lower levels of one audit path)."""
        wanted = set(ids)
        folded = [node for node in wanted if node[0] < STORED_LEVEL]
        keys = [node_key(node) for node in wanted if node[0] >= STORED_LEVEL]
        leaves = sorted({i for level, index in folded for i in range(index << level, (index + 1) << level)})
        try:
            rows = self._read(keys, leaves)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read merkle nodes: {exc}") from exc
        found = {(key >> _LEVEL_SHIFT, key & _INDEX_MASK): rows[key] for key in keys if key in rows}
        for level, index in folded:
            hashes = [rows.get(-1 - i) for i in range(index << level, (index + 1) << level)]
            if all(h is not None for h in hashes):
                found[(level, index)] = perfect_root([h for h in hashes if h is not None])
        return found

    def _read(self, keys: list[int], leaves: list[int]) -> dict[int, bytes]:
        """Node key -> hash of the stored nodes ``keys``, and ``-1 - i`` -> leaf hash of each leaf ``i``."""
        mark = placeholder(self._conn)
        found: dict[int, bytes] = {}
        for start in range(0, max(len(keys), len(leaves)), _PARAMS_PER_QUERY):
            some_keys, some_leaves = keys[start:start + _PARAMS_PER_QUERY], leaves[start:start + _PARAMS_PER_QUERY]
            parts = ([f"SELECT node_id, hash FROM merkle_nodes WHERE node_id IN ({', '.join([mark] * len(some_keys))})"]
                     if some_keys else [])
            if some_leaves:
                parts.append(f"SELECT -1 - leaf_index, leaf_hash FROM events "
                             f"WHERE leaf_index IN ({', '.join([mark] * len(some_leaves))})")
            rows = self._conn.exec_driver_sql(" UNION ALL ".join(parts), tuple(some_keys + some_leaves))
            found.update((int(key), bytes(digest)) for key, digest in rows)
        return found


def insert_rows(conn: Connection, table: Table, rows: list[tuple[Any, ...]]) -> None:
    """Bulk insert of positional rows (all columns, in table order) through the driver's ``executemany``.

    The hot path of intake writes ~3 rows per event; SQLAlchemy's per-value bind processing cost as much as
    the rest of the commit, and these columns need none (ints, str, bytes).
    """
    if not rows:
        return
    mark = placeholder(conn)
    names = ", ".join(column.name for column in table.columns)
    conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([mark] * len(table.columns))})", rows)


def placeholder(conn: Connection) -> str:
    """The driver's bound-parameter mark for SQL run with ``exec_driver_sql``: ``?`` (sqlite3), ``%s`` (psycopg)."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def events_at(conn: Connection, indices: list[int]) -> list[Any]:
    """(tenant, event_id, claim_hash, leaf_index, leaf_hash, received_at) of the events at ``indices`` (the
    writer's idempotency check reads the rows its id keys point to: plain SQL, SQLAlchemy's binding cost more)."""
    mark = placeholder(conn)
    found: list[Any] = []
    for start in range(0, len(indices), 2 * _PARAMS_PER_QUERY):
        some = indices[start:start + 2 * _PARAMS_PER_QUERY]
        found.extend(conn.exec_driver_sql(
            "SELECT tenant, event_id, claim_hash, leaf_index, leaf_hash, received_at FROM events "
            f"WHERE leaf_index IN ({', '.join([mark] * len(some))})", tuple(some)))
    return found


def read_tree_size(conn: Connection) -> int:
    """The committed tree size (0 for a new log)."""
    size = conn.execute(select(log_state.c.tree_size).where(log_state.c.id == 1)).scalar()
    return int(size or 0)
