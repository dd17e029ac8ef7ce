"""event ids are unique per tenant, not globally (issue 8, defect 6)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

Before: ``UNIQUE (event_id)`` over all tenants, so a tenant learned (409) that another tenant used an id and
could take an id first to have the other's submission refused. After: ``UNIQUE (tenant, event_id)``. Every
existing row stays valid (globally unique ids are unique per tenant too); the new index also serves the
writer's and the read API's per-tenant lookups. On SQLite the table is rebuilt (batch mode), once.
"""

from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# 0001 left the old constraint unnamed: PostgreSQL named it itself, SQLite's batch mode names it by convention
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _old_name() -> str:
    return "events_event_id_key" if op.get_bind().dialect.name == "postgresql" else "uq_events_event_id"


def upgrade() -> None:
    """Replace ``UNIQUE (event_id)`` with ``UNIQUE (tenant, event_id)``."""
    with op.batch_alter_table('events', naming_convention=_SQLITE_NAMES) as batch_op:
        batch_op.drop_constraint(_old_name(), type_='unique')
        batch_op.create_unique_constraint('uq_events_tenant_event_id', ['tenant', 'event_id'])


def downgrade() -> None:
    """Back to globally unique ids; fails (changing nothing) if two tenants already share an id."""
    with op.batch_alter_table('events', naming_convention=_SQLITE_NAMES) as batch_op:
        batch_op.drop_constraint('uq_events_tenant_event_id', type_='unique')
        batch_op.create_unique_constraint(_old_name(), ['event_id'])
