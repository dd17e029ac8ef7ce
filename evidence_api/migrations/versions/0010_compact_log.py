"""compact log storage: packed leaves and attestations, Merkle nodes from level 4 up, 8-byte id keys (issue 12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Before: every event's leaf and every attestation body as canonical JSON text, and ``merkle_nodes`` holding
every complete subtree (2 rows per leaf). After: leaves and bodies in the packed form of ``ledger.packing``
(hashes and UUIDs as bytes, format words as one byte; the exact JSON comes back on read), and
``merkle_nodes`` holding subtrees of level 4 and above only (the lower ones are folded from the leaf hashes
the ``events`` rows already hold), and ``UNIQUE (tenant, event_id)`` replaced by ``id_key``, 8 bytes of
BLAKE2b over both, in a non-unique index (the writer checks the id of each row it finds). Rows are rewritten
in place, in batches (on SQLite the events table is rebuilt once, for the constraint). The downgrade restores
all of it. The tree, its roots and every proof are unchanged.
"""

import hashlib
import logging
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

from ledger.merkle import perfect_root
from ledger.packing import pack, unpack

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

_STORED_LEVEL = 4  # ledger.storage.STORED_LEVEL
_LEVEL_SHIFT = 56  # ledger.storage.node_key: level in the top byte
_BATCH = 5000
_log = logging.getLogger("alembic.runtime.migration")


def _rewrite(table: str, key: str, column: str, change: Callable[[bytes], bytes]) -> None:
    """Apply ``change`` to ``column`` of every row of ``table``, in key order, ``_BATCH`` rows at a time."""
    bind, done = op.get_bind(), 0
    rows = bind.execute(sa.text(f"SELECT {key}, {column} FROM {table} ORDER BY {key} LIMIT {_BATCH}")).fetchall()
    while rows:
        updates = [{"k": k, "v": new} for k, value in rows if (new := change(bytes(value))) != bytes(value)]
        if updates:
            bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :k"), updates)
        done += len(rows)
        if done % 100_000 < _BATCH:
            _log.info("0010: %s.%s, %d rows rewritten so far", table, column, done)
        rows = bind.execute(sa.text(f"SELECT {key}, {column} FROM {table} WHERE {key} > :after "
                                    f"ORDER BY {key} LIMIT {_BATCH}"), {"after": rows[-1][0]}).fetchall()


def _event_key(tenant: str, event_id: str) -> int:
    """``ledger.storage.event_key`` as of this revision."""
    digest = hashlib.blake2b(f"{tenant}\x00{event_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _fill_id_keys() -> None:
    bind = op.get_bind()
    query = "SELECT leaf_index, tenant, event_id FROM events WHERE leaf_index > :after ORDER BY leaf_index LIMIT :n"
    rows = bind.execute(sa.text(query), {"after": -1, "n": _BATCH}).fetchall()
    while rows:
        bind.execute(sa.text("UPDATE events SET id_key = :k WHERE leaf_index = :i"),
                     [{"k": _event_key(tenant, event_id), "i": i} for i, tenant, event_id in rows])
        rows = bind.execute(sa.text(query), {"after": rows[-1][0], "n": _BATCH}).fetchall()


def _packed(value: bytes) -> bytes:
    return value if value[:1] != b"{" else pack(value)


def upgrade() -> None:
    """Key events by ``id_key``; pack leaves and attestation bodies; drop the Merkle nodes below level 4."""
    op.add_column("events", sa.Column("id_key", sa.BigInteger(), nullable=True))
    _fill_id_keys()
    with op.batch_alter_table("events") as batch_op:
        batch_op.alter_column("id_key", existing_type=sa.BigInteger(), nullable=False)
        batch_op.drop_constraint("uq_events_tenant_event_id", type_="unique")
        batch_op.create_index("ix_events_id_key", ["id_key"], unique=False)
    _rewrite("events", "leaf_index", "leaf", _packed)
    _rewrite("attestations", "digest", "body", _packed)
    op.get_bind().execute(sa.text("DELETE FROM merkle_nodes WHERE node_id < :first"),
                          {"first": _STORED_LEVEL << _LEVEL_SHIFT})


def downgrade() -> None:
    """Back to ``UNIQUE (tenant, event_id)``; unpack leaves and bodies; store the nodes below level 4 again."""
    with op.batch_alter_table("events") as batch_op:
        batch_op.drop_index("ix_events_id_key")
        batch_op.drop_column("id_key")
        batch_op.create_unique_constraint("uq_events_tenant_event_id", ["tenant", "event_id"])
    _rewrite("events", "leaf_index", "leaf", unpack)
    _rewrite("attestations", "digest", "body", unpack)
    bind, block = op.get_bind(), 1 << _STORED_LEVEL
    bind.execute(sa.text("DELETE FROM merkle_nodes WHERE node_id < :first"), {"first": _STORED_LEVEL << _LEVEL_SHIFT})
    after = -1
    while True:
        rows = bind.execute(sa.text("SELECT leaf_index, leaf_hash FROM events WHERE leaf_index > :after "
                                    "ORDER BY leaf_index LIMIT :n"), {"after": after, "n": _BATCH * block}).fetchall()
        if not rows:
            break
        hashes = [bytes(h) for _, h in rows]
        first = rows[0][0]  # a multiple of 16: batches hold whole blocks
        nodes = [{"k": (level << _LEVEL_SHIFT) | ((first + start) >> level),
                  "h": perfect_root(hashes[start:start + (1 << level)])}
                 for level in range(_STORED_LEVEL) for start in range(0, len(hashes) - (1 << level) + 1, 1 << level)]
        bind.execute(sa.text("INSERT INTO merkle_nodes (node_id, hash) VALUES (:k, :h)"), nodes)
        after = rows[-1][0]
