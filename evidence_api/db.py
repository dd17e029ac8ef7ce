"""Tables the service owns (tenants, API tokens, actor keys) and the Alembic migration runner.

The log's own tables live in ``ledger.storage``; both sets are created by the migrations in
``evidence_api/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Column, ForeignKey, MetaData, String, Table, Text

from ledger import storage

__all__ = ["actor_keys", "all_metadata", "api_tokens", "metadata", "migrate", "tenants"]

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.id")),
    Column("role", String(32), nullable=False),
    Column("label", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)

actor_keys = Table(
    "actor_keys",
    metadata,
    Column("tenant", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("key_id", String(128), primary_key=True),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(128), nullable=False),
    Column("public_key_pem", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)

all_metadata = [storage.metadata, metadata]

_MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema (Alembic ``upgrade head``)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
