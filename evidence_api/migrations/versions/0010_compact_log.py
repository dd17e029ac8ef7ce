"""compact log storage: packed leaves and attestations, Merkle nodes from level 4 up (issue 12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Before: every event's leaf and every attestation body as canonical JSON text, and ``merkle_nodes`` holding
every complete subtree (2 rows per leaf). After: leaves and bodies in the packed form of ``ledger.packing``
(hashes and UUIDs as bytes, format words as one byte; the exact JSON comes back on read), and
``merkle_nodes`` holding subtrees of level 4 and above only (the lower ones are folded from the leaf hashes
the ``events`` rows already hold). No column changes: rows are rewritten in place, in batches, and a value
already packed is left as it is, so an interrupted upgrade can simply be run again. The downgrade restores
both. The tree, its roots and every proof are unchanged.
"""

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


def _packed(value: bytes) -> bytes:
    return value if value[:1] != b"{" else pack(value)


def upgrade() -> None:
    """Pack leaves and attestation bodies; drop the Merkle nodes below level 4."""
    _rewrite("events", "leaf_index", "leaf", _packed)
    _rewrite("attestations", "digest", "body", _packed)
    op.get_bind().execute(sa.text("DELETE FROM merkle_nodes WHERE node_id < :first"),
                          {"first": _STORED_LEVEL << _LEVEL_SHIFT})


def downgrade() -> None:
    """Unpack leaves and attestation bodies; store the Merkle nodes below level 4 again."""
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
