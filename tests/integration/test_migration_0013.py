"""Migration 0013 (the saved event-id filter) on SQLite and PostgreSQL: up adds an empty ``id_filter`` that a
clean stop of the writer fills, down drops it, and after up again the log rebuilds the filter and finds every
id."""

from __future__ import annotations

from sqlalchemy import inspect, text

from ledger.database import make_engine
from ledger.idindex import IdTuning, saved_filter_covers
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import make_actor, prepared, signed_item
from tests.integration.test_migration_0012 import _alembic


def test_migration_0013_adds_the_saved_filter_and_down_drops_it(database_url: str, log_key: SM2PrivateKey) -> None:
    from alembic import command

    config, engine = _alembic(database_url), make_engine(database_url)
    command.upgrade(config, "head")
    signer, actor = Signer.from_private_key(log_key), make_actor()
    items = [signed_item(actor, payload={"n": n}) for n in range(11)]

    def run(batch: list[dict[str, object]]) -> list[tuple[int, bool]]:
        log = TransparencyLog(engine, origin="test.tiezheng/log", signer=signer, id_tuning=IdTuning(tail=4, fan_in=2))
        log.start()
        try:
            return [(r.leaf_index, r.duplicate) for r in log.submit(Submission([prepared(i) for i in batch]))]
        finally:
            log.close()

    assert run(items) == [(n, False) for n in range(11)]
    with engine.connect() as conn:
        assert saved_filter_covers(conn) == conn.execute(text("SELECT ids_merged FROM log_state")).scalar_one()

    command.downgrade(config, "0012")
    assert "id_filter" not in inspect(engine).get_table_names()

    command.upgrade(config, "head")
    with engine.connect() as conn:
        assert saved_filter_covers(conn) is None  # empty until the next clean stop
    assert run(items) == [(n, True) for n in range(11)]  # the filter rebuilt from the runs
    with engine.connect() as conn:
        assert saved_filter_covers(conn) is not None
    engine.dispose()
