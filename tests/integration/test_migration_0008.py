"""Migration 0008 (regulator digests and insurer risk records) on SQLite and PostgreSQL: it adds its tables
and indexes on a log that holds events, and its downgrade removes them again, keeping the events."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

import evidence_api
from ledger.database import make_engine
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import make_actor, signed_item
from tests.legacy_log import append_legacy


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(evidence_api.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _shape(url: str) -> tuple[set[str], set[str], set[str]]:
    engine = make_engine(url)
    try:
        found = inspect(engine)
        return (set(found.get_table_names()), {i["name"] for i in found.get_indexes("events")},
                {i["name"] for i in found.get_indexes("checkpoints")})
    finally:
        engine.dispose()


def test_migration_0008_up_down_up_keeps_the_log(database_url: str, log_key: SM2PrivateKey) -> None:
    config = _alembic(database_url)
    command.upgrade(config, "0007")
    engine = make_engine(database_url)
    append_legacy(engine, [signed_item(make_actor(), payload={"n": 1})])  # as the writer of 0007 did
    engine.dispose()

    command.upgrade(config, "0008")
    tables, event_indexes, checkpoint_indexes = _shape(database_url)
    assert {"digests", "risk_grants"} <= tables
    assert "ix_events_tenant_leaf" in event_indexes and "ix_checkpoints_created_at" in checkpoint_indexes

    command.downgrade(config, "0007")
    tables, event_indexes, _ = _shape(database_url)
    assert not {"digests", "risk_grants"} & tables and "ix_events_tenant_leaf" not in event_indexes
    command.upgrade(config, "head")
    engine = make_engine(database_url)
    assert TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key)).tree_size == 1
    engine.dispose()
