"""Migration 0012 (event ids through sorted runs) on SQLite and PostgreSQL: down builds ``ix_events_id_key``
again and drops the runs, up writes every event as one run below the cursor, and the log finds every event
by its id, gives retries their original receipts and refuses reused ids throughout."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

import evidence_api
from ledger.database import make_engine
from ledger.errors import DuplicateConflict
from ledger.idindex import IdTuning
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, prepared, signed_item
from tests.integration.test_idindex import check_stored_form


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(evidence_api.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def test_migration_0012_down_indexes_id_keys_again_and_up_writes_them_as_one_run(
        database_url: str, log_key: SM2PrivateKey) -> None:
    config, engine = _alembic(database_url), make_engine(database_url)
    command.upgrade(config, "head")
    signer = Signer.from_private_key(log_key)
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=signer, id_tuning=IdTuning(tail=4, fan_in=2))
    log.start()
    actor = make_actor()
    items = [signed_item(actor, payload={"n": n}) for n in range(11)]
    receipts = [log.submit(Submission([prepared(i)]))[0] for i in items]
    log.close()
    with engine.connect() as conn:
        assert 0 < conn.execute(text("SELECT ids_merged FROM log_state")).scalar_one() < 11  # runs and a tail

    command.downgrade(config, "0011")

    tables = inspect(engine)
    assert not {"event_ids", "id_runs"} & set(tables.get_table_names())
    assert "ids_merged" not in {c["name"] for c in tables.get_columns("log_state")}
    assert "ix_events_id_key" in {i["name"] for i in tables.get_indexes("events")}
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT id_key, leaf_index FROM events ORDER BY leaf_index")).all()
        assert [conn.execute(text("SELECT leaf_index FROM events WHERE id_key = :k"), {"k": k}).scalars().all()
                for k, _ in keys] == [[i] for _, i in keys]

    command.upgrade(config, "head")

    assert "ix_events_id_key" not in {i["name"] for i in inspect(engine).get_indexes("events")}
    with engine.connect() as conn:
        assert conn.execute(text("SELECT ids_merged FROM log_state")).scalar_one() == 11
        assert conn.execute(text("SELECT run, key_count, merging_into, built_below FROM id_runs")).all() == \
            [(0, 11, None, None)]
    check_stored_form(engine)
    reader = TransparencyLog(engine, origin="test.tiezheng/log", signer=signer)
    assert [getattr(reader.event(TENANT, r.event_id), "leaf_hash", None) for r in receipts] == \
        [r.leaf_hash for r in receipts]
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=signer)
    log.start()
    try:
        retried = log.submit(Submission([prepared(i) for i in items]))
        assert [(r.leaf_index, r.duplicate) for r in retried] == [(r.leaf_index, True) for r in receipts]
        impostor = signed_item(actor, payload={"n": "other"}, event_id=receipts[3].event_id)
        with pytest.raises(DuplicateConflict, match=f"event_id {receipts[3].event_id} is already logged"):
            log.submit(Submission([prepared(impostor)]))
    finally:
        log.close()
        engine.dispose()


def test_migration_0012_of_an_empty_log_leaves_no_run(database_url: str) -> None:
    config, engine = _alembic(database_url), make_engine(database_url)
    command.upgrade(config, "0011")
    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM id_runs")).scalar_one() == 0
    engine.dispose()
