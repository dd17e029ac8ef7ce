"""Each permit rule, allowed and refused: a refusal names the rule, says what to fix, and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest

from tests.api.permit_support import (
    CHECKS,
    Plant,
    confined_space,
    gas,
    hot_work,
    iso,
    near,
    seed_plant,
    to_active,
    to_approved,
)
from tests.api.support import Api, assert_problem, bearer
from tests.helpers import make_actor


@pytest.fixture
def plant(api: Api) -> Plant:
    return seed_plant(api)


@contextmanager
def unchanged(plant: Plant, permit: str = "HW-1") -> Iterator[None]:
    """The block's request is refused and leaves the log and the permit exactly as they were."""
    size = plant.api.tree_size
    before = plant.api.client.get(f"/v1/permits/{permit}", headers=bearer(plant.api.reader)).json()
    yield
    assert plant.api.tree_size == size
    assert plant.api.client.get(f"/v1/permits/{permit}", headers=bearer(plant.api.reader)).json() == before


def refused(plant: Plant, resp: httpx.Response, rule: str, detail: str, status: int = 422) -> None:
    body = assert_problem(resp, status, "rule-violation", detail)
    assert body["rule"] == rule


def submit(plant: Plant, content: dict[str, Any], permit: str = "HW-1") -> httpx.Response:
    plant.ok("applicant", "permit.drafted", content, permit=permit)
    return plant.act("applicant", "permit.submitted", {"note": ""}, permit=permit)


def submit_refused(plant: Plant, content: dict[str, Any], rule: str, detail: str, permit: str = "HW-1") -> None:
    plant.ok("applicant", "permit.drafted", content, permit=permit)
    with unchanged(plant, permit):
        resp = plant.act("applicant", "permit.submitted", {"note": ""}, permit=permit)
    refused(plant, resp, rule, detail)


# -- certificates --------------------------------------------------------------------------------

def test_submit_valid_certificate_allowed(plant: Plant) -> None:
    assert submit(plant, hot_work()).json()["permit"]["state"] == "submitted"


def test_submit_expired_certificate_refused(plant: Plant) -> None:
    today = date.today()
    plant.add_worker("old-welder", ("2.1", today - timedelta(days=1), today - timedelta(days=1100)))
    content = hot_work(workers=[{"worker": "old-welder", "operation": "2.1"}])
    submit_refused(plant, content, "certificate.expired", "old-welder.*Told-welder0 is expired")


def test_submit_certificate_expiring_inside_window_refused(plant: Plant) -> None:
    tomorrow = date.today() + timedelta(days=1)
    plant.add_worker("w2", ("2.1", tomorrow, tomorrow))
    now = datetime.now(UTC)
    content = hot_work(level="2", workers=[{"worker": "w2", "operation": "2.1"}],
                       starts_at=iso(now), ends_at=iso(now + timedelta(hours=60)))
    submit_refused(plant, content, "certificate.expired", "within the permit's window")


def test_submit_review_overdue_refused(plant: Plant) -> None:
    today = date.today()
    plant.add_worker("late", ("2.1", today + timedelta(days=500), today - timedelta(days=1)))
    content = hot_work(workers=[{"worker": "late", "operation": "2.1"}])
    submit_refused(plant, content, "certificate.review_overdue", "review overdue")


def test_submit_low_voltage_electrician_on_high_voltage_refused(plant: Plant) -> None:
    content = hot_work(type="temp_power", level=None, voltage_v=10_000, risks=["触电", "电气火灾"],
                       measures=[{"measure": m, "applies": True, "confirmer": "leader"}
                                 for m in ["配电箱漏电保护器完好", "线路绝缘良好、架空或穿管", "接拆线时监护人在场"]],
                       workers=[{"worker": "lv-electrician", "operation": "1.2"}])
    submit_refused(plant, content, "certificate.wrong_type", "operation 1.2 does not fit.*1.1 高压电工作业")


def test_submit_high_voltage_electrician_on_high_voltage_allowed(plant: Plant) -> None:
    content = hot_work(type="temp_power", level=None, voltage_v=10_000, risks=["触电", "电气火灾"],
                       measures=[{"measure": m, "applies": True, "confirmer": "leader"}
                                 for m in ["配电箱漏电保护器完好", "线路绝缘良好、架空或穿管", "接拆线时监护人在场"]],
                       workers=[{"worker": "hv-electrician", "operation": "1.1"}])
    assert submit(plant, content).status_code == 200


def test_submit_worker_without_the_certificate_refused(plant: Plant) -> None:
    content = hot_work(workers=[{"worker": "hv-electrician", "operation": "2.1"}])
    submit_refused(plant, content, "certificate.missing", "hv-electrician.*no certificate for 2.1")


def test_submit_hot_work_without_operation_refused(plant: Plant) -> None:
    content = hot_work(workers=[{"worker": "welder"}])
    submit_refused(plant, content, "certificate.operation_missing", "welder.*needs an operation")


# -- people, violations, hours -------------------------------------------------------------------

def test_submit_unknown_worker_refused(plant: Plant) -> None:
    content = hot_work(workers=[{"worker": "ghost", "operation": "2.1"}])
    submit_refused(plant, content, "people.unknown_worker", "\\['ghost'\\] are not registered")


def test_submit_guardian_without_guardian_role_refused(plant: Plant) -> None:
    submit_refused(plant, hot_work(guardian="analyst"), "people.wrong_role", "'analyst' is not a guardian")


def test_submit_recent_violation_refused_old_one_allowed(plant: Plant) -> None:
    admin = bearer(plant.api.admin)
    old = (date.today() - timedelta(days=31)).isoformat()
    plant.api.client.post("/v1/workers/welder/violations", json={"id": "v-old", "occurred_on": old,
                                                                  "description": "未戴护目镜"}, headers=admin)
    assert submit(plant, hot_work(), permit="HW-0").status_code == 200
    recent = (date.today() - timedelta(days=3)).isoformat()
    plant.api.client.post("/v1/workers/welder/violations", json={"id": "v-new", "occurred_on": recent,
                                                                  "description": "无票动火"}, headers=admin)
    submit_refused(plant, hot_work(), "worker.recent_violation", f"violation on {recent}", permit="HW-2")


def _one_day(plant: Plant) -> dict[str, str]:
    """A 7 h window inside one UTC day (tomorrow's 01:00–08:00), whatever the time now: a window from now
    crosses midnight after 17:00 UTC and splits each worker's hours over two days."""
    start = datetime.combine((plant.clock.now() + timedelta(days=1)).astimezone(UTC).date(), time(1), tzinfo=UTC)
    return {"starts_at": iso(start), "ends_at": iso(start + timedelta(hours=7))}


def test_submit_daily_hours_over_limit_refused(plant: Plant) -> None:
    assert submit(plant, hot_work(**_one_day(plant)), permit="HW-A").status_code == 200  # welder 6 h that day
    second = hot_work(area="unit-4", location={"lat": 31.21, "lon": 121.5}, **_one_day(plant),
                      workers=[{"worker": "welder", "operation": "2.1", "hours_per_day": 3}])
    submit_refused(plant, second, "worker.daily_hours", "'welder' would work 9 h.*limit is 8 h", permit="HW-B")


def test_submit_daily_hours_within_limit_allowed(plant: Plant) -> None:
    assert submit(plant, hot_work(**_one_day(plant)), permit="HW-A").status_code == 200
    second = hot_work(area="unit-4", location={"lat": 31.21, "lon": 121.5}, **_one_day(plant),
                      workers=[{"worker": "welder", "operation": "2.1", "hours_per_day": 2}])
    assert submit(plant, second, permit="HW-B").status_code == 200


# -- window, template, conflicts -----------------------------------------------------------------

def test_submit_window_too_long_for_level_refused(plant: Plant) -> None:
    now = datetime.now(UTC)
    content = hot_work(starts_at=iso(now), ends_at=iso(now + timedelta(hours=9)))
    submit_refused(plant, content, "window.too_long", "9 h.*at most 8 h")


def test_submit_level_2_allows_72_hours(plant: Plant) -> None:
    now = datetime.now(UTC)
    content = hot_work(level="2", starts_at=iso(now), ends_at=iso(now + timedelta(hours=72)),
                       workers=[{"worker": "welder", "operation": "2.1", "hours_per_day": 8}])
    assert submit(plant, content).status_code == 200


def test_submit_work_point_outside_its_area_refused(plant: Plant) -> None:
    content = hot_work(location={"lat": 31.21, "lon": 121.5})  # unit-3 reaches 200 m from its centre
    submit_refused(plant, content, "place.outside_area", "outside the geofence of area 'unit-3'")


def test_submit_missing_mandatory_measure_refused(plant: Plant) -> None:
    content = hot_work()
    content["measures"] = content["measures"][1:]
    submit_refused(plant, content, "template.measures", "missing \\['动火设备内部构件")


def test_submit_special_level_without_jsa_refused(plant: Plant) -> None:
    submit_refused(plant, hot_work(level="special"), "template.jsa", "requires a JSA")


def test_submit_height_level_below_measured_refused(plant: Plant) -> None:
    content = hot_work(type="height", level="I", height_m=18, risks=["高处坠落", "物体打击"],
                       measures=[{"measure": m, "applies": True, "confirmer": "leader"}
                                 for m in ["安全带高挂低用", "作业平台与护栏完好", "下方设警戒区"]],
                       workers=[{"worker": "welder", "operation": None}])
    submit_refused(plant, content, "level.too_low", "level I is below III")


def test_submit_hot_work_beside_confined_space_refused(plant: Plant) -> None:
    assert submit(plant, confined_space(), permit="CS-1").status_code == 200
    beside = hot_work(area="unit-4", location={"lat": 31.2001, "lon": 121.5})  # ~11 m away, other area
    submit_refused(plant, beside, "conflict.nearby_work", "confined_space permit 'CS-1'", permit="HW-9")


def test_submit_hot_work_far_from_confined_space_allowed(plant: Plant) -> None:
    assert submit(plant, confined_space(), permit="CS-1").status_code == 200
    far = hot_work(area="unit-4", location={"lat": 31.21, "lon": 121.5})  # ~1.1 km away
    assert submit(plant, far, permit="HW-9").status_code == 200


# -- approvals -----------------------------------------------------------------------------------

def _submitted(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work())
    plant.ok("applicant", "permit.submitted", {"note": ""})


def test_approval_in_order_on_site_allowed(plant: Plant) -> None:
    _submitted(plant)
    first = plant.ok("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(4.5))
    assert first["permit"]["state"] == "approving"
    assert first["permit"]["approvals"][0]["distance_m"] == pytest.approx(4.5, abs=0.1)
    second = plant.ok("safety", "permit.approved", {"role": "safety_officer", "opinion": "同意"}, location=near(1))
    assert second["permit"]["state"] == "approved"


def test_approval_beyond_5_m_refused(plant: Plant) -> None:
    _submitted(plant)
    with unchanged(plant):
        resp = plant.act("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(6))
    refused(plant, resp, "approval.too_far", "signed 6.0 m from the work point; the limit is 5 m")


def test_approval_distance_limit_configurable(plant: Plant) -> None:
    overrides = plant.services.org.overrides("acme-chem") | {"approver_max_distance_m": 10}
    plant.api.client.put("/v1/settings/rules", json={"overrides": overrides}, headers=bearer(plant.api.admin))
    _submitted(plant)
    plant.ok("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(8))


def test_approval_without_location_or_imprecise_refused(plant: Plant) -> None:
    _submitted(plant)
    with unchanged(plant):
        resp = plant.act("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"})
        refused(plant, resp, "approval.location_missing", "must carry the signer's location")
        resp = plant.act("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"},
                         location=near(0, accuracy_m=80))
        refused(plant, resp, "approval.location_imprecise", "accuracy is 80 m")


def test_approval_absurd_location_refused(plant: Plant) -> None:
    _submitted(plant)
    with unchanged(plant):
        resp = plant.act("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"},
                         location={"lat": 123.0, "lon": 121.5})
    assert_problem(resp, 422, "malformed-input", "location out of range: lat 123.0")


def test_approval_out_of_order_refused(plant: Plant) -> None:
    _submitted(plant)
    with unchanged(plant):
        resp = plant.act("safety", "permit.approved", {"role": "safety_officer", "opinion": "同意"}, location=near(1))
    refused(plant, resp, "approval.out_of_order", "step 1 of the route waits for \\['workshop_head'\\]")


def test_approval_by_wrong_role_forbidden(plant: Plant) -> None:
    _submitted(plant)
    with unchanged(plant):
        resp = plant.act("analyst", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(1))
    assert_problem(resp, 403, "forbidden", "'analyst' is not a workshop_head")


def test_special_level_needs_dual_final_signatures(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work(level="special", jsa="JSA: 1. 置换 2. 检测 3. 动火"))
    plant.ok("applicant", "permit.submitted", {"note": ""})
    plant.ok("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(1))
    plant.ok("safety", "permit.approved", {"role": "safety_officer", "opinion": "同意"}, location=near(1))
    with unchanged(plant):
        resp = plant.act("safety", "permit.approved", {"role": "safety_officer", "opinion": "再签"}, location=near(1))
    refused(plant, resp, "approval.same_person", "already signed this permit")
    plant.ok("safety-2", "permit.approved", {"role": "safety_officer", "opinion": "会签"}, location=near(1))
    assert plant.permit()["state"] == "approving"
    assert plant.ok("manager", "permit.approved", {"role": "production_manager", "opinion": "批准"},
                    location=near(1))["permit"]["state"] == "approved"


def test_rejection_needs_a_reason_and_ends_the_permit(plant: Plant) -> None:
    _submitted(plant)
    with unchanged(plant):
        assert_problem(plant.act("head", "permit.rejected", {"note": ""}), 422, "malformed-input", "must say why")
    assert plant.ok("head", "permit.rejected", {"note": "措施不全"})["permit"]["state"] == "rejected"
    with unchanged(plant):
        resp = plant.act("applicant", "permit.submitted", {"note": ""})
    assert_problem(resp, 409, "invalid-transition", "is rejected; permit.submitted is allowed only when draft")


# -- state machine and bad input -----------------------------------------------------------------

def test_start_of_a_draft_is_an_invalid_transition(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work())
    with unchanged(plant):
        resp = plant.act("leader", "permit.activated", {"note": ""})
    assert_problem(resp, 409, "invalid-transition", "permit 'HW-1' is draft; permit.activated is allowed only when approved")


def test_signature_over_other_bytes_refused(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work())
    item = plant.item("applicant", "permit.submitted", {"note": ""})
    item["event"]["occurred_at"] = iso(datetime.now(UTC) + timedelta(seconds=1))
    with unchanged(plant):
        resp = plant.send(item)
    assert_problem(resp, 422, "invalid-signature", "")


def test_signature_by_unregistered_person_refused(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work())
    plant.people["stranger"] = make_actor("stranger")
    with unchanged(plant):
        resp = plant.act("stranger", "permit.submitted", {"note": ""})
    assert_problem(resp, 422, "unknown-key", "'stranger#1' is not registered")


def test_draft_with_unknown_field_or_bad_window_refused(plant: Plant) -> None:
    size = plant.api.tree_size
    resp = plant.act("applicant", "permit.drafted", hot_work(colour="red"))
    assert_problem(resp, 422, "malformed-input", "colour: Extra inputs are not permitted")
    now = datetime.now(UTC)
    resp = plant.act("applicant", "permit.drafted", hot_work(starts_at=iso(now), ends_at=iso(now)))
    assert_problem(resp, 422, "malformed-input", "ends_at .* must be after starts_at")
    resp = plant.act("applicant", "permit.drafted", hot_work(type="dancing"))
    assert_problem(resp, 422, "malformed-input", "unknown work type 'dancing'")
    assert plant.api.tree_size == size
    assert plant.api.client.get("/v1/permits", headers=bearer(plant.api.reader)).json() == []


def test_draft_by_non_applicant_forbidden(plant: Plant) -> None:
    resp = plant.act("guard-1", "permit.drafted", hot_work())
    assert_problem(resp, 403, "forbidden", "'guard-1' is not an applicant")


def test_retry_of_a_logged_action_changes_nothing(plant: Plant) -> None:
    _submitted(plant)
    item = plant.item("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(1))
    first = plant.send(item).json()
    with unchanged(plant):
        again = plant.send(item).json()
    assert again["receipts"][0] | {"duplicate": False} == first["receipts"][0]
    assert again["receipts"][0]["duplicate"] is True


# -- gas -----------------------------------------------------------------------------------------

def _ready(plant: Plant, sample: dict[str, Any]) -> None:
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", sample)
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS)


def test_start_with_fresh_passing_gas_test_allowed(plant: Plant) -> None:
    _ready(plant, gas(minutes_ago=29))
    assert plant.ok("leader", "permit.activated", {"note": ""})["permit"]["state"] == "active"


def test_start_with_stale_gas_test_refused(plant: Plant) -> None:
    _ready(plant, gas(minutes_ago=31))
    with unchanged(plant):
        resp = plant.act("leader", "permit.activated", {"note": ""})
    refused(plant, resp, "gas.stale", "31 min old; work must start within 30 min")


def test_start_after_failed_gas_test_refused(plant: Plant) -> None:
    _ready(plant, gas(combustible_pct_vol=0.6))
    assert plant.permit()["alarms"][-1]["reason"] == "gas.out_of_limits"
    with unchanged(plant):
        resp = plant.act("leader", "permit.activated", {"note": ""})
    refused(plant, resp, "gas.failed", "combustible 0.6 %vol > 0.5 %vol")


def test_combustible_limit_follows_lel_class(plant: Plant) -> None:
    _ready(plant, gas(combustible_pct_vol=0.3))  # LEL 5 % medium: limit 0.5
    assert plant.permit()["gas_tests"][-1]["passed"] is True
    low = hot_work(combustible_lel_pct=2.1, area="unit-4",
                   workers=[{"worker": "welder", "operation": "2.1", "hours_per_day": 1}])
    to_approved(plant, low, permit="HW-2")
    test = plant.ok("analyst", "gas.analysed", gas(combustible_pct_vol=0.3), permit="HW-2")["permit"]["gas_tests"][-1]
    assert test["passed"] is False and test["failures"] == ["combustible 0.3 %vol > 0.2 %vol"]


def test_confined_space_oxygen_and_toxic_limits(plant: Plant) -> None:
    to_approved(plant, confined_space(), permit="CS-1")
    test = plant.ok("analyst", "gas.analysed", gas(o2_pct_vol=19.0, toxic_mg_m3={"h2s": 12.0}),
                    permit="CS-1")["permit"]["gas_tests"][-1]
    assert test["failures"] == ["oxygen 19 %vol < 19.5 %vol", "h2s 12 mg/m³ > 10 mg/m³"]


def test_pre_start_test_sampled_after_start_is_flagged(plant: Plant) -> None:
    to_active(plant)
    test = plant.ok("analyst", "gas.analysed", gas(minutes_ago=0))["permit"]["gas_tests"][-1]
    assert test["flags"] == ["sampled_after_start"]


def test_gas_test_by_non_analyst_forbidden(plant: Plant) -> None:
    to_approved(plant)
    with unchanged(plant):
        resp = plant.act("guard-1", "gas.analysed", gas())
    assert_problem(resp, 403, "forbidden", "may not sign gas.analysed; needs one of \\['gas_analyst'\\]")


def test_confined_space_reanalysis_overdue_suspends(plant: Plant) -> None:
    to_active(plant, confined_space(), permit="CS-1")
    workflow = plant.services.workflow
    plant.ok("guard-1", "guardian.heartbeat", {}, permit="CS-1", location=near(3))
    soon = datetime.now(UTC) + timedelta(minutes=2)
    assert workflow.watch_once(soon) == 0
    later = datetime.now(UTC) + timedelta(minutes=125)
    overrides = plant.services.org.overrides("acme-chem") | {"guardian_heartbeat_timeout_s": 100_000}
    plant.services.org.set_overrides("acme-chem", overrides)
    assert workflow.watch_once(later) == 1
    permit = plant.permit("CS-1")
    assert permit["state"] == "suspended" and permit["alarms"][-1]["reason"] == "gas.reanalysis_overdue"


# -- guardian ------------------------------------------------------------------------------------

def test_guardian_checkin_wrong_qr_or_too_far_refused(plant: Plant) -> None:
    to_approved(plant)
    with unchanged(plant):
        resp = plant.act("guard-1", "guardian.checkin", {"qr_token": "not-the-token"}, location=near(10))
        refused(plant, resp, "guardian.qr_mismatch", "not the one posted in area 'unit-3'")
        resp = plant.act("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(60))
        refused(plant, resp, "guardian.too_far", "60.0 m from the work point; the limit is 50 m")
        resp = plant.act("guard-2", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
        assert_problem(resp, 403, "forbidden", "the permit's guardian is 'guard-1'")


def test_start_needs_all_five_checks(plant: Plant) -> None:
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", gas())
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    with unchanged(plant):
        resp = plant.act("guard-1", "guardian.checks_confirmed", CHECKS | {"isolation": False})
        refused(plant, resp, "guardian.checks_incomplete", "not confirmed: \\['isolation'\\]")
        resp = plant.act("leader", "permit.activated", {"note": ""})
        refused(plant, resp, "guardian.checks_incomplete", "has not confirmed the five checks")


def test_start_without_guardian_checkin_refused(plant: Plant) -> None:
    to_approved(plant)
    plant.ok("analyst", "gas.analysed", gas())
    with unchanged(plant):
        resp = plant.act("leader", "permit.activated", {"note": ""})
    refused(plant, resp, "guardian.not_checked_in", "has not checked in")


def test_guardian_heartbeat_outside_50_m_suspends_and_alarms(plant: Plant) -> None:
    to_active(plant)
    body = plant.ok("guard-1", "guardian.heartbeat", {}, location=near(80))
    assert body["permit"]["state"] == "suspended"
    assert len(body["receipts"]) == 3  # the heartbeat, then the service's suspension and alarm
    assert body["permit"]["alarms"][-1]["reason"] == "guardian.away"
    assert set(body["permit"]["alarms"][-1]["parties"]) >= {"applicant", "leader", "guard-1", "head", "safety"}


def test_guardian_handover_recorded_and_new_guardian_keeps_watch(plant: Plant) -> None:
    to_active(plant)
    body = plant.ok("guard-2", "guardian.handover", {"from_guardian": "guard-1", "qr_token": plant.qr},
                    location=near(5))["permit"]
    assert body["handovers"][0]["from"] == "guard-1" and body["handovers"][0]["to"] == "guard-2"
    assert body["guardian"]["user"] == "guard-2" and body["state"] == "active"
    with unchanged(plant):
        resp = plant.act("guard-1", "guardian.heartbeat", {}, location=near(5))
    refused(plant, resp, "guardian.not_checked_in", "'guard-1' is not the checked-in guardian")
    plant.ok("guard-2", "guardian.heartbeat", {}, location=near(5))


# -- expiry and close-out ------------------------------------------------------------------------

def test_permit_expires_at_end_of_window(plant: Plant) -> None:
    to_approved(plant)
    after = datetime.now(UTC) + timedelta(hours=8)
    assert plant.services.workflow.watch_once(after) == 1
    assert plant.permit()["state"] == "expired"
    timeline = plant.api.client.get("/v1/permits/HW-1/timeline", headers=bearer(plant.api.reader)).json()
    assert timeline[-1]["kind"] == "permit.expired" and timeline[-1]["actor"]["type"] == "service"


def test_close_needs_acceptance_by_workshop_or_safety(plant: Plant) -> None:
    to_active(plant)
    plant.ok("leader", "permit.completed", {"note": ""})
    with unchanged(plant):
        resp = plant.act("leader", "permit.closed", {"result": "accepted"})
        assert_problem(resp, 403, "forbidden", "needs one of \\['workshop_head', 'safety_officer'\\]")
        resp = plant.act("head", "permit.closed", {"result": "maybe"})
        assert_problem(resp, 422, "malformed-input", "result")
    assert plant.ok("head", "permit.closed", {"result": "accepted"})["permit"]["state"] == "closed"


# -- detectors -----------------------------------------------------------------------------------

def test_detector_reading_out_of_limits_suspends_active_permit(plant: Plant) -> None:
    to_active(plant)
    plant.add_detector()
    ok = plant.item("lel-1", "detector.reading", gas(minutes_ago=0, purpose="periodic"))
    bad = plant.item("lel-1", "detector.reading", gas(minutes_ago=0, purpose="periodic", combustible_pct_vol=1.2))
    resp = plant.api.client.post("/v1/events", json={"events": [ok, bad]}, headers=bearer(plant.api.ingest))
    assert resp.status_code == 201, resp.text
    permit = plant.permit()
    assert permit["state"] == "suspended"
    assert permit["suspensions"][-1]["reason"] == "gas.out_of_limits"
    assert "combustible 1.2 %vol" in permit["alarms"][-1]["detail"]


def test_workflow_action_through_raw_intake_refused(plant: Plant) -> None:
    _submitted(plant)
    approval = plant.item("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(1))
    with unchanged(plant):
        resp = plant.api.client.post("/v1/events", json={"events": [approval]}, headers=bearer(plant.api.ingest))
    assert_problem(resp, 409, "conflict", "permit 'HW-1' is run by the permit workflow: send permit.approved to "
                                          "POST /v1/permits/HW-1/actions")


# -- views ---------------------------------------------------------------------------------------

def test_views_by_area_and_state(plant: Plant) -> None:
    to_active(plant)
    plant.ok("applicant", "permit.drafted", hot_work(area="unit-4"), permit="HW-2")
    reader = bearer(plant.api.reader)
    areas = {a["area"]: a for a in plant.api.client.get("/v1/permits/by-area", headers=reader).json()}
    assert areas["unit-3"]["states"] == {"active": 1} and areas["unit-3"]["active"] == 1
    assert areas["unit-4"]["states"] == {"draft": 1}
    assert "circle" in areas["unit-3"]["geofence"]
    listed = plant.api.client.get("/v1/permits?state=active", headers=reader).json()
    assert [p["id"] for p in listed] == ["HW-1"]
    timeline = plant.api.client.get("/v1/permits/HW-1/timeline", headers=reader).json()
    assert {e["proof"] for e in timeline} <= {"logged", "checkpointed", "anchored"}
    plant.api.checkpoint(plant.api.tree_size)
    assert plant.api.client.get("/v1/permits/HW-1/timeline", headers=reader).json()[0]["proof"] != "logged"
    resp = plant.api.client.get("/v1/permits/NOPE/timeline", headers=reader)
    assert_problem(resp, 404, "not-found", "permit 'NOPE' does not exist")


# -- hot-work level upgrade (GB 30871 5.2.15) and continuous monitoring -------------------------------

def _upgrade_on(plant: Plant) -> None:
    overrides = plant.services.org.overrides("acme-chem")
    overrides.pop("hot_work_upgrade")
    plant.services.org.set_overrides("acme-chem", overrides)


def _local(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=8)  # China time, UTC+8


def _next_weekday(weekday: int) -> date:
    today = date.today() + timedelta(days=1)
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def test_hot_work_at_night_must_be_declared_one_level_up(plant: Plant) -> None:
    _upgrade_on(plant)
    monday = _next_weekday(0)
    night = {"starts_at": iso(_local(monday, 20)), "ends_at": iso(_local(monday, 23))}
    submit_refused(plant, hot_work(level="2", **night), "level.upgrade_required",
                   r"at night \(22:00–6:00\) is handled one level above its base level 2: declare level 1 with "
                   "base_level 2", permit="N-1")
    assert submit(plant, hot_work(level="1", base_level="2", **night), permit="N-2").status_code == 200


def test_hot_work_on_a_weekday_daytime_keeps_its_level(plant: Plant) -> None:
    _upgrade_on(plant)
    tuesday = _next_weekday(1)
    day = {"starts_at": iso(_local(tuesday, 8)), "ends_at": iso(_local(tuesday, 16))}
    assert submit(plant, hot_work(level="2", **day)).status_code == 200


def test_hot_work_on_rest_day_holiday_or_in_wind_is_upgraded(plant: Plant) -> None:
    _upgrade_on(plant)
    saturday = _next_weekday(5)
    submit_refused(plant, hot_work(level="2", starts_at=iso(_local(saturday, 8)), ends_at=iso(_local(saturday, 16))),
                   "level.upgrade_required", "on a rest day", permit="R-1")
    wednesday = _next_weekday(2)
    overrides = plant.services.org.overrides("acme-chem") | {"hot_work_upgrade": {"holidays": [wednesday.isoformat()]}}
    plant.services.org.set_overrides("acme-chem", overrides)
    daytime = {"starts_at": iso(_local(wednesday, 8)), "ends_at": iso(_local(wednesday, 16))}
    submit_refused(plant, hot_work(level="2", **daytime), "level.upgrade_required", "on a holiday", permit="R-2")
    thursday = _next_weekday(3)
    windy = {"starts_at": iso(_local(thursday, 8)), "ends_at": iso(_local(thursday, 16)), "outdoor": True, "wind_force": 6}
    submit_refused(plant, hot_work(level="2", **windy), "level.upgrade_required", "outdoors in wind of force 6",
                   permit="R-3")


def test_special_hot_work_detector_silence_suspends(plant: Plant) -> None:
    overrides = plant.services.org.overrides("acme-chem") | {"guardian_heartbeat_timeout_s": 100_000}
    plant.services.org.set_overrides("acme-chem", overrides)
    special = hot_work(level="special", jsa="JSA: 1. 置换 2. 检测 3. 动火")
    plant.ok("applicant", "permit.drafted", special)
    plant.ok("applicant", "permit.submitted", {"note": ""})
    for who, role in [("head", "workshop_head"), ("safety", "safety_officer"), ("safety-2", "safety_officer"),
                      ("manager", "production_manager")]:
        plant.ok(who, "permit.approved", {"role": role, "opinion": "同意"}, location=near(1))
    plant.ok("analyst", "gas.analysed", gas())
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS)
    plant.ok("leader", "permit.activated", {"note": ""})
    workflow = plant.services.workflow
    assert workflow.watch_once(datetime.now(UTC) + timedelta(minutes=4)) == 0
    assert workflow.watch_once(datetime.now(UTC) + timedelta(minutes=6)) == 1
    permit = plant.permit()
    assert permit["state"] == "suspended" and permit["alarms"][-1]["reason"] == "gas.monitoring_gap"
