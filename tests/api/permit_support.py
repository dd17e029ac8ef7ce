"""A plant for permit tests: an area with a QR code, people with keys and roles, workers with certificates,
and a helper that signs and sends permit actions the way the phone app does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from evidence_api.services.rules import DEFAULTS
from ingest.signing import Actor, new_item, sign_item
from tests.api.support import Api, bearer
from tests.helpers import TENANT, make_actor

POINT = (31.2000, 121.5000)
"""The work point of the default permit."""

PEOPLE = {
    "applicant": ["applicant"], "leader": ["team_leader"], "head": ["workshop_head"], "safety": ["safety_officer"],
    "manager": ["production_manager"], "guard-1": ["guardian"], "guard-2": ["guardian"], "analyst": ["gas_analyst"],
    "safety-2": ["safety_officer", "workshop_head"],
}


APPROVERS = {"workshop_head": "head", "safety_officer": "safety", "production_manager": "manager"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


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

    def admin_post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        resp: httpx.Response = self.api.client.post(path, json=body, headers=bearer(self.api.admin))
        assert resp.status_code == 201, resp.text
        return resp

    def item(self, who: str, kind: str, payload: Any, *, permit: str = "HW-1",
             location: dict[str, float] | None = None) -> dict[str, Any]:
        actor = self.people[who]
        item = new_item(actor, tenant=TENANT, kind=kind, payload=payload, occurred_at=iso(datetime.now(UTC)),
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
        body: dict[str, Any] = self.api.client.get(f"/v1/permits/{permit}", headers=bearer(self.api.reader)).json()
        return body

    def add_worker(self, worker: str, *certificates: tuple[str, date, date]) -> None:
        """A worker with certificates (sub-type, expires_on, review_due_on), written as registered ones are."""
        self.admin_post("/v1/workers", {"id": worker, "name": worker, "team": "维修一班"})
        for n, (sub_type, expires, review) in enumerate(certificates):
            self.admin_post("/v1/certificates", {
                "id": f"{worker}-c{n}", "worker": worker, "category": sub_type.split(".")[0], "sub_type": sub_type,
                "number": f"T{worker}{n}", "holder_name": worker,
                "issued_on": (expires - timedelta(days=6 * 365)).isoformat(), "expires_on": expires.isoformat(),
                "review_due_on": review.isoformat(), "authority": "上海市应急管理局"})


def seed_plant(api: Api) -> Plant:
    """Site, area (QR), every role, and a welder, an HV and an LV electrician with valid certificates."""
    plant = Plant(api, qr="")
    # the tests run at any hour: the night/rest-day level upgrade is switched off here and pinned with fixed
    # windows in test_hot_work_upgrade_* instead
    resp = api.client.put("/v1/settings/rules", headers=bearer(api.admin),
                          json={"overrides": {"hot_work_upgrade": {"night_from_hour": None, "rest_days": []}}})
    assert resp.status_code == 200, resp.text
    plant.admin_post("/v1/sites", {"id": "plant-1", "name": "一厂"})
    fence = {"circle": {"lat": POINT[0], "lon": POINT[1], "radius_m": 200}}
    plant.qr = plant.admin_post("/v1/areas", {"id": "unit-3", "site": "plant-1", "name": "三号装置",
                                              "geofence": fence}).json()["qr_token"]
    wide = {"circle": {"lat": POINT[0], "lon": POINT[1], "radius_m": 2000}}
    plant.admin_post("/v1/areas", {"id": "unit-4", "site": "plant-1", "name": "四号装置", "geofence": wide})
    for user, roles in PEOPLE.items():
        actor = plant.people[user] = make_actor(user)
        plant.admin_post("/v1/users", {"id": user, "name": user, "roles": roles, "key_id": actor.key_id,
                                       "public_key_pem": actor.signer.public.to_pem()})
    today = date.today()
    far, review = today + timedelta(days=900), today + timedelta(days=400)
    plant.add_worker("welder", ("2.1", far, review))
    plant.add_worker("hv-electrician", ("1.1", far, review))
    plant.add_worker("lv-electrician", ("1.2", far, review))
    return plant


def hot_work(**overrides: Any) -> dict[str, Any]:
    """The content of a 一级 hot-work permit at the work point, now until 7 h from now."""
    template = DEFAULTS["work_types"]["hot_work"]
    now = datetime.now(UTC)
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


def gas(*, minutes_ago: float = 2, purpose: str = "pre_start", **readings: Any) -> dict[str, Any]:
    """A gas-test payload; passing readings unless overridden."""
    values = {"combustible_pct_vol": 0.1, "o2_pct_vol": 20.8} | readings
    return {"sampled_at": iso(datetime.now(UTC) - timedelta(minutes=minutes_ago)), "point": "动火点 1 m",
            "purpose": purpose, "readings": values}


CHECKS = {"ventilation": True, "isolation": True, "detection": True, "protection": True, "communication": True}


def to_approved(plant: Plant, content: dict[str, Any] | None = None, permit: str = "HW-1") -> None:
    """Draft, submit and approve a permit along its route (workshop head, then safety officer ...)."""
    plant.ok("applicant", "permit.drafted", content or hot_work(), permit=permit)
    route = plant.ok("applicant", "permit.submitted", {"note": ""}, permit=permit)["permit"]["route"]
    for step in route:
        for role in step:
            plant.ok(APPROVERS[role], "permit.approved", {"role": role, "opinion": "同意"}, permit=permit,
                     location=near(2))


def to_active(plant: Plant, content: dict[str, Any] | None = None, permit: str = "HW-1") -> None:
    """``to_approved``, then a passing gas test, guardian check-in and checks, and the start."""
    to_approved(plant, content, permit)
    plant.ok("analyst", "gas.analysed", gas(), permit=permit)
    plant.ok("guard-1", "guardian.checkin", {"qr_token": plant.qr}, permit=permit, location=near(10))
    plant.ok("guard-1", "guardian.checks_confirmed", CHECKS, permit=permit)
    plant.ok("leader", "permit.activated", {"note": ""}, permit=permit)
