"""A relayed reading's detector must be a registered detector of the tenant: an unknown id (ids are exact) or
another kind of device is refused (422 ``detector.unregistered``) and nothing of the batch is
logged; the gateway's outbox keeps the refused batch with that reason, and once the detector is registered
its next readings go through."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence_api import db
from ingest.client import ApiClient
from ingest.outbox import Outbox
from ingest.outbox_sync import OutboxSync
from ingest.sensors.decoder import encode
from ingest.sensors.gateway import Binding, Relay
from ingest.sensors.model import load_models
from ingest.signing import Actor
from ledger.clock import ManualClock
from tests.api.permit_support import Plant, seed_plant, to_active
from tests.api.support import Api, assert_problem, bearer
from tests.helpers import TENANT, make_actor, signed_item

MODELS = load_models()
M4 = MODELS["tz-m4"]
SAFE = {"lel": 2.0, "o2": 20.9, "h2s": 0.0, "co": 1}
KNOWN = Binding("F2:00:00:00:00:01", "m4-0001", "tz-m4", "HW-1", "动火点 1 m")
UNKNOWN = Binding("F2:00:00:00:00:09", "m4-0009", "tz-m4", "HW-1", "地沟口")


@pytest.fixture
def active(api: Api) -> Plant:
    plant = seed_plant(api)
    to_active(plant)
    plant.admin.create_detector(KNOWN.detector, area="unit-3")  # relayed: signs nothing, has no key
    return plant


@pytest.fixture
def gateway(active: Plant) -> Actor:
    actor = make_actor("gw-1", kind="device")
    active.admin.create_device(actor, kind="gateway", area="unit-3")
    return actor


def _outbox(plant: Plant, gateway: Actor, tmp_path: Path) -> tuple[Outbox, OutboxSync]:
    box = Outbox(tmp_path / "outbox.db", gateway=gateway, tenant=TENANT, clock=ManualClock(plant.clock.now()))
    return box, OutboxSync(box, ApiClient(plant.api.client, token=plant.api.ingest, retries=0))


def _reading(gateway: Actor, detector: str) -> dict[str, object]:
    payload = {"sampled_at": "2026-11-23T08:00:00Z", "point": "动火点 1 m", "purpose": "periodic",
               "readings": {"combustible_pct_vol": 0.1, "o2_pct_vol": 20.9},
               "detector": {"id": detector, "model": "tz-m4", "clock": "gateway"}}
    return signed_item(gateway, kind="detector.reading", permit="HW-1", payload=payload)


def test_a_batch_with_an_unknown_detector_is_refused_and_kept(active: Plant, gateway: Actor, tmp_path: Path) -> None:
    box, sync = _outbox(active, gateway, tmp_path)
    relay = Relay(box, MODELS)
    relay.on_notification(KNOWN, encode(M4, SAFE))
    relay.on_notification(UNKNOWN, encode(M4, SAFE | {"lel": 30.0}))
    size, before = active.api.tree_size, active.permit()

    report = sync.sync_once()

    assert (report.sent, report.refused) == (0, 2)
    assert active.api.tree_size == size and active.permit() == before  # nothing logged, nothing folded
    [refusal] = box.status().refusals
    assert refusal.startswith("batch 1: 422: reading ") and "comes from detector 'm4-0009', which is not a " \
        "registered device of tenant 'acme-chem'; nothing of this batch was logged: register the detector" in refusal
    assert len(box.event_ids()) == 2  # kept in the outbox, not deleted

    active.admin.create_device(make_actor(UNKNOWN.detector, kind="device"), kind="detector", area="unit-3")
    relay.on_notification(UNKNOWN, encode(M4, SAFE | {"lel": 30.0}))  # the next one, once it is registered
    assert sync.sync_once().sent == 1
    assert active.permit()["state"] == "suspended"
    assert active.permit()["gas_tests"][-1]["detector"] == "m4-0009"


@pytest.mark.parametrize(("detector", "why"), [("cam-1", "is a camera, not a detector"),
                                               ("gw-1", "is a gateway, not a detector"),
                                               ("M4-0001", "is not a registered device")])
def test_a_reading_naming_another_device_is_refused(active: Plant, gateway: Actor, detector: str, why: str) -> None:
    active.admin.create_device(make_actor("cam-1", kind="device"), kind="camera", area="unit-3")
    size = active.api.tree_size
    resp = active.api.post_events({"events": [_reading(gateway, KNOWN.detector), _reading(gateway, detector)]})
    body = assert_problem(resp, 422, "rule-violation", f"comes from detector '{detector}', which {why} of tenant "
                                                       "'acme-chem'")
    assert body["rule"] == "detector.unregistered"
    assert active.api.tree_size == size


def test_a_registered_detector_is_accepted(active: Plant, gateway: Actor) -> None:
    resp = active.api.post_events({"events": [_reading(gateway, KNOWN.detector)]})
    assert resp.status_code == 201, resp.text


def test_a_reading_that_names_no_detector_is_not_checked(active: Plant, gateway: Actor) -> None:
    item = signed_item(gateway, kind="detector.reading", permit="HW-1", payload={"vendor_format": [1, 2, 3]})
    assert active.api.post_events({"events": [item]}).status_code == 201


def test_only_a_detector_may_be_registered_without_a_key(active: Plant) -> None:
    camera = {"id": "cam-9", "kind": "camera"}
    resp = active.api.client.post("/v1/devices", json=camera, headers=bearer(active.api.admin))
    assert_problem(resp, 422, "malformed-input", "a camera signs what it sends: give its key_id and public_key_pem")
    half = {"id": "lel-9", "kind": "detector", "key_id": "lel-9#1"}
    resp = active.api.client.post("/v1/devices", json=half, headers=bearer(active.api.admin))
    assert_problem(resp, 422, "malformed-input", "key_id and public_key_pem go together")
    assert {d["id"] for d in active.services.org.rows(db.devices, TENANT)} & {"cam-9", "lel-9"} == set()
