"""Alembic environment: runs the migrations online against ``sqlalchemy.url``."""

from __future__ import annotations

from alembic import context

from evidence_api.db import all_metadata
from ledger.database import make_engine

target_metadata = all_metadata


def run_migrations_online() -> None:
    """Migrate with a connection of our own engine (SQLite gets WAL)."""
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
