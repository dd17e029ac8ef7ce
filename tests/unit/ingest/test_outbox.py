"""The outbox on its own: durable enqueue, restart, sealing into attested batches, backoff by the clock."""

from __future__ import annotations

import socket
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from ingest.client import ApiClient
from ingest.outbox import Outbox, OutboxError
from ingest.outbox_sync import Backoff, OutboxSync
from ledger.clock import ManualClock
from ledger.events import check_attestation, claim_hash
from tests.helpers import TENANT, make_actor

GATEWAY = make_actor("gw-1", kind="device")
START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _outbox(path: Path, clock: ManualClock | None = None, max_batch: int = 500) -> Outbox:
    return Outbox(path / "outbox.db", gateway=GATEWAY, tenant=TENANT, clock=clock or ManualClock(START),
                  max_batch=max_batch)


def _reading(n: int) -> tuple[str, dict[str, int], dict[str, str], None, None]:
    return ("detector.reading", {"n": n}, {"permit": "HW-1"}, None, None)


def test_outbox_enqueue_survives_reopen(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    ids = [box.enqueue("detector.reading", {"n": n}, subject={"permit": "HW-1"}).event_id for n in range(3)]
    box.close()
    again = _outbox(tmp_path)
    assert again.event_ids() == ids
    status = again.status()
    assert (status.queued, status.unsealed, status.pending, status.oldest_pending_at) == (3, 3, 3, "2026-12-01T08:00:00.000Z")


def test_outbox_file_of_another_gateway_refused(tmp_path: Path) -> None:
    _outbox(tmp_path).close()
    with pytest.raises(OutboxError, match=r"is the outbox of 'gw-1' \(key 'gw-1#1', tenant 'acme-chem'\), not of 'gw-2'"):
        Outbox(tmp_path / "outbox.db", gateway=make_actor("gw-2", kind="device"), tenant=TENANT)


def test_outbox_file_is_wal_and_synchronous_full(tmp_path: Path) -> None:
    box = _outbox(tmp_path)
    box.enqueue("detector.reading", {"n": 1})
    with sqlite3.connect(tmp_path / "outbox.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert box._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_seal_batches_in_order_each_attested(tmp_path: Path) -> None:
    box = _outbox(tmp_path, max_batch=4)
    queued = box.enqueue_many([_reading(n) for n in range(10)])
    assert box.seal() == 3 and box.seal() == 0
    seen: list[str] = []
    while (batch := box.next_batch()) is not None:
        body = orjson.loads(batch.body)
        hashes = [claim_hash(item["event"]) for item in body["events"]]
        check_attestation(body["attestation"], hashes, GATEWAY.signer.public)
        assert all(item["event"]["actor"] == GATEWAY.ref() for item in body["events"])
        seen += batch.event_ids
        box.mark_sent(batch, list(range(len(seen) - len(batch.event_ids), len(seen))))
    assert seen == [q.event_id for q in queued]
    assert box.status().sent == 10 and box.status().pending == 0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sync_backoff_waits_by_the_clock(tmp_path: Path) -> None:
    clock = ManualClock(START)
    box = _outbox(tmp_path, clock)
    box.enqueue("detector.reading", {"n": 1})
    with ApiClient.connect(f"http://127.0.0.1:{_closed_port()}", "token", retries=0, timeout=2) as api:
        sync = OutboxSync(box, api, clock=clock, backoff=Backoff(base=1.0, ceiling=4.0, random=lambda: 0.5))
        first = sync.sync_once()
        assert not first.done and first.error and "server unreachable" in first.error
        assert first.next_attempt_at == START + timedelta(seconds=1.1)
        waiting = sync.sync_once().error  # not yet due: nothing sent, no attempt counted
        assert waiting and waiting.startswith("waiting to retry after: server unreachable")
        delays = []
        for _ in range(4):
            due = box.next_batch()
            assert due is not None and due.next_attempt_at is not None
            clock.set(datetime.fromisoformat(due.next_attempt_at))
            report = sync.sync_once()
            assert report.next_attempt_at is not None
            delays.append(report.next_attempt_at - clock.now())
    assert delays == [timedelta(seconds=s) for s in (2.2, 4.4, 4.4, 4.4)]  # doubling up to the ceiling, +50 % × 0.2
    status = box.status()
    assert status.pending == 1 and status.last_error and "no answer from" in status.last_error


def test_sync_offline_seals_only_full_batches(tmp_path: Path) -> None:
    """During an outage the queue is sealed in full batches at each call, the rest when a retry is due."""
    clock = ManualClock(START)
    box = _outbox(tmp_path, clock, max_batch=4)
    box.enqueue("detector.reading", {"n": 0})
    with ApiClient.connect(f"http://127.0.0.1:{_closed_port()}", "token", retries=0, timeout=2) as api:
        sync = OutboxSync(box, api, clock=clock, backoff=Backoff(base=60, random=lambda: 0.0))
        assert sync.sync_once().error is not None  # batch 1 (1 event) failed; retry in 60 s
        for n in range(1, 10):
            box.enqueue("detector.reading", {"n": n})
            assert (sync.sync_once().error or "").startswith("waiting to retry after: ")
        assert box.status().unsealed == 1  # 9 more: two full batches of 4, one left unsealed
        clock.advance(timedelta(seconds=60))
        sync.sync_once()
    counts = [row[0] for row in box._db.execute("SELECT count FROM batches ORDER BY id")]
    assert counts == [1, 4, 4, 1] and box.status().unsealed == 0
