"""staged anchoring: the anchors table holds pending, anchored and failed transactions (issue 8, seam 3)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01

Each row is one backend transaction with its id (``tx_id``) and ``status``; ``pending`` keeps the prepared
transaction (to send again and re-check after a restart), ``receipt`` the receipt once anchored, ``error``
why a transaction failed. Existing rows were all anchored receipts: they become ``anchored`` rows whose
tx id is the one the backend gives them (for the local journal, the hex SM3 of the canonical entry).
"""

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

from ledger.canonical import canonical
from ledger.sm import sm3

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

_anchors = sa.table('anchors', sa.column('id', sa.Integer()), sa.column('backend', sa.String()),
                    sa.column('receipt', sa.Text()), sa.column('created_at', sa.String()),
                    sa.column('tx_id', sa.String()), sa.column('status', sa.String()),
                    sa.column('updated_at', sa.String()))


def _tx_id(row_id: int, receipt: dict[str, Any]) -> str:
    if receipt.get("backend") == "local" and isinstance(receipt.get("entry"), dict):
        return sm3(canonical(receipt["entry"])).hex()
    return str(receipt.get("tx_id") or f"legacy-{row_id}")


def upgrade() -> None:
    """Add tx id, status, pending, error and updated_at; key rows by (backend, tx_id)."""
    with op.batch_alter_table('anchors') as batch_op:
        batch_op.add_column(sa.Column('tx_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('pending', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', sa.String(length=40), nullable=True))
        batch_op.alter_column('receipt', existing_type=sa.Text(), nullable=True)
    conn = op.get_bind()
    for row in conn.execute(sa.select(_anchors.c.id, _anchors.c.receipt, _anchors.c.created_at)).all():
        conn.execute(_anchors.update().where(_anchors.c.id == row.id).values(
            tx_id=_tx_id(row.id, json.loads(row.receipt)), status='anchored', updated_at=row.created_at))
    with op.batch_alter_table('anchors') as batch_op:
        batch_op.alter_column('tx_id', existing_type=sa.String(length=128), nullable=False)
        batch_op.alter_column('status', existing_type=sa.String(length=16), nullable=False)
        batch_op.alter_column('updated_at', existing_type=sa.String(length=40), nullable=False)
        batch_op.drop_constraint('uq_anchors_backend_size', type_='unique')
        batch_op.create_unique_constraint('uq_anchors_backend_tx', ['backend', 'tx_id'])
        batch_op.create_index('ix_anchors_backend_status_size', ['backend', 'status', 'tree_size'], unique=False)


def downgrade() -> None:
    """Keep the anchored receipts only, in the old shape (pending and failed transactions are dropped)."""
    op.execute(_anchors.delete().where(_anchors.c.status != 'anchored'))
    with op.batch_alter_table('anchors') as batch_op:
        batch_op.drop_index('ix_anchors_backend_status_size')
        batch_op.drop_constraint('uq_anchors_backend_tx', type_='unique')
        batch_op.create_unique_constraint('uq_anchors_backend_size', ['backend', 'tree_size'])
        batch_op.alter_column('receipt', existing_type=sa.Text(), nullable=False)
        for column in ('updated_at', 'error', 'pending', 'status', 'tx_id'):
            batch_op.drop_column(column)
