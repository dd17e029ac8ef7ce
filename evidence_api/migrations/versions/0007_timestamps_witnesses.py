"""trusted timestamps and witness cosignatures of checkpoints (issue 11)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

RFC 3161 timestamp tokens need no table of their own: the ``tsa`` backend is staged like every anchor
backend, so its requests and tokens are rows of ``anchors`` (receipt ``kind`` ``rfc3161``). Witness
cosignatures are collected onto the checkpoints in ``cosignatures``: one row per witness and tree size, with
the cosignature/v1 note signature line; appended to the checkpoint's text, it gives the cosigned checkpoint.
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``cosignatures``."""
    op.create_table(
        'cosignatures',
        sa.Column('witness', sa.String(length=255), nullable=False),
        sa.Column('tree_size', sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
        sa.Column('timestamp', sa.BigInteger(), nullable=False),
        sa.Column('line', sa.Text(), nullable=False),
        sa.Column('created_at', sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint('witness', 'tree_size'),
    )
    op.create_index('ix_cosignatures_tree_size', 'cosignatures', ['tree_size'], unique=False)


def downgrade() -> None:
    """Drop ``cosignatures`` (the collected cosignatures are lost; the witnesses still hold their state)."""
    op.drop_index('ix_cosignatures_tree_size', table_name='cosignatures')
    op.drop_table('cosignatures')
