"""media objects, uploads, retention and legal holds (issue 13)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01

Reserved in the revision chain so that parallel work lands in a fixed order; the change that owns it fills
in its tables. Until then it changes nothing.
"""

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
