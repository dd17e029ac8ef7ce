"""regulator digests and insurer risk records (issue 10)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

``digests`` keeps each tenant's signed daily regulator digest (the canonical JSON that was signed, its SM3
and the tree it covers) and the staged write of its hash to the EVM registry (pending transaction, receipt
or the chain's refusal); ``risk_grants`` which insurer organisations a tenant lets read its risk records.
Two indexes serve them: the log's checkpoints by cut time (the day-end checkpoint, ``ledger.dayend``) and a
tenant's events in log order (a day's counts).
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``digests`` and ``risk_grants``; index checkpoints by time and events by tenant and leaf."""
    op.create_table('digests',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('digest_hash', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('registry_pending', sa.Text(), nullable=True),
    sa.Column('registry_receipt', sa.Text(), nullable=True),
    sa.Column('registry_error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'day')
    )
    op.create_table('risk_grants',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('insurer', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.ForeignKeyConstraint(['insurer'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'insurer')
    )
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.create_index('ix_checkpoints_created_at', ['created_at'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_tenant_leaf', ['tenant', 'leaf_index'], unique=False)


def downgrade() -> None:
    """Drop both tables and both indexes."""
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_tenant_leaf')
    with op.batch_alter_table('checkpoints', schema=None) as batch_op:
        batch_op.drop_index('ix_checkpoints_created_at')
    op.drop_table('risk_grants')
    op.drop_table('digests')
