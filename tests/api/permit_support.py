"""A plant for permit tests: an area with a QR code, people with keys and roles, workers with certificates,
and a helper that signs and sends permit actions the way the phone app does.

The plant is registered by ``ingest.seed.seed_plant`` (the same code the demo and the benchmarks use); the
times come from the service's own clock (``Services.clock``), so a test that injects a ``ManualClock`` into
the service moves the plant's signatures with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import httpx

from evidence_api.services.rules import DEFAULTS
from ingest.client import ApiClient
from ingest.seed import AreaPlan, CertificatePlan, PlantPlan, WorkerPlan, register_worker
from ingest.seed import seed_plant as register_plant
from ingest.signing import Actor, new_item, sign_item
from ledger.clock import Clock, rfc3339
from tests.api.support import Api, bearer
from tests.helpers import TENANT, make_actor

_SYSTEM_CLOCK = Clock()

POINT = (31.2000, 121.5000)
"""The work point of the default permit."""

PEOPLE = {
    "applicant": ["applicant"], "leader": ["team_leader"], "head": ["workshop_head"], "safety": ["safety_officer"],
    "manager": ["production_manager"], "guard-1": ["guardian"], "guard-2": ["guardian"], "analyst": ["gas_analyst"],
    "safety-2": ["safety_officer", "workshop_head"],
}


NO_PHOTOS = {"permit.activated": [], "permit.closed": []}
"""``photo_steps`` overrides that switch the default on-site photo rule off."""

APPROVERS = {"workshop_head": "head", "safety_officer": "safety", "production_manager": "manager"}


def iso(moment: datetime) -> str:
    """``moment`` in the service's RFC 3339 form."""
    return rfc3339(moment)


def near(metres_north: float = 0.0, accuracy_m: float = 3.0) -> dict[str, float]:
    """A location ``metres_north`` of the work point (1° latitude ≈ 111,195 m)."""
    return {"lat": POINT[0] + metres_north / 111_195.0, "lon": POINT[1], "accuracy_m": accuracy_m}


@dataclass
class Plant:
    """A seeded tenant: people (user id → Actor), the area's QR token, and the API."""

    api: Api
    qr: str
    people: dict[str, Actor] = field(default_factory=dict)

    @property
    def services(self) -> Any:
        return self.api.client.app.state.services  # type: ignore[attr-defined]

    @property
    def clock(self) -> Clock:
        """The service's clock (the real one unless the test injected a ``ManualClock``)."""
        clock: Clock = self.services.clock
        return clock

    @property
    def admin(self) -> ApiClient:
        """The typed client as the tenant's admin."""
        return self.api.typed("admin")

    def admin_post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        resp: httpx.Response = self.api.client.post(path, json=body, headers=bearer(self.api.admin))
        assert resp.status_code == 201, resp.text
        return resp

    def item(self, who: str, kind: str, payload: Any, *, permit: str = "HW-1",
             location: dict[str, float] | None = None) -> dict[str, Any]:
        actor = self.people[who]
        item = new_item(actor, tenant=TENANT, kind=kind, payload=payload, occurred_at=self.clock.stamp(),
                        subject={"permit": permit}, location=location)
        return sign_item(actor, item)

    def send(self, item: dict[str, Any], *, permit: str = "HW-1") -> httpx.Response:
        path = "/v1/permits" if item["event"]["kind"] == "permit.drafted" else f"/v1/permits/{permit}/actions"
        resp: httpx.Response = self.api.client.post(path, json=item, headers=bearer(self.api.ingest))
        return resp

    def act(self, who: str, kind: str, payload: Any = None, *, permit: str = "HW-1",
            location: dict[str, float] | None = None) -> httpx.Response:
        """Sign ``kind`` as ``who`` and send it; returns the response."""
        return self.send(self.item(who, kind, {} if payload is None else payload, permit=permit, location=location),
                         permit=permit)

    def ok(self, who: str, kind: str, payload: Any = None, **kwargs: Any) -> dict[str, Any]:
        """``act`` that must succeed; returns the body."""
        resp = self.act(who, kind, payload, **kwargs)
        assert resp.status_code in (200, 201), resp.text
        body: dict[str, Any] = resp.json()
        return body

    def permit(self, permit: str = "HW-1") -> dict[str, Any]:
        """The permit's current document, read as the tenant's reader."""
        return dict(self.api.typed("reader").permit(permit).document)

    def add_detector(self, device: str = "lel-1", area: str = "unit-3") -> None:
        """Register a gas detector of ``area`` (as an admin) whose key signs as ``device`` in ``people``."""
        detector = make_actor(device, kind="device")
        self.admin_post("/v1/devices", {"id": device, "kind": "detector", "key_id": detector.key_id,
                                        "public_key_pem": detector.signer.public.to_pem(), "area": area})
        self.people[device] = detector

    def add_worker(self, worker: str, *certificates: tuple[str, date, date]) -> None:
        """A worker with certificates (sub-type, expires_on, review_due_on), written as registered ones are."""
        register_worker(self.admin, _worker(worker, *certificates))


def _worker(worker: str, *certificates: tuple[str, date, date]) -> WorkerPlan:
    return WorkerPlan(worker, worker, [CertificatePlan(sub_type, issued_on=expires - timedelta(days=6 * 365),
                                                       expires_on=expires, review_due_on=review)
                                       for sub_type, expires, review in certificates])


def seed_plant(api: Api) -> Plant:
    """Site, area (QR), every role, and a welder, an HV and an LV electrician with valid certificates."""
    today = api.client.app.state.services.clock.today()  # type: ignore[attr-defined]
    far, review = today + timedelta(days=900), today + timedelta(days=400)
    plan = PlantPlan(
        "plant-1", "一厂", people=PEOPLE,
        areas=[AreaPlan("unit-3", "三号装置", *POINT, radius_m=200), AreaPlan("unit-4", "四号装置", *POINT, radius_m=2000)],
        workers=[_worker(w, (sub_type, far, review))
                 for w, sub_type in (("welder", "2.1"), ("hv-electrician", "1.1"), ("lv-electrician", "1.2"))],
        # the tests run at any hour: the night/rest-day level upgrade is switched off here and pinned with
        # fixed windows in test_hot_work_upgrade_* instead; the on-site photo rule is off here and tested with its
        # defaults in tests/api/test_media_photos.py
        overrides={"hot_work_upgrade": {"night_from_hour": None, "rest_days": []}, "photo_steps": NO_PHOTOS})
    seeded = register_plant(api.typed("admin"), TENANT, plan, make_actor=make_actor)
    return Plant(api, qr=seeded.qr["unit-3"], people=dict(seeded.people))


def hot_work(*, clock: Clock = _SYSTEM_CLOCK, **overrides: Any) -> dict[str, Any]:
    """The content of a 一级 hot-work permit at the work point, now (by ``clock``) until 7 h from now."""
    template = DEFAULTS["work_types"]["hot_work"]
    now = clock.now()
    content = {
        "type": "hot_work", "level": "1", "area": "unit-3", "location": {"lat": POINT[0], "lon": POINT[1]},
        "starts_at": iso(now - timedelta(minutes=5)), "ends_at": iso(now + timedelta(hours=7)),
        "content": "更换 E-301 出口法兰，焊接", "work_unit": "维修车间", "team_leader": "leader", "guardian": "guard-1",
        "workers": [{"worker": "welder", "operation": "2.1", "hours_per_day": 6}],
        "risks": list(template["risks"]),
        "measures": [{"measure": m, "applies": True, "confirmer": "leader"} for m in template["measures"]],
        "emergency_plan": "发生着火立即停止作业，使用灭火器扑救并报告中控室", "combustible_lel_pct": 5.0,
    }
    return content | overrides


def confined_space(**overrides: Any) -> dict[str, Any]:
    """The content of a confined-space entry at the work point."""
    template = DEFAULTS["work_types"]["confined_space"]
    base = hot_work(type="confined_space", level=None, workers=[{"worker": "welder", "hours_per_day": 2}],
                    risks=list(template["risks"]), jsa="1. 隔离 2. 通风 3. 检测 4. 进入",
                    measures=[{"measure": m, "applies": True, "confirmer": "leader"} for m in template["measures"]])
    return base | overrides


def gas(*, minutes_ago: float = 2, purpose: str = "pre_start", clock: Clock = _SYSTEM_CLOCK,
        **readings: Any) -> dict[str, Any]:
    """A gas-test payload sampled ``minutes_ago`` (by ``clock``); passing readings unless overridden."""
    values = {"combustible_pct_vol": 0.1, "o2_pct_vol": 20.8} | readings
    return {"sampled_at": iso(clock.now() - timedelta(minutes=minutes_ago)), "point": "动火点 1 m",
            "purpose": purpose, "readings": values}


CHECKS = {"ventilation": True, "isolation": True, "detection": True, "protection": True, "communication": True}


def to_approved(plant: Plant, content: dict[str, Any] | None = None, permit: str = "HW-1") -> None:
    """Draft, submit and approve a permit along its route (workshop head, then safety officer ...)."""
    plant.ok("applicant", "permit.drafted", content or hot_work(clock=plant.clock), permit=permit)
    route = plant.ok("applicant", "permit.submitted", {"note": ""}, permit=permit)["permit"]["route"]
    for step in route:
        for role in step:
            plant.ok(APPROVERS[role], "permit.approved", {"role": role, "opinion": "同意"}, permit=permit,
                     location=near(2))


def to_active(plant: Plant, content: dict[str, Any] | None = None, permit: str = "HW-1") -> None:
    """``to_approved``, then a passing gas test, guardian check-in and checks, and the start."""
    to_approved(plant, content, permit)
    plant.ok("analyst", "gas.analysed", gas(clock=plant.clock), permit=permit)
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, permit=permit, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS, permit=permit)
    plant.ok("leader", "permit.activated", {"note": ""}, permit=permit)
