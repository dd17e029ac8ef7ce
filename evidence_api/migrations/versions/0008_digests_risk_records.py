"""regulator digests and insurer risk records (issue 10)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Reserved in the revision chain so that parallel work lands in a fixed order; the change that owns it fills
in its tables. Until then it changes nothing.
"""

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing yet."""


def downgrade() -> None:
    """Nothing yet."""
