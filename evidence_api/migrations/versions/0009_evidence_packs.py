"""evidence packs (issue 11)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

One row per requested evidence pack: its scope, status (building, ready, failed), progress, and once ready
the zip's size and SM3, the evidence digest its certificate shows and the assurance level its self-check
found. The zip itself is a file under ``<data dir>/packs/<tenant>/<id>.zip``.
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``evidence_packs``."""
    op.create_table(
        'evidence_packs',
        sa.Column('tenant', sa.String(length=64), sa.ForeignKey('tenants.id'), primary_key=True),
        sa.Column('id', sa.String(length=36), primary_key=True),
        sa.Column('scope', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('stage', sa.String(length=16), nullable=False),
        sa.Column('done', sa.Integer(), nullable=False),
        sa.Column('total', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.String(length=40), nullable=False),
        sa.Column('updated_at', sa.String(length=40), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=True),
        sa.Column('sm3', sa.String(length=64), nullable=True),
        sa.Column('evidence_digest', sa.String(length=64), nullable=True),
        sa.Column('assurance', sa.String(length=64), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
    )
    op.create_index('ix_evidence_packs_status', 'evidence_packs', ['status'])


def downgrade() -> None:
    """Drop ``evidence_packs``."""
    op.drop_index('ix_evidence_packs_status', table_name='evidence_packs')
    op.drop_table('evidence_packs')
