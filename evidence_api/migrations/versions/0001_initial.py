"""initial schema: log, tenants, tokens, actor keys

Revision ID: 0001
Revises: 
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the log's tables (events, attestations, permit heads, nodes, checkpoints, anchors) and the service's."""
    op.create_table('anchors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('backend', sa.String(length=32), nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.Column('receipt', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('backend', 'tree_size', name='uq_anchors_backend_size')
    )
    op.create_table('attestations',
    sa.Column('digest', sa.LargeBinary(length=32), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('body', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('digest')
    )
    op.create_table('checkpoints',
    sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('tree_size')
    )
    op.create_table('events',
    sa.Column('leaf_index', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('permit', sa.String(length=128), nullable=True),
    sa.Column('key_id', sa.String(length=128), nullable=False),
    sa.Column('claim_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('leaf', sa.LargeBinary(), nullable=False),
    sa.Column('payload_sealed', sa.LargeBinary(), nullable=False),
    sa.Column('payload_key', sa.LargeBinary(), nullable=False),
    sa.Column('attestation', sa.LargeBinary(length=32), nullable=True),
    sa.Column('received_at', sa.String(length=40), nullable=False),
    sa.Column('flags', sa.String(length=200), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('leaf_index'),
    sa.UniqueConstraint('event_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_tenant_permit', ['tenant', 'permit', 'leaf_index'], unique=False)

    op.create_table('log_state',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tree_size', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('merkle_nodes',
    sa.Column('node_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('node_id'),
    sqlite_with_rowid=False
    )
    op.create_table('permit_heads',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('permit', sa.String(length=128), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('leaf_index', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('tenant', 'permit')
    )
    op.create_table('tenants',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('actor_keys',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('key_id', sa.String(length=128), nullable=False),
    sa.Column('actor_type', sa.String(length=16), nullable=False),
    sa.Column('actor_id', sa.String(length=128), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'key_id')
    )
    op.create_table('api_tokens',
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('token_hash')
    )


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table('api_tokens')
    op.drop_table('actor_keys')
    op.drop_table('tenants')
    op.drop_table('permit_heads')
    op.drop_table('merkle_nodes')
    op.drop_table('log_state')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_tenant_permit')

    op.drop_table('events')
    op.drop_table('checkpoints')
    op.drop_table('attestations')
    op.drop_table('anchors')
