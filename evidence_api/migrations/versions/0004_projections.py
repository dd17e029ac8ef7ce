"""the projector's cursor and the events it could not fold (issue 8, seam 1)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01

Permits, certificates and notifications are folded from committed events by ``services.projector``, no
longer written inside the log's transaction. The cursor starts at -1: on the first start after this
migration the projector would fold the whole log again, so an existing database gets its cursor at the
current log end (its projection was kept in step with the log by the old commit hooks).
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the cursor and failure tables; start the cursor at the last leaf already projected."""
    op.create_table('projection_cursors',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('leaf_index', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('projection_failures',
    sa.Column('leaf_index', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('permit', sa.String(length=128), nullable=True),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('failed_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('leaf_index')
    )
    with op.batch_alter_table('projection_failures', schema=None) as batch_op:
        batch_op.create_index('ix_projection_failures_permit', ['tenant', 'permit'], unique=False)
    op.execute("INSERT INTO projection_cursors (name, leaf_index, updated_at) "
               "SELECT 'main', COALESCE(MAX(leaf_index), -1), '1970-01-01T00:00:00.000Z' FROM events")


def downgrade() -> None:
    """Drop both tables (the old commit hooks need neither)."""
    with op.batch_alter_table('projection_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_projection_failures_permit')
    op.drop_table('projection_failures')
    op.drop_table('projection_cursors')
