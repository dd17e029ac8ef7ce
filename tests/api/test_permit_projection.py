"""The projections follow the log: rebuilt from leaf 0 they equal the live ones; one event that cannot be
folded is recorded, surfaced and stops only its own permit; events logged before a crash are folded on restart."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_api import db
from evidence_api.config import Settings
from evidence_api.main import create_app
from tests.api.permit_support import CHECKS, Plant, gas, hot_work, near, seed_plant, to_approved
from tests.api.support import ADMIN_TOKEN, BOTH_DATABASES, Api, assert_problem, bearer, seed
from tests.helpers import TENANT, make_actor


def _walk(plant: Plant) -> None:
    """The permit walk of test_permit_walk: approvals, a gas alarm, a guardian absence, close-out."""
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", gas())
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS)
    plant.ok("leader", "permit.activated", {"note": "开始动火"})
    plant.ok("analyst", "gas.analysed", gas(minutes_ago=0, purpose="periodic", combustible_pct_vol=0.8))
    plant.ok("analyst", "gas.analysed", gas(minutes_ago=0, purpose="retest"))
    plant.ok("leader", "permit.resumed", {"note": "复测合格"})
    assert plant.services.workflow.watch_once(datetime.now(UTC) + timedelta(minutes=6)) == 1
    plant.ok("guard-1", "guardian.heartbeat", {}, location=near(5))
    plant.ok("leader", "permit.resumed", {"note": "监护人返回"})
    plant.ok("leader", "permit.completed", {"note": "完工"})
    plant.ok("head", "permit.closed", {"result": "accepted", "remarks": "现场已清理"})


def _snapshot(plant: Plant) -> dict[str, list[dict[str, Any]]]:
    """Every projected row, in a stable order."""
    tables = {"permits": db.permits, "permit_workers": db.permit_workers, "certificates": db.certificates,
              "certificate_warnings": db.certificate_warnings, "notifications": db.notifications}
    with plant.services.engine.connect() as conn:
        rows = {name: sorted((dict(r._mapping) for r in conn.execute(select(t))), key=repr) for name, t in tables.items()}
    # the sender delivers notifications meanwhile: what was queued is compared, not its delivery state
    rows["notifications"] = [{k: n[k] for k in ("id", "tenant", "topic", "body", "created_at")}
                             for n in rows["notifications"]]
    return rows


def _log_directly(plant: Plant, who: str, kind: str, payload: Any, *, permit: str = "HW-1",
                  location: dict[str, float] | None = None) -> int:
    """Append a signed item to the log without the workflow (what a crash right after the log's commit, or a
    bug letting an event past the rules, leaves behind); returns its leaf index."""
    item = plant.item(who, kind, payload, permit=permit, location=location)
    receipts = plant.services.recorder.append(plant.services.recorder.prepare(TENANT, [item]))
    return receipts[0].leaf_index


@BOTH_DATABASES
def test_rebuild_from_leaf_0_equals_the_live_projection_after_the_permit_walk(api: Api) -> None:
    plant = seed_plant(api)
    _walk(plant)
    plant.ok("applicant", "permit.drafted", hot_work(area="unit-4"), permit="HW-2")
    api.set_plant_day((datetime.now(UTC) + timedelta(days=870)).date().isoformat())  # the job refuses a future on=
    warned = api.client.post("/v1/jobs/certificate-warnings", headers=bearer(api.admin))
    assert warned.status_code == 200, warned.text
    live = _snapshot(plant)
    assert live["certificate_warnings"], "the walk's certificates came due for a warning"

    assert plant.services.projector.rebuild() == api.tree_size - 1
    assert _snapshot(plant) == live
    assert plant.permit()["state"] == "closed"


def test_projection_failure_is_recorded_surfaced_and_stops_only_its_permit(api: Api) -> None:
    plant = seed_plant(api)
    one_hour = [{"worker": "welder", "operation": "2.1", "hours_per_day": 1}]
    for permit in ("HW-1", "HW-2"):
        plant.ok("applicant", "permit.drafted", hot_work(workers=one_hour), permit=permit)
        plant.ok("applicant", "permit.submitted", {"note": ""}, permit=permit)
    before = plant.permit("HW-1")
    # an approval without a location got into the log past the rules: its fold cannot place the signer
    bad = _log_directly(plant, "head", "permit.approved", {"role": "workshop_head", "opinion": "同意"})
    later = _log_directly(plant, "applicant", "permit.cancelled", {"note": "重新申请"})
    plant.services.projector.catch_up()

    status = api.client.get("/v1/projection", headers=bearer(ADMIN_TOKEN)).json()
    assert status["cursor"] == api.tree_size - 1 and status["lag"] == 0 and status["failed"] == 2
    first, second = status["failures"]
    assert (first["leaf_index"], first["permit"], first["kind"]) == (bad, "HW-1", "permit.approved")
    assert "KeyError" in first["error"]
    assert second["leaf_index"] == later and f"stopped at leaf {bad}" in second["error"]
    assert_problem(api.client.get("/v1/projection", headers=bearer(api.admin)), 403, "forbidden", "needs one of \\[\\]")

    assert plant.permit("HW-1") == before, "nothing of the permit is folded past the event that failed"
    resp = plant.act("safety", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(1))
    assert_problem(resp, 503, "storage-unavailable", f"'HW-1' cannot take actions: its projection stopped at leaf {bad}")
    approved = plant.ok("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, permit="HW-2",
                        location=near(1))
    assert approved["permit"]["state"] == "approving", "the other permit goes on"


def test_events_logged_before_a_crash_are_folded_on_restart(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        api = seed(client)
        plant = seed_plant(api)
        plant.ok("applicant", "permit.drafted", hot_work())
        plant.ok("applicant", "permit.submitted", {"note": ""})
        services = plant.services
        services.projection_job.close()  # nothing folds in the background: the process "dies" after the commit
        leaf = _log_directly(plant, "applicant", "permit.cancelled", {"note": "作废"})
        assert services.projector.cursor() < leaf
        assert plant.permit()["state"] == "submitted"

    with TestClient(create_app(settings)) as client:
        plant = dataclasses.replace(plant, api=dataclasses.replace(api, client=client))
        permit = plant.permit()
        assert permit["state"] == "cancelled" and permit["version"] == 3
        assert permit["history"][-1]["kind"] == "permit.cancelled"
        assert plant.services.projector.cursor() == leaf


@pytest.mark.parametrize("payload", [{"ppm": 3}, "not an object", {"sampled_at": "yesterday", "readings": {}}])
def test_detector_reading_in_a_device_format_is_logged_and_changes_nothing(api: Api, payload: Any) -> None:
    plant = seed_plant(api)
    to_approved(plant)
    detector = make_actor("lel-9", kind="device")
    plant.admin_post("/v1/devices", {"id": "lel-9", "kind": "detector", "key_id": detector.key_id,
                                     "public_key_pem": detector.signer.public.to_pem(), "area": "unit-3"})
    plant.people["lel-9"] = detector
    before = plant.permit()
    resp = api.client.post("/v1/events", json={"events": [plant.item("lel-9", "detector.reading", payload)]},
                           headers=bearer(api.ingest))
    assert resp.status_code == 201, resp.text
    plant.services.projector.catch_up()
    assert plant.permit() == before | {"version": before["version"] + 1}
    assert api.client.get("/v1/projection", headers=bearer(ADMIN_TOKEN)).json()["failed"] == 0


def test_openapi_documents_the_permit_routes_and_their_bodies_match(api: Api) -> None:
    plant = seed_plant(api)
    to_approved(plant)
    spec = api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def documented(path: str, method: str, code: str) -> dict[str, Any]:
        schema: dict[str, Any] = spec["paths"][path][method]["responses"][code]["content"]["application/json"]["schema"]
        ref = schema.get("items", schema)["$ref"]
        found: dict[str, Any] = schemas[ref.rsplit("/", 1)[1]]
        return found

    reader = bearer(api.reader)
    bodies = {
        ("/v1/permits/{permit_id}", "get", "200"): api.client.get("/v1/permits/HW-1", headers=reader).json(),
        ("/v1/permits", "get", "200"): api.client.get("/v1/permits", headers=reader).json()[0],
        ("/v1/permits/by-area", "get", "200"): api.client.get("/v1/permits/by-area", headers=reader).json()[0],
        ("/v1/permits/{permit_id}/timeline", "get", "200"):
            api.client.get("/v1/permits/HW-1/timeline", headers=reader).json()[0],
        ("/v1/permits/{permit_id}/actions", "post", "200"):
            plant.ok("analyst", "gas.analysed", gas()),
        ("/v1/projection", "get", "200"): api.client.get("/v1/projection", headers=bearer(ADMIN_TOKEN)).json(),
    }
    for (path, method, code), body in bodies.items():
        schema = documented(path, method, code)
        assert set(body) == set(schema["properties"]), path
        assert set(schema.get("required", [])) <= set(body), path
    permit = schemas["Permit"]["properties"]
    assert permit["state"]["enum"][:2] == ["draft", "submitted"]
    assert set(schemas["HandoverRecord"]["properties"]) == {"from", "to", "at", "event_id"}
