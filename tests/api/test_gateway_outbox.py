"""The gateway outbox against the real app: readings reach the permit, out-of-limit ones suspend it at once,
late ones are flagged, a resend is no duplicate, and a tampered queue is refused with the server's reason."""

from __future__ import annotations

import re
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from ingest.client import ApiClient, ApiError
from ingest.outbox import Outbox
from ingest.outbox_sync import OutboxSync
from ingest.sensors.decoder import decode, encode
from ingest.sensors.gateway import Binding, Relay
from ingest.sensors.model import load_models
from ledger.clock import ManualClock
from tests.api.permit_support import Plant, seed_plant, to_active
from tests.api.support import Api
from tests.helpers import TENANT, make_actor, wait_until

MODELS = load_models()
M4 = MODELS["tz-m4"]
BINDING = Binding("F2:00:00:00:00:01", "m4-0001", "tz-m4", "HW-1", "动火点 1 m")
SAFE = {"lel": 2.0, "o2": 20.9, "h2s": 0.0, "co": 1}


def _gateway(plant: Plant, tmp_path: Path, clock: ManualClock | None = None, max_batch: int = 8
             ) -> tuple[Outbox, OutboxSync]:
    gateway = make_actor("gw-1", kind="device")
    plant.admin.create_device(gateway, kind="gateway", area="unit-3")
    plant.admin.create_device(make_actor(BINDING.detector, kind="device"), kind="detector", area="unit-3")
    box = Outbox(tmp_path / "outbox.db", gateway=gateway, tenant=TENANT,
                 clock=clock or ManualClock(plant.clock.now()), max_batch=max_batch)
    return box, OutboxSync(box, ApiClient(plant.api.client, token=plant.api.ingest, retries=0))


@pytest.fixture
def active(api: Api) -> Plant:
    plant = seed_plant(api)
    to_active(plant)
    return plant


def test_out_of_limit_reading_suspends_permit_on_sync(active: Plant, tmp_path: Path) -> None:
    box, sync = _gateway(active, tmp_path)
    relay = Relay(box, MODELS)
    relay.on_notification(BINDING, encode(M4, SAFE))
    relay.on_notification(BINDING, encode(M4, SAFE | {"lel": 20.0}))  # 0.88 %vol methane > 0.5 %vol
    assert active.permit()["state"] == "active"  # queued offline: the server knows nothing yet
    report = sync.sync_once()
    assert (report.sent, report.done) == (2, True)
    permit = active.permit()
    assert permit["state"] == "suspended"
    record = permit["gas_tests"][-1]
    assert record["failures"] == ["combustible 0.88 %vol > 0.5 %vol"] and record["detector"] == "m4-0001"
    assert permit["suspensions"][-1]["reason"] == "gas.out_of_limits"
    kinds = [e.kind for e in active.admin.timeline("HW-1")]
    assert kinds[-4:] == ["detector.reading", "detector.reading", "permit.suspended", "alarm.raised"]


def test_late_reading_accepted_and_flagged_with_both_clocks(active: Plant, tmp_path: Path) -> None:
    offline = ManualClock(active.clock.now() - timedelta(minutes=40))  # taken 40 min ago in a dead zone
    box, sync = _gateway(active, tmp_path, offline)
    queued = Relay(box, MODELS).on_notification(BINDING, encode(M4, SAFE))
    assert sync.sync_once().sent == 1
    entry = next(e for e in active.admin.timeline("HW-1") if e.event_id == queued)
    assert entry.document["flags"] == ["received_late"]
    bundle = _bundle(active, queued)
    event = bundle["event"]
    assert event["occurred_at"] == offline.stamp() and event["received_at"] > event["occurred_at"]
    assert bundle["payload"]["value"]["detector"] == {"id": "m4-0001", "model": "tz-m4", "clock": "gateway", "sequence": 0,
                                             "raw": encode(M4, SAFE).hex()}


def test_resend_after_lost_answer_is_no_duplicate(active: Plant, tmp_path: Path) -> None:
    box, sync = _gateway(active, tmp_path)
    for _ in range(3):
        Relay(box, MODELS).on_notification(BINDING, encode(M4, SAFE))
    box.seal()
    batch = box.next_batch()
    assert batch is not None
    first = sync.api.submit_encoded(batch.body)  # the server commits; the gateway dies before recording it
    size = active.api.tree_size
    report = sync.sync_once()
    assert report.sent == 3 and active.api.tree_size == size
    assert [r.leaf_index for r in first] == [row[0] for row in box._db.execute("SELECT leaf_index FROM items ORDER BY seq")]


def test_batch_larger_than_server_limit_is_signed_again_in_halves(active: Plant, tmp_path: Path) -> None:
    box, sync = _gateway(active, tmp_path, max_batch=20)  # the test server takes at most 8
    for n in range(20):
        box.enqueue("media.captured", {"sha256": f"{n:064x}", "type": "image/jpeg"}, subject={"permit": "HW-1"})
    report = sync.sync_once()
    assert (report.sent, report.done, box.status().sent) == (20, True, 20)
    assert box.max_batch == 5


def _bundle(plant: Plant, event_id: str) -> dict[str, Any]:
    """The event's bundle once a checkpoint covers it."""
    def probe() -> dict[str, Any] | None:
        try:
            return dict(plant.admin.bundle(event_id).document)
        except ApiError as exc:
            if exc.status != 404:
                raise
            return None
    found: dict[str, Any] = wait_until(probe)
    return found


def _tamper(box: Outbox, sql: str, *args: object) -> None:
    with sqlite3.connect(box.path) as db:
        db.execute(sql, args)


TAMPERING = {
    "payload": ("UPDATE items SET body = replace(body, '\"o2_pct_vol\":20.9', '\"o2_pct_vol\":20.8') WHERE seq = 2",
                r"^batch 1: 422: payload does not match payload_commitment of event [0-9a-f-]{36}$"),
    "signature": (("UPDATE batches SET attestation = json_set(attestation, '$.signature', "
                  "'MEUCIQDnotasignatureAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAIgAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')"),
                  r"^batch 1: 422: batch attestation: sm2 signature does not verify with key [0-9a-f]{16}$"),
    "reordered": ("UPDATE items SET seq = -seq WHERE seq IN (1, 2)",
                  r"^batch 1: 422: attestation event_hashes do not match the SM3 claim hashes of the batch, in order$"),
}


@pytest.mark.parametrize("case", sorted(TAMPERING))
def test_tampered_queue_refused_with_reason_and_kept(active: Plant, tmp_path: Path, case: str) -> None:
    box, sync = _gateway(active, tmp_path, max_batch=3)
    relay = Relay(box, MODELS)
    for _ in range(3):
        relay.on_notification(BINDING, encode(M4, SAFE))
    box.seal()
    sql, reason = TAMPERING[case]
    _tamper(box, sql)
    size = active.api.tree_size
    relay.on_notification(BINDING, encode(M4, SAFE))  # a later, untouched batch still goes through
    report = sync.sync_once()
    assert (report.sent, report.refused, report.done) == (1, 3, True)
    assert active.api.tree_size == size + 1
    status = box.status()
    assert status.refused == 3 and len(status.refusals) == 1
    assert re.search(reason, status.refusals[0]), status.refusals[0]
    assert len(box.event_ids()) == 4  # nothing deleted


def test_refused_notification_becomes_a_fault_event(active: Plant, tmp_path: Path) -> None:
    box, sync = _gateway(active, tmp_path)
    relay = Relay(box, MODELS)
    event_id = relay.on_notification(BINDING, encode(M4, SAFE)[:7])
    assert relay.counts.refused == 1 and "truncated" in (relay.counts.last_refusal or "")
    assert sync.sync_once().sent == 1
    payload = _bundle(active, event_id)["payload"]["value"]
    assert payload["reason"] == "tz-m4: notification of 7 bytes is truncated; the model sends exactly 10"
    assert active.permit()["state"] == "active"
    assert decode(M4, encode(M4, SAFE)).sequence == 0 and orjson.loads(orjson.dumps(payload))["size"] == 7
