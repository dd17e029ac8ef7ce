"""event ids found through sorted runs instead of a random-order index (issue 12)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Before: ``ix_events_id_key``, a B-tree over ``events.id_key`` in random order (one page rewritten per event at
10^7 leaves). After: ``event_ids`` holds (run, id_key, leaf_index) of the events below ``log_state.ids_merged``
in sorted runs listed in ``id_runs`` (``ledger.idindex``); the events above that cursor are found by the writer's
memory or a scan of their rows. The upgrade writes every existing event as one run and sets the cursor to the
tree size; the downgrade builds the index again and drops the runs. ``events.id_key`` itself is unchanged.
"""

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``event_ids``/``id_runs`` and ``log_state.ids_merged``; every event in one run; drop the index."""
    op.create_table(
        "event_ids",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("id_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("leaf_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("run", "id_key", "leaf_index"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "id_runs",
        sa.Column("run", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("key_count", sa.BigInteger(), nullable=False),
        sa.Column("merging_into", sa.BigInteger(), nullable=True),
        sa.Column("built_below", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("run"),
    )
    with op.batch_alter_table("log_state") as batch_op:
        batch_op.add_column(sa.Column("ids_merged", sa.BigInteger(), nullable=False, server_default="0"))
    bind = op.get_bind()
    size = int(bind.execute(sa.text("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM events")).scalar_one())
    if size:
        bind.execute(sa.text("INSERT INTO id_runs (run, key_count, merging_into, built_below) VALUES (0, :n, NULL, NULL)"),
                     {"n": size})
        bind.execute(sa.text("INSERT INTO event_ids (run, id_key, leaf_index) SELECT 0, id_key, leaf_index FROM events "
                             "ORDER BY id_key, leaf_index"))
        bind.execute(sa.text("UPDATE log_state SET ids_merged = :n WHERE id = 1"), {"n": size})
    op.drop_index("ix_events_id_key", table_name="events")


def downgrade() -> None:
    """Index ``events.id_key`` again; drop the runs and the cursor."""
    op.create_index("ix_events_id_key", "events", ["id_key"], unique=False)
    with op.batch_alter_table("log_state") as batch_op:
        batch_op.drop_column("ids_merged")
    op.drop_table("id_runs")
    op.drop_table("event_ids")
