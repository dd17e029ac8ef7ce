"""Migration 0011 (event flags as one-character codes) on SQLite and PostgreSQL: down gives the names the
writer stored before, up gives the codes back, and the events read the same throughout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text

import evidence_api
from ledger.database import make_engine
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, prepared, signed_item

FLAGS = [(), ("occurred_long_before_receipt", "received_late"), ("exif.no_gps", "x.custom"), ("1", "=odd"),
         ("received_late",)]


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(evidence_api.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def test_migration_0011_down_writes_flag_names_and_up_codes(database_url: str, log_key: SM2PrivateKey) -> None:
    config, engine = _alembic(database_url), make_engine(database_url)
    command.upgrade(config, "head")
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    log.start()
    events = [replace(prepared(signed_item(make_actor(), payload={"n": n})), flags=flags) for n, flags in enumerate(FLAGS)]
    receipts = log.submit(Submission(events))
    logged = [log.event(TENANT, r.event_id) for r in receipts]
    assert [e.flags for e in logged if e is not None] == FLAGS
    log.close()

    def stored() -> list[str]:
        with engine.connect() as conn:
            return [f for (f,) in conn.execute(text("SELECT flags FROM events ORDER BY leaf_index"))]

    assert stored() == ["", "1,2", "8,x.custom", "=1,==odd", "2"]

    command.downgrade(config, "0010")

    assert stored() == ["", "occurred_long_before_receipt,received_late", "exif.no_gps,x.custom", "1,=odd",
                        "received_late"]

    command.upgrade(config, "head")

    assert stored() == ["", "1,2", "8,x.custom", "=1,==odd", "2"]
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    log.start()
    try:
        assert [log.event(TENANT, r.event_id) for r in receipts] == logged
    finally:
        log.close()
        engine.dispose()
