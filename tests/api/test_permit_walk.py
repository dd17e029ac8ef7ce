"""A 一级 hot-work permit from draft to close, with a gas alarm and a guardian absence on the way; then the
verifier checks every step: in the log, signed by the right key, chained by ``prev``."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from evidence_api.services.recorder import SERVICE_ACTOR_ID
from tests.api.permit_support import CHECKS, Plant, gas, near, seed_plant, to_approved
from tests.api.support import BOTH_DATABASES, Api, bearer
from verifier.bundle import Bundle, verify_bundle
from verifier.errors import VerificationFailed


@pytest.fixture
def plant(api: Api) -> Plant:
    return seed_plant(api)


@BOTH_DATABASES
def test_hot_work_permit_draft_to_close_every_step_verified(plant: Plant) -> None:
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", gas())
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS)
    assert plant.ok("leader", "permit.activated", {"note": "开始动火"})["permit"]["state"] == "active"

    # gas alarm: a test out of limits suspends at once, with the alarm, in the same commit
    alarm = plant.ok("analyst", "gas.analysed", gas(minutes_ago=0, purpose="periodic", combustible_pct_vol=0.8))
    assert len(alarm["receipts"]) == 3  # the test itself, then the service's suspension and alarm
    assert alarm["permit"]["state"] == "suspended"
    assert alarm["permit"]["suspensions"][-1]["reason"] == "gas.out_of_limits"
    plant.ok("analyst", "gas.analysed", gas(minutes_ago=0, purpose="retest"))
    plant.ok("leader", "permit.resumed", {"note": "复测合格"})

    # guardian absence: the watchdog finds no heartbeat for more than 5 minutes
    later = datetime.now(UTC) + timedelta(minutes=6)
    assert plant.services.workflow.watch_once(later) == 1
    assert plant.permit()["state"] == "suspended"
    assert plant.permit()["alarms"][-1]["reason"] == "guardian.absent"
    plant.ok("guard-1", "guardian.heartbeat", {}, location=near(5))
    plant.ok("leader", "permit.resumed", {"note": "监护人返回"})

    plant.ok("leader", "permit.completed", {"note": "完工"})
    closed = plant.ok("head", "permit.closed", {"result": "accepted", "remarks": "现场已清理"})["permit"]
    assert closed["state"] == "closed"

    _verify_every_step(plant)


def _verify_every_step(plant: Plant) -> None:
    reader = bearer(plant.api.reader)
    timeline = plant.api.client.get("/v1/permits/HW-1/timeline", headers=reader).json()
    kinds = [e["kind"] for e in timeline]
    assert kinds == [
        "permit.drafted", "permit.submitted", "permit.approved", "permit.approved", "gas.analysed",
        "guardian.checkin", "guardian.checks_confirmed", "permit.activated", "gas.analysed", "permit.suspended",
        "alarm.raised", "gas.analysed", "permit.resumed", "permit.suspended", "alarm.raised", "guardian.heartbeat",
        "permit.resumed", "permit.completed", "permit.closed",
    ]
    signers = {"permit.drafted": "applicant", "permit.submitted": "applicant", "gas.analysed": "analyst",
               "guardian.checkin": "guard-1", "guardian.checks_confirmed": "guard-1", "guardian.heartbeat": "guard-1",
               "permit.activated": "leader", "permit.resumed": "leader", "permit.completed": "leader",
               "permit.closed": "head", "permit.suspended": SERVICE_ACTOR_ID, "alarm.raised": SERVICE_ACTOR_ID}
    approvers = iter(["head", "safety"])
    plant.api.checkpoint(plant.api.tree_size)
    trust_root = plant.api.trust_root()
    previous = None
    for entry in timeline:
        want = next(approvers) if entry["kind"] == "permit.approved" else signers[entry["kind"]]
        assert entry["actor"]["id"] == want, entry
        assert entry["prev"] == previous, "events of one permit are chained by prev"
        previous = entry["leaf_hash"]
        bundle = plant.api.client.get(f"/v1/events/{entry['event_id']}/bundle", headers=reader).json()
        report = verify_bundle(Bundle.from_bytes(json.dumps(bundle).encode()), trust_root=trust_root)
        signer = plant.people[want].signer if want != SERVICE_ACTOR_ID else plant.services.recorder.service_signer
        assert report.actor_key_fingerprint == signer.public.fingerprint(), "signed by the right person's key"
        tampered = json.loads(json.dumps(bundle))
        tampered["payload"]["value"] = {"tampered": True}
        with pytest.raises(VerificationFailed):
            verify_bundle(Bundle.from_bytes(json.dumps(tampered).encode()), trust_root=trust_root)


def test_permit_projection_matches_replay_of_its_signed_events(api: Api) -> None:
    """The permit's state is what its events say: the history in the document lists exactly the logged
    permit.* events, in order."""
    plant = seed_plant(api)
    to_approved(plant)
    history = [h["event_id"] for h in plant.permit()["history"]]
    timeline = api.client.get("/v1/permits/HW-1/timeline", headers=bearer(api.reader)).json()
    assert history == [e["event_id"] for e in timeline if e["kind"].startswith("permit.")]
