"""organisation, certificates, permits, notifications

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 12:48:39.505125
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the organisation, certificate, permit and notification tables."""
    op.create_table('areas',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('geofence', sa.Text(), nullable=False),
    sa.Column('qr_token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    op.create_table('certificate_warnings',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('certificate', sa.String(length=64), nullable=False),
    sa.Column('due_kind', sa.String(length=16), nullable=False),
    sa.Column('due_on', sa.String(length=10), nullable=False),
    sa.Column('days_before', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=36), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'certificate', 'due_kind', 'due_on', 'days_before')
    )
    op.create_table('certificates',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=8), nullable=False),
    sa.Column('sub_type', sa.String(length=8), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('holder_name', sa.String(length=200), nullable=False),
    sa.Column('issued_on', sa.String(length=10), nullable=False),
    sa.Column('expires_on', sa.String(length=10), nullable=False),
    sa.Column('review_due_on', sa.String(length=10), nullable=False),
    sa.Column('authority', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id'),
    sa.UniqueConstraint('tenant', 'number', name='uq_certificates_number')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index('ix_certificates_worker', ['tenant', 'worker'], unique=False)

    op.create_table('contractors',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    op.create_table('devices',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    op.create_table('notifications',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('topic', sa.String(length=64), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('sent_at', sa.String(length=40), nullable=True),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_status', ['status', 'id'], unique=False)

    op.create_table('permit_workers',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('permit', sa.String(length=128), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('hours_per_day', sa.Float(), nullable=False),
    sa.Column('starts_at', sa.String(length=40), nullable=False),
    sa.Column('ends_at', sa.String(length=40), nullable=False),
    sa.Column('live', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'permit', 'worker')
    )
    with op.batch_alter_table('permit_workers', schema=None) as batch_op:
        batch_op.create_index('ix_permit_workers_worker', ['tenant', 'worker'], unique=False)

    op.create_table('permits',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=128), nullable=False),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=True),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('area', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.String(length=40), nullable=False),
    sa.Column('ends_at', sa.String(length=40), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.create_index('ix_permits_area', ['tenant', 'area', 'starts_at'], unique=False)
        batch_op.create_index('ix_permits_state', ['tenant', 'state'], unique=False)

    op.create_table('sites',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    op.create_table('tenant_settings',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('rules', sa.Text(), nullable=False),
    sa.Column('webhook_url', sa.String(length=500), nullable=True),
    sa.Column('updated_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant')
    )
    op.create_table('users',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('roles', sa.String(length=400), nullable=False),
    sa.Column('contractor', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    op.create_table('violations',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('worker', sa.String(length=64), nullable=False),
    sa.Column('occurred_on', sa.String(length=10), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )
    with op.batch_alter_table('violations', schema=None) as batch_op:
        batch_op.create_index('ix_violations_worker', ['tenant', 'worker', 'occurred_on'], unique=False)

    op.create_table('workers',
    sa.Column('tenant', sa.String(length=64), nullable=False),
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('team', sa.String(length=200), nullable=False),
    sa.Column('contractor', sa.String(length=64), nullable=True),
    sa.Column('user_id', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.id'], ),
    sa.PrimaryKeyConstraint('tenant', 'id')
    )


def downgrade() -> None:
    """Drop them again."""
    op.drop_table('workers')
    with op.batch_alter_table('violations', schema=None) as batch_op:
        batch_op.drop_index('ix_violations_worker')

    op.drop_table('violations')
    op.drop_table('users')
    op.drop_table('tenant_settings')
    op.drop_table('sites')
    with op.batch_alter_table('permits', schema=None) as batch_op:
        batch_op.drop_index('ix_permits_state')
        batch_op.drop_index('ix_permits_area')

    op.drop_table('permits')
    with op.batch_alter_table('permit_workers', schema=None) as batch_op:
        batch_op.drop_index('ix_permit_workers_worker')

    op.drop_table('permit_workers')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index('ix_notifications_status')

    op.drop_table('notifications')
    op.drop_table('devices')
    op.drop_table('contractors')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_certificates_worker')

    op.drop_table('certificates')
    op.drop_table('certificate_warnings')
    op.drop_table('areas')
