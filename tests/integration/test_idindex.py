"""The event-id index (``ledger.idindex``) on SQLite and PostgreSQL, with sizes small enough that the tail becomes
a run every few events and merges run in many slices: retries get their original receipts and reused ids are
refused exactly as before, through the writer's memory, the runs and a merge in progress; a reader without
the writer (another log object, as another process) finds every event; and the stored form keeps its
invariant: every key below the cursor in exactly one listed run, none above it."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text

from ledger import storage as db
from ledger.errors import DuplicateConflict
from ledger.idindex import IdTuning, saved_filter_covers
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, prepared, signed_item, wait_until

TINY = IdTuning(tail=5, fan_in=2, slice=3)


@pytest.fixture
def tiny_log(engine: Engine, log_key: SM2PrivateKey) -> Iterator[TransparencyLog]:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key),
                          checkpoint_interval=0.05, id_tuning=TINY)
    log.start()
    yield log
    log.close()


def check_stored_form(engine: Engine) -> None:
    """Every event below ``ids_merged`` has its (id_key, leaf_index) exactly once in a run listed in
    ``id_runs``; none at or above it is in a run; a source's target exists and is being built."""
    with engine.connect() as conn:
        merged = conn.execute(text("SELECT ids_merged FROM log_state WHERE id = 1")).scalar() or 0
        events = {(int(k), int(i)) for k, i in conn.execute(text("SELECT id_key, leaf_index FROM events"))}
        entries = Counter((int(k), int(i)) for k, i in conn.execute(text("SELECT id_key, leaf_index FROM event_ids")))
        runs = {int(r): (into, built) for r, into, built in
                conn.execute(text("SELECT run, merging_into, built_below FROM id_runs"))}
        stray = conn.execute(text("SELECT count(*) FROM event_ids WHERE run NOT IN (SELECT run FROM id_runs)"))
        assert stray.scalar_one() == 0
    assert set(entries) == {e for e in events if e[1] < merged} and set(entries.values()) <= {1}
    for into, _ in runs.values():
        assert into is None or runs[int(into)][1] is not None


def _items(n: int, **kwargs: Any) -> list[dict[str, Any]]:
    actor = make_actor()
    return [signed_item(actor, payload={"n": k}, permit=f"P-{k % 3}", **kwargs) for k in range(n)]


def test_ids_stay_exact_through_tail_runs_and_merges(tiny_log: TransparencyLog, engine: Engine,
                                                     log_key: SM2PrivateKey) -> None:
    rng = random.Random(12)
    items = _items(90)
    receipts: dict[str, tuple[int, bytes]] = {}
    merging_seen = False
    for start in range(0, len(items), 3):
        batch = items[start:start + 3]
        retried = rng.sample(items[:start], min(start, 2))  # old ids again, in the same submission
        got = tiny_log.submit(Submission([prepared(i) for i in batch + retried]))
        for item, receipt in zip(batch + retried, got, strict=True):
            event_id = item["event"]["event_id"]
            if event_id in receipts:
                assert receipt.duplicate and (receipt.leaf_index, receipt.leaf_hash) == receipts[event_id]
            else:
                assert not receipt.duplicate
                receipts[event_id] = (receipt.leaf_index, receipt.leaf_hash)
        check_stored_form(engine)
        with engine.connect() as conn:
            merging_seen |= conn.execute(text("SELECT count(*) FROM id_runs WHERE built_below IS NOT NULL")).scalar_one() > 0

    assert merging_seen and tiny_log.tree_size == 90
    for item in rng.sample(items, 10):  # a reused id with other content: refused, nothing written
        impostor = signed_item(make_actor(), payload={"other": True}, event_id=item["event"]["event_id"])
        with pytest.raises(DuplicateConflict, match=f"event_id {item['event']['event_id']} is already logged "
                                                    "with different content"):
            tiny_log.submit(Submission([prepared(impostor)]))
    assert tiny_log.tree_size == 90
    reader = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    for event_id, (index, digest) in receipts.items():
        for log in (tiny_log, reader):  # the writer's memory first / the database alone
            found = log.event(TENANT, event_id)
            assert found is not None and (found.leaf_index, found.leaf_hash) == (index, digest)
        assert reader.event("other-tenant", event_id) is None


def test_a_restarted_writer_finds_the_ids_of_its_tail_and_runs(engine: Engine, log_key: SM2PrivateKey) -> None:
    items = _items(23)
    first = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), id_tuning=TINY)
    first.start()
    receipts = [first.submit(Submission([prepared(i)]))[0] for i in items]
    first.close()
    with engine.connect() as conn:  # some ids in runs, some in the unmerged tail
        merged = conn.execute(text("SELECT ids_merged FROM log_state")).scalar_one()
    assert 0 < merged < 23

    again = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), id_tuning=TINY)
    again.start()
    try:
        retried = again.submit(Submission([prepared(i) for i in items]))
    finally:
        again.close()
    assert [(r.leaf_index, r.leaf_hash, r.duplicate) for r in retried] == \
        [(r.leaf_index, r.leaf_hash, True) for r in receipts]
    check_stored_form(engine)


def test_events_sharing_an_id_key_are_told_apart_in_the_tail_and_in_runs(engine: Engine, log_key: SM2PrivateKey,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    # every id on one of two keys, as if BLAKE2b collided all the time: the index is not unique on purpose
    monkeypatch.setattr(db, "event_key", lambda tenant, event_id: -(1 << 63) if event_id < "8" else (1 << 63) - 1)
    items = _items(17)
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), id_tuning=TINY)
    log.start()
    try:
        receipts = [log.submit(Submission([prepared(i)]))[0] for i in items]
        retried = log.submit(Submission([prepared(i) for i in items]))
        impostor = signed_item(make_actor(), event_id=items[4]["event"]["event_id"])
        with pytest.raises(DuplicateConflict, match="is already logged with different content"):
            log.submit(Submission([prepared(impostor)]))
    finally:
        log.close()
    assert [r.leaf_index for r in receipts] == list(range(17))
    assert [(r.leaf_index, r.duplicate) for r in retried] == [(i, True) for i in range(17)]
    reader = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    assert [getattr(reader.event(TENANT, i["event"]["event_id"]), "leaf_index", None) for i in items] == list(range(17))
    check_stored_form(engine)


def test_readers_find_every_acknowledged_event_while_the_writer_flushes_and_merges(
        tiny_log: TransparencyLog, engine: Engine, log_key: SM2PrivateKey) -> None:
    other = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    acked: list[tuple[str, int]] = []
    missed: list[tuple[str, str, int]] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for event_id, index in acked[:]:
                for name, log in (("writer", tiny_log), ("database", other)):
                    found = log.event(TENANT, event_id)
                    if found is None or found.leaf_index != index:
                        missed.append((name, event_id, index))

    readers = [threading.Thread(target=read) for _ in range(2)]
    for reader in readers:
        reader.start()
    try:
        items = _items(60)
        for start in range(0, len(items), 2):
            got = tiny_log.submit(Submission([prepared(i) for i in items[start:start + 2]]))
            acked.extend((r.event_id, r.leaf_index) for r in got)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert not missed


def test_the_filter_is_built_beside_the_running_writer_and_installed_at_a_commit(
        engine: Engine, log_key: SM2PrivateKey) -> None:
    items = _items(12)
    first = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), id_tuning=TINY)
    first.start()
    receipts = [first.submit(Submission([prepared(i)]))[0] for i in items]
    first.close()
    with engine.begin() as conn:  # as a crash leaves it: no filter saved
        conn.execute(text("DELETE FROM id_filter"))
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), id_tuning=TINY)
    log.start()
    try:
        retried = log.submit(Submission([prepared(i) for i in items]))  # exact before the filter is in, too
        actor = make_actor()
        wait_until(lambda: log.submit(Submission([prepared(signed_item(actor))])) and log._index.filtered)
        again = log.submit(Submission([prepared(i) for i in items]))
    finally:
        log.close()
    assert [(r.leaf_index, r.duplicate) for r in retried] == [(r.leaf_index, True) for r in receipts]
    assert [(r.leaf_index, r.duplicate) for r in again] == [(r.leaf_index, True) for r in receipts]
    check_stored_form(engine)


def _log(engine: Engine, log_key: SM2PrivateKey) -> TransparencyLog:
    return TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), id_tuning=TINY)


def _merged(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT ids_merged FROM log_state")).scalar_one())


def _retry_all(log: TransparencyLog, items: list[dict[str, Any]]) -> list[tuple[int, bool]]:
    return [(r.leaf_index, r.duplicate) for r in log.submit(Submission([prepared(i) for i in items]))]


def test_a_clean_stop_saves_the_filter_and_the_next_start_uses_it_at_once(engine: Engine,
                                                                         log_key: SM2PrivateKey) -> None:
    items = _items(23)
    first = _log(engine, log_key)
    first.start()
    receipts = [first.submit(Submission([prepared(i)]))[0] for i in items]
    first.close()
    with engine.connect() as conn:
        assert saved_filter_covers(conn) == _merged(engine) > 0

    again = _log(engine, log_key)
    again.start()
    try:
        assert again._index.filtered  # loaded, not rebuilt in the background
        retried = _retry_all(again, items)
        impostor = signed_item(make_actor(), payload={"other": True}, event_id=items[3]["event"]["event_id"])
        with pytest.raises(DuplicateConflict, match="is already logged with different content"):
            again.submit(Submission([prepared(impostor)]))
    finally:
        again.close()
    assert retried == [(r.leaf_index, True) for r in receipts]
    check_stored_form(engine)


def test_a_filter_saved_before_a_crash_is_topped_up_with_the_ids_flushed_since(engine: Engine,
                                                                             log_key: SM2PrivateKey) -> None:
    items = _items(30)
    first = _log(engine, log_key)
    first.start()
    receipts = [first.submit(Submission([prepared(i)]))[0] for i in items[:10]]
    first.close()
    with engine.connect() as conn:
        old = conn.execute(text("SELECT part, merged, key_count, digest, bits FROM id_filter")).all()
    second = _log(engine, log_key)
    second.start()
    receipts += [second.submit(Submission([prepared(i)]))[0] for i in items[10:]]
    second.close()
    with engine.begin() as conn:  # the last clean stop was the first one: the second log "crashed"
        conn.execute(text("DELETE FROM id_filter"))
        for row in old:
            conn.execute(text("INSERT INTO id_filter (part, merged, key_count, digest, bits) "
                              "VALUES (:p, :m, :c, :d, :b)"), dict(zip("pmcdb", row, strict=True)))
        assert saved_filter_covers(conn) < _merged(engine)

    log = _log(engine, log_key)
    log.start()
    try:
        actor = make_actor()
        wait_until(lambda: log.submit(Submission([prepared(signed_item(actor))])) and log._index.filtered)
        retried = _retry_all(log, items)
    finally:
        log.close()
    assert retried == [(r.leaf_index, True) for r in receipts]


def test_a_damaged_saved_filter_is_rebuilt_not_trusted(engine: Engine, log_key: SM2PrivateKey) -> None:
    items = _items(23)
    first = _log(engine, log_key)
    first.start()
    receipts = [first.submit(Submission([prepared(i)]))[0] for i in items]
    first.close()
    with engine.begin() as conn:  # every bit cleared but the digest kept: trusted, it would let every id in
        bits = conn.execute(text("SELECT bits FROM id_filter WHERE part = 0")).scalar_one()
        conn.execute(text("UPDATE id_filter SET bits = :b WHERE part = 0"), {"b": bytes(len(bits))})

    log = _log(engine, log_key)
    log.start()
    try:
        assert not log._index.filtered  # refused; built again beside the writer
        retried = _retry_all(log, items)
        actor = make_actor()
        wait_until(lambda: log.submit(Submission([prepared(signed_item(actor))])) and log._index.filtered)
        again = _retry_all(log, items)
    finally:
        log.close()
    assert retried == again == [(r.leaf_index, True) for r in receipts]
    restarted = _log(engine, log_key)  # the clean stop above saved a whole filter over the damaged one
    restarted.start()
    try:
        assert restarted._index.filtered
    finally:
        restarted.close()
