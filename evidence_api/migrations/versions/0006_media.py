"""media objects, uploads, retention and legal holds (issue 13)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

``media``: one row per upload (tus 1.0) with its segment-format header and wrapped data key, its state
(uploading, stored, deleted), declared SM3, permit, purpose, retention date and the ids of its
``media.stored`` / ``media.deleted`` events. ``legal_holds``: holds placed on a permit (they block the
deletion of its media until released). Tables only: nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``media`` and ``legal_holds`` with their indexes."""
    op.create_table(
        'media',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('purpose', sa.String(length=32), nullable=True),
        sa.Column('permit', sa.String(length=128), nullable=True),
        sa.Column('recording', sa.String(length=128), nullable=True),
        sa.Column('seq', sa.Integer(), nullable=True),
        sa.Column('length', sa.BigInteger(), nullable=False),
        sa.Column('declared_sm3', sa.String(length=64), nullable=False),
        sa.Column('header', sa.String(length=96), nullable=False),
        sa.Column('wrapped_key', sa.Text(), nullable=True),
        sa.Column('object_key', sa.String(length=300), nullable=False),
        sa.Column('metadata', sa.Text(), nullable=False),
        sa.Column('uploader', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.String(length=40), nullable=False),
        sa.Column('stored_at', sa.String(length=40), nullable=True),
        sa.Column('retain_until', sa.String(length=40), nullable=True),
        sa.Column('event_id', sa.String(length=36), nullable=True),
        sa.Column('facts', sa.Text(), nullable=True),
        sa.Column('deleted_at', sa.String(length=40), nullable=True),
        sa.Column('delete_event_id', sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint('tenant', 'id'),
    )
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.create_index('ix_media_permit', ['tenant', 'permit'], unique=False)
        batch_op.create_index('ix_media_retention', ['state', 'retain_until'], unique=False)
        batch_op.create_index('ix_media_recording', ['tenant', 'recording', 'seq'], unique=False)
    op.create_table(
        'legal_holds',
        sa.Column('tenant', sa.String(length=64), nullable=False),
        sa.Column('id', sa.String(length=36), nullable=False),
        sa.Column('permit', sa.String(length=128), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('placed_by', sa.String(length=128), nullable=False),
        sa.Column('placed_at', sa.String(length=40), nullable=False),
        sa.Column('placed_event_id', sa.String(length=36), nullable=False),
        sa.Column('released_by', sa.String(length=128), nullable=True),
        sa.Column('released_at', sa.String(length=40), nullable=True),
        sa.Column('released_event_id', sa.String(length=36), nullable=True),
        sa.Column('active', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('tenant', 'id'),
    )
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.create_index('ix_legal_holds_permit', ['tenant', 'permit', 'active'], unique=False)


def downgrade() -> None:
    """Drop both tables."""
    with op.batch_alter_table('legal_holds', schema=None) as batch_op:
        batch_op.drop_index('ix_legal_holds_permit')
    op.drop_table('legal_holds')
    with op.batch_alter_table('media', schema=None) as batch_op:
        batch_op.drop_index('ix_media_recording')
        batch_op.drop_index('ix_media_retention')
        batch_op.drop_index('ix_media_permit')
    op.drop_table('media')
