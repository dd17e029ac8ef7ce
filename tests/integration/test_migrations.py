"""Alembic migrations 0003 (event ids unique per tenant) and 0005 (staged anchors) on a log that already
holds events and anchors, on SQLite and PostgreSQL: what was stored keeps working, the new rules take effect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import evidence_api
from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import AnchorRequest
from ledger.anchors.local import LocalJournal, entry_id
from ledger.database import make_engine
from ledger.errors import DuplicateConflict
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, signed_item, submission, wait_until
from tests.legacy_log import append_legacy, legacy_root
from verifier.anchors import read_journal, verify_journal

OTHER = "other-co"


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(evidence_api.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@pytest.fixture
def old_engine(database_url: str) -> Iterator[Engine]:
    """A database at revision 0002 (event ids globally unique)."""
    command.upgrade(_alembic(database_url), "0002")
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _open(engine: Engine, key: SM2PrivateKey) -> TransparencyLog:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(key),
                          checkpoint_interval=0.05)
    log.start()
    return log


def test_upgrade_to_0003_keeps_existing_events_and_scopes_ids_per_tenant(
        old_engine: Engine, database_url: str, log_key: SM2PrivateKey) -> None:
    actor = make_actor()
    old = [signed_item(actor, permit="P-1", payload={"n": n}) for n in range(3)]
    before = append_legacy(old_engine, old)  # as the writer of revision 0002 did
    root = legacy_root(before)

    command.upgrade(_alembic(database_url), "head")

    log = _open(old_engine, log_key)
    try:
        assert (log.tree_size, log.root_at(3)) == (3, root)
        logged = log.event(TENANT, old[0]["event"]["event_id"])
        assert logged is not None and logged.leaf_hash == before[0].leaf_hash
        retry = log.submit(submission(old[1]))
        assert retry[0].duplicate and retry[0].leaf_index == 1
        theirs = signed_item(actor, tenant=OTHER, permit="P-1", event_id=old[0]["event"]["event_id"])
        (new,) = log.submit(submission(theirs))
        assert (new.leaf_index, new.duplicate) == (3, False)
        ours = signed_item(actor, permit="P-1")
        (next_ours,) = log.submit(submission(ours))
        assert b'"prev":"' + before[-1].leaf_hash.hex().encode() in log.events_since(3, limit=5)[-1].leaf
        assert next_ours.leaf_index == 4
        impostor = signed_item(actor, payload={"other": True}, event_id=old[2]["event"]["event_id"])
        with pytest.raises(DuplicateConflict, match="is already logged with different content"):
            log.submit(submission(impostor))
    finally:
        log.close()


def test_downgrade_from_0003_restores_global_ids_when_no_tenants_share_one(
        old_engine: Engine, database_url: str, log_key: SM2PrivateKey) -> None:
    command.upgrade(_alembic(database_url), "head")
    log = _open(old_engine, log_key)
    log.submit(submission(signed_item(make_actor())))
    log.close()

    command.downgrade(_alembic(database_url), "0002")

    with old_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar() == 1
    command.upgrade(_alembic(database_url), "head")


def test_upgrade_to_0005_keeps_anchor_receipts_and_anchoring_continues(
        old_engine: Engine, database_url: str, log_key: SM2PrivateKey, tmp_path: Path) -> None:
    command.upgrade(_alembic(database_url), "0004")
    signer = Signer.from_private_key(log_key)
    append_legacy(old_engine, [signed_item(make_actor()) for _ in range(2)])  # as the writer of 0004 did
    log = TransparencyLog(old_engine, origin="test.tiezheng/log", signer=signer)
    checkpoint = log.cut_checkpoint()
    assert checkpoint is not None
    journal = LocalJournal(tmp_path / "journal.jsonl", signer=signer)
    pending = journal.prepare(AnchorRequest(checkpoint, None, []))
    journal.submit(pending)
    receipt = journal.status(pending)
    assert receipt is not None
    with old_engine.begin() as conn:  # the row the anchorer before 0005 wrote
        conn.execute(text("INSERT INTO anchors (backend, tree_size, receipt, created_at) VALUES "
                          "('local', 2, :receipt, '2026-11-30T00:00:00.000Z')"),
                     {"receipt": json.dumps(receipt.to_json())})

    command.upgrade(_alembic(database_url), "head")

    log = _open(old_engine, log_key)
    try:
        anchorer = Anchorer(log, [LocalJournal(tmp_path / "journal.jsonl", signer=signer)])
        assert anchorer.book.rows("local") == [{"tx_id": entry_id(pending.body["entry"]), "tree_size": 2,
                                                "status": "anchored", "error": None}]
        assert log.anchor_receipts_covering(1) == [receipt.to_json()]
        log.submit(submission(signed_item(make_actor())))
        wait_until(lambda: (cp := log.latest_checkpoint()) is not None and cp.checkpoint.tree_size == 3)
        (new,) = anchorer.run_once()
        assert (new.tree_size, new.body["entry"]["seq"], new.body["entry"]["previous_tree_size"]) == (3, 1, 2)
        verify_journal(read_journal((tmp_path / "journal.jsonl").read_bytes()), public_key_pem=log_key.public.to_pem())
    finally:
        log.close()
