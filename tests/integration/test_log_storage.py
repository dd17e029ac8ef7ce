"""``TransparencyLog`` on a real database: receipts, idempotency, conflicts, the permit chain, restarts,
checkpoints and proofs; the Alembic head against the metadata (anchoring: test_anchors.py).

Every test that takes ``log`` or ``engine`` runs on SQLite and on a real PostgreSQL server (``postgres``).
Proofs and checkpoints are checked with the independent ``verifier`` package, never with ``ledger`` itself.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, func, select

from evidence_api.db import all_metadata
from ledger import storage as db
from ledger.canonical import canonical
from ledger.checkpoint import SignedCheckpoint
from ledger.errors import DuplicateConflict, InvalidSignature, ProofError, StorageError
from ledger.log import Receipt, TransparencyLog
from ledger.packing import unpack
from ledger.sm import Signer, SM2PrivateKey, sm3
from ledger.writer import GroupCommit
from tests.helpers import make_actor, signed_item, submission, wait_until
from verifier.merkle import verify_consistency, verify_inclusion

ORIGIN = "test.tiezheng/log"


# -- helpers -----------------------------------------------------------------------------------------
def _leaf(item: dict[str, Any], receipt: Receipt, prev: bytes | None) -> bytes:
    """The leaf bytes docs/formats.md prescribes: canonical(event + received_at + prev)."""
    return canonical({**item["event"], "received_at": receipt.received_at, "prev": prev.hex() if prev else None})


def _rfc9162_leaf_hash(leaf: bytes) -> bytes:
    return sm3(b"\x00" + leaf)


def _stored_event(engine: Engine, event_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        leaf = conn.execute(select(db.events.c.leaf).where(db.events.c.event_id == event_id)).scalar_one()
    event: dict[str, Any] = json.loads(unpack(bytes(leaf)))
    return event


def _event_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(db.events)).scalar_one())


def _checkpoint_of_size(log: TransparencyLog, size: int) -> SignedCheckpoint:
    def probe() -> SignedCheckpoint | None:
        latest = log.latest_checkpoint()
        return latest if latest is not None and latest.checkpoint.tree_size == size else None

    found: SignedCheckpoint = wait_until(probe)
    return found


def _items(count: int, permit: str | None = "P-1") -> list[dict[str, Any]]:
    actor = make_actor()
    return [signed_item(actor, permit=permit, payload={"n": n}) for n in range(count)]


# -- append, receipts, idempotency ------------------------------------------------------------------
def test_submit_receipts_have_consecutive_leaf_indices_and_rfc9162_leaf_hashes(log: TransparencyLog) -> None:
    items = _items(3, permit=None)

    receipts = log.submit(submission(*items))

    assert [r.leaf_index for r in receipts] == [0, 1, 2]
    assert [r.event_id for r in receipts] == [i["event"]["event_id"] for i in items]
    assert not any(r.duplicate for r in receipts)
    for item, receipt in zip(items, receipts, strict=True):
        leaf = _leaf(item, receipt, None)
        assert receipt.leaf_hash == _rfc9162_leaf_hash(leaf)
        assert _stored_event(log.engine, receipt.event_id) == json.loads(leaf)
    assert log.tree_size == 3


def test_submit_second_batch_continues_leaf_indices(log: TransparencyLog) -> None:
    log.submit(submission(*_items(2)))

    receipts = log.submit(submission(*_items(3)))

    assert [r.leaf_index for r in receipts] == [2, 3, 4]
    assert log.tree_size == 5


def test_submit_retry_returns_same_receipts_marked_duplicate(log: TransparencyLog) -> None:
    items = _items(2)
    first = log.submit(submission(*items))

    retry = log.submit(submission(*items))

    assert [(r.event_id, r.leaf_index, r.leaf_hash, r.received_at) for r in retry] == \
        [(r.event_id, r.leaf_index, r.leaf_hash, r.received_at) for r in first]
    assert all(r.duplicate for r in retry)
    assert log.tree_size == 2
    assert _event_rows(log.engine) == 2


def test_submit_retry_mixed_with_new_event_appends_only_the_new_one(log: TransparencyLog) -> None:
    old, new = _items(2)
    log.submit(submission(old))

    receipts = log.submit(submission(old, new))

    assert [(r.leaf_index, r.duplicate) for r in receipts] == [(0, True), (1, False)]
    assert log.tree_size == 2


def test_submit_same_event_id_with_different_content_raises_conflict(log: TransparencyLog) -> None:
    actor = make_actor()
    original = signed_item(actor, payload={"gas": 1})
    log.submit(submission(original))
    event_id = original["event"]["event_id"]
    impostor = signed_item(actor, payload={"gas": 99}, event_id=event_id)

    with pytest.raises(DuplicateConflict, match=f"event_id {event_id} is already logged with different content"):
        log.submit(submission(impostor))

    assert log.tree_size == 1
    assert _stored_event(log.engine, event_id)["payload_commitment"] == original["event"]["payload_commitment"]


def test_submit_batch_with_one_id_twice_and_different_content_raises_conflict(log: TransparencyLog) -> None:
    actor = make_actor()
    first = signed_item(actor, payload={"gas": 1})
    event_id = first["event"]["event_id"]
    second = signed_item(actor, payload={"gas": 2}, event_id=event_id)

    with pytest.raises(DuplicateConflict,
                       match=f"event_id {event_id} appears twice in the batch with different content"):
        log.submit(submission(signed_item(actor), first, second))

    assert log.tree_size == 0
    assert _event_rows(log.engine) == 0


def test_submit_batch_with_one_id_twice_and_same_content_logs_it_once(log: TransparencyLog) -> None:
    item = _items(1)[0]

    receipts = log.submit(submission(item, item))

    assert receipts[0] == receipts[1]
    assert receipts[0].leaf_index == 0
    assert log.tree_size == 1


def test_submit_conflict_in_same_group_commit_leaves_good_submissions_intact(log: TransparencyLog) -> None:
    actor = make_actor()
    good = signed_item(actor, payload={"gas": 1})
    event_id = good["event"]["event_id"]
    clash = signed_item(actor, payload={"gas": 2}, event_id=event_id)
    other = signed_item(actor, payload={"gas": 3})

    good_future = log.submit_nowait(submission(good))
    clash_future = log.submit_nowait(submission(clash))
    other_future = log.submit_nowait(submission(other))

    assert good_future.result(timeout=10)[0].leaf_index == 0
    with pytest.raises(DuplicateConflict, match=f"event_id {event_id} is already logged with different content"):
        clash_future.result(timeout=10)
    assert other_future.result(timeout=10)[0].leaf_index == 1
    assert log.tree_size == 2
    assert _stored_event(log.engine, event_id)["payload_commitment"] == good["event"]["payload_commitment"]


def test_commit_hook_writes_in_the_events_transaction_and_not_on_retry(log: TransparencyLog) -> None:
    item = signed_item(make_actor())
    calls: list[list[str]] = []

    def hook(conn: Any, receipts: list[Receipt]) -> None:
        size = conn.execute(select(func.count()).select_from(db.events)).scalar()
        calls.append([r.event_id for r in receipts] + [f"events visible: {size}"])

    log.submit(replace(submission(item), on_commit=hook))
    log.submit(replace(submission(item), on_commit=hook))  # a retry: nothing new, the hook does not run
    assert calls == [[item["event"]["event_id"], "events visible: 1"]]


def test_commit_hook_that_raises_rolls_back_the_events(log: TransparencyLog) -> None:
    def hook(conn: Any, receipts: list[Receipt]) -> None:
        raise RuntimeError("projection refused")

    with pytest.raises(StorageError, match="the submission's commit hook failed, none of its events was written: "
                                           "projection refused"):
        log.submit(replace(submission(signed_item(make_actor())), on_commit=hook))
    assert log.tree_size == 0
    with log.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(db.events)).scalar() == 0
    assert log.submit(submission(signed_item(make_actor())))[0].leaf_index == 0


def test_submit_nowait_after_close_raises_storage_error(log: TransparencyLog) -> None:
    log.close()

    with pytest.raises(StorageError, match=r"log writer is not running: call start\(\) first"):
        log.submit_nowait(submission(*_items(1)))


# -- the per-permit prev chain ---------------------------------------------------------------------
def test_prev_of_second_event_of_a_permit_is_leaf_hash_of_first(log: TransparencyLog) -> None:
    actor = make_actor()
    first, second = signed_item(actor, permit="P-7"), signed_item(actor, permit="P-7")

    (r1,) = log.submit(submission(first))
    (r2,) = log.submit(submission(second))

    assert _stored_event(log.engine, r1.event_id)["prev"] is None
    assert _stored_event(log.engine, r2.event_id)["prev"] == r1.leaf_hash.hex()
    assert r2.leaf_hash == _rfc9162_leaf_hash(_leaf(second, r2, r1.leaf_hash))


def test_prev_chains_events_of_one_permit_inside_one_batch(log: TransparencyLog) -> None:
    items = _items(3, permit="P-9")

    receipts = log.submit(submission(*items))

    prevs = [_stored_event(log.engine, r.event_id)["prev"] for r in receipts]
    assert prevs == [None, receipts[0].leaf_hash.hex(), receipts[1].leaf_hash.hex()]


def test_prev_does_not_chain_across_permits_or_events_without_permit(log: TransparencyLog) -> None:
    actor = make_actor()
    a1, b1, none, a2 = (signed_item(actor, permit="P-A"), signed_item(actor, permit="P-B"),
                        signed_item(actor, permit=None), signed_item(actor, permit="P-A"))

    receipts = log.submit(submission(a1, b1, none, a2))

    prevs = [_stored_event(log.engine, r.event_id)["prev"] for r in receipts]
    assert prevs == [None, None, None, receipts[0].leaf_hash.hex()]


# -- restart -----------------------------------------------------------------------------------------
def test_reopen_keeps_size_root_and_chain_and_grows_consistently(
        engine: Engine, log: TransparencyLog, log_key: SM2PrivateKey) -> None:
    actor = make_actor()
    before = log.submit(submission(*(signed_item(actor, permit="P-1") for _ in range(3))))
    old = _checkpoint_of_size(log, 3)
    log.close()

    reopened = TransparencyLog(engine, origin=ORIGIN, signer=Signer.from_private_key(log_key), checkpoint_interval=0.05)
    try:
        assert reopened.tree_size == 3
        assert reopened.root_at(3) == old.checkpoint.root_hash
        latest = reopened.latest_checkpoint()
        assert latest is not None and latest.text == old.text
        reopened.start()
        after = reopened.submit(submission(*(signed_item(actor, permit="P-1") for _ in range(2))))
        new = _checkpoint_of_size(reopened, 5)

        assert [r.leaf_index for r in after] == [3, 4]
        assert _stored_event(engine, after[0].event_id)["prev"] == before[-1].leaf_hash.hex()
        verify_consistency(3, 5, old.checkpoint.root_hash, new.checkpoint.root_hash, reopened.consistency_proof(3, 5))
    finally:
        reopened.close()


# -- checkpoints and proofs --------------------------------------------------------------------------
def test_latest_checkpoint_is_none_while_log_is_empty(log: TransparencyLog) -> None:
    time.sleep(0.2)  # four checkpoint intervals of the writer
    log.close()  # close cuts a last checkpoint if there is anything to cut

    assert log.latest_checkpoint() is None


def test_checkpoint_cut_after_appends_verifies_with_log_key(log: TransparencyLog, log_key: SM2PrivateKey) -> None:
    log.submit(submission(*_items(4)))

    signed = _checkpoint_of_size(log, 4)

    signed.verify(log_key.public)
    assert signed.checkpoint.origin == ORIGIN
    assert signed.checkpoint.root_hash == log.root_at(4)
    assert SignedCheckpoint.from_text(signed.text) == signed
    stored = log.checkpoint_at(4)
    assert stored is not None and stored.text == signed.text


def test_checkpoint_verify_with_other_key_raises_invalid_signature(log: TransparencyLog) -> None:
    log.submit(submission(*_items(1)))
    signed = _checkpoint_of_size(log, 1)
    stranger = SM2PrivateKey.generate().public

    with pytest.raises(InvalidSignature, match=f"checkpoint has no signature by key {stranger.fingerprint()[:16]}"):
        signed.verify(stranger)


def test_inclusion_proofs_verify_against_checkpoint_roots(log: TransparencyLog) -> None:
    first = log.submit(submission(*_items(3)))
    small = _checkpoint_of_size(log, 3)
    second = log.submit(submission(*_items(4)))
    large = _checkpoint_of_size(log, 7)

    for receipt in first:
        proof = log.inclusion_proof(receipt.leaf_index, 3)
        verify_inclusion(receipt.leaf_index, 3, receipt.leaf_hash, proof, small.checkpoint.root_hash)
    for receipt in first + second:
        proof = log.inclusion_proof(receipt.leaf_index, 7)
        verify_inclusion(receipt.leaf_index, 7, receipt.leaf_hash, proof, large.checkpoint.root_hash)
    verify_consistency(3, 7, small.checkpoint.root_hash, large.checkpoint.root_hash, log.consistency_proof(3, 7))


def test_inclusion_proof_beyond_log_size_raises_proof_error(log: TransparencyLog) -> None:
    log.submit(submission(*_items(2)))

    with pytest.raises(ProofError, match="tree size 3 is beyond the log's size 2"):
        log.inclusion_proof(0, 3)


def test_inclusion_proof_of_leaf_outside_tree_raises_proof_error(log: TransparencyLog) -> None:
    log.submit(submission(*_items(2)))

    with pytest.raises(ProofError, match="leaf index 2 is outside a tree of size 2"):
        log.inclusion_proof(2, 2)


def test_consistency_proof_beyond_log_size_raises_proof_error(log: TransparencyLog) -> None:
    log.submit(submission(*_items(2)))

    with pytest.raises(ProofError, match="tree size 5 is beyond the log's size 2"):
        log.consistency_proof(1, 5)


def test_consistency_proof_with_first_after_second_raises_proof_error(log: TransparencyLog) -> None:
    log.submit(submission(*_items(2)))

    with pytest.raises(ProofError, match="no consistency proof from size 2 to size 1: need 0 <= first <= second"):
        log.consistency_proof(2, 1)


# -- schema ------------------------------------------------------------------------------------------
def test_migration_head_matches_table_metadata(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, all_metadata)  # type: ignore[arg-type]  # a list works, as in env.py

    assert diffs == []


def test_writer_survives_an_unexpected_failure(log: TransparencyLog, monkeypatch: pytest.MonkeyPatch) -> None:
    actor = make_actor()

    def broken(*args: object) -> None:
        raise RuntimeError("disk controller on fire")

    with monkeypatch.context() as patch:
        patch.setattr(GroupCommit, "finish", broken)
        with pytest.raises(StorageError, match="commit failed, nothing written: disk controller on fire"):
            log.submit(submission(signed_item(actor)), timeout=10)
    assert log.tree_size == 0
    assert log.submit(submission(signed_item(actor)), timeout=10)[0].leaf_index == 0
