"""The organisation API: places, people, devices, rules; bad input is refused and changes nothing."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from evidence_api import db
from evidence_api.config import Settings
from evidence_api.main import create_app
from tests.api.permit_support import seed_plant, to_active
from tests.api.support import Api, assert_problem, bearer, seed
from tests.helpers import TENANT, make_actor

FENCE = {"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 150}}


def _post(api: Api, path: str, body: Mapping[str, Any]) -> httpx.Response:
    resp: httpx.Response = api.client.post(path, json=body, headers=bearer(api.admin))
    return resp


def _site_and_area(api: Api) -> str:
    assert _post(api, "/v1/sites", {"id": "plant-1", "name": "一厂"}).status_code == 201
    resp = _post(api, "/v1/areas", {"id": "unit-3", "site": "plant-1", "name": "三号装置", "geofence": FENCE})
    assert resp.status_code == 201
    token: str = resp.json()["qr_token"]
    return token


def test_area_created_with_qr_token_listed_without_hash(api: Api) -> None:
    token = _site_and_area(api)
    assert len(token) >= 24
    areas = api.client.get("/v1/areas", headers=bearer(api.reader)).json()
    assert areas == [{"tenant": "acme-chem", "id": "unit-3", "site": "plant-1", "name": "三号装置", "geofence": FENCE,
                      "created_at": areas[0]["created_at"]}]


def test_area_bad_geofence_refused(api: Api) -> None:
    _post(api, "/v1/sites", {"id": "plant-1", "name": "一厂"})
    resp = _post(api, "/v1/areas", {"id": "a", "site": "plant-1", "name": "x",
                                    "geofence": {"polygon": [[31.2, 121.5], [31.3, 121.5]]}})
    assert_problem(resp, 422, "malformed-input", "at least 3 points")
    resp = _post(api, "/v1/areas", {"id": "a", "site": "plant-1", "name": "x",
                                    "geofence": {"circle": {"lat": 91, "lon": 0, "radius_m": 5}}})
    assert_problem(resp, 422, "malformed-input", "off the globe")
    assert api.client.get("/v1/areas", headers=bearer(api.reader)).json() == []


def test_area_unknown_site_not_found(api: Api) -> None:
    resp = _post(api, "/v1/areas", {"id": "a", "site": "nowhere", "name": "x", "geofence": FENCE})
    assert_problem(resp, 404, "not-found", "site 'nowhere' does not exist")


def test_user_registered_with_key_and_roles(api: Api) -> None:
    actor = make_actor("li.si")
    resp = _post(api, "/v1/users", {"id": "li.si", "name": "李四", "roles": ["guardian", "worker"],
                                    "key_id": actor.key_id, "public_key_pem": actor.signer.public.to_pem()})
    assert resp.status_code == 201
    users = api.client.get("/v1/users", headers=bearer(api.reader)).json()
    assert [(u["id"], u["roles"]) for u in users] == [("li.si", "guardian,worker")]


def test_user_unknown_role_or_bad_key_refused_nothing_stored(api: Api) -> None:
    actor = make_actor("li.si")
    body = {"id": "li.si", "name": "李四", "roles": ["boss"], "key_id": actor.key_id,
            "public_key_pem": actor.signer.public.to_pem()}
    assert_problem(_post(api, "/v1/users", body), 422, "malformed-input", "unknown \\['boss'\\]")
    body |= {"roles": ["guardian"], "public_key_pem": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}
    assert_problem(_post(api, "/v1/users", body), 422, "bad-key", "")
    assert api.client.get("/v1/users", headers=bearer(api.reader)).json() == []


def test_user_taken_key_id_rolls_back_user(api: Api) -> None:
    body = {"id": "dup", "name": "D", "roles": ["guardian"], "key_id": api.guardian.key_id,
            "public_key_pem": api.guardian.signer.public.to_pem()}
    assert_problem(_post(api, "/v1/users", body), 409, "conflict", "already registered")
    assert api.client.get("/v1/users", headers=bearer(api.reader)).json() == []


def test_worker_violation_recorded_and_shown(api: Api) -> None:
    assert _post(api, "/v1/workers", {"id": "w1", "name": "王五", "team": "维修一班"}).status_code == 201
    resp = _post(api, "/v1/workers/w1/violations", {"id": "v1", "occurred_on": "2026-11-20", "description": "未系安全带"})
    assert resp.status_code == 201
    worker = api.client.get("/v1/workers/w1", headers=bearer(api.reader)).json()
    assert [v["id"] for v in worker["violations"]] == ["v1"]
    resp = _post(api, "/v1/workers/ghost/violations", {"id": "v2", "occurred_on": "2026-11-20", "description": "x"})
    assert_problem(resp, 404, "not-found", "worker 'ghost' does not exist")


def test_rules_override_validated_and_applied(api: Api) -> None:
    resp = api.client.put("/v1/settings/rules", json={"overrides": {"approver_max_distance_m": -1}},
                          headers=bearer(api.admin))
    assert_problem(resp, 422, "malformed-input", "approver_max_distance_m")
    resp = api.client.put("/v1/settings/rules", json={"overrides": {"approver_max_distance_m": 8}},
                          headers=bearer(api.admin))
    assert resp.status_code == 200
    rules = api.client.get("/v1/settings/rules", headers=bearer(api.reader)).json()
    assert rules["rules"]["approver_max_distance_m"] == 8
    assert rules["rules"]["work_types"]["hot_work"]["levels"]["1"]["max_hours"] == 8
    resp = api.client.put("/v1/settings/rules", json={"overrides": {}}, headers=bearer(api.reader))
    assert_problem(resp, 403, "forbidden", "role 'reader'")


# -- rule overrides: non-finite numbers, and a stored override that no longer validates (issue 8, defect 1) --
def _stored_rules(api: Api) -> Any:
    with api.client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        return conn.execute(select(db.tenant_settings.c.rules)).scalars().all()


@pytest.mark.parametrize("number", [b"1e400", b"-1e400", b"Infinity", b"NaN", b"1" + b"0" * 400])
def test_rules_override_non_finite_refused_nothing_changed(api: Api, number: bytes) -> None:
    resp = api.client.put("/v1/settings/rules", json={"overrides": {"approver_max_distance_m": 8}},
                          headers=bearer(api.admin))
    assert resp.status_code == 200, resp.text
    stored = _stored_rules(api)

    resp = api.client.put("/v1/settings/rules", content=b'{"overrides": {"approver_max_distance_m": ' + number + b"}}",
                          headers=bearer(api.admin) | {"Content-Type": "application/json"})

    assert_problem(resp, 422, "malformed-input", "body is not strict JSON: (number|integer|Infinity|NaN)")
    assert _stored_rules(api) == stored == ['{"approver_max_distance_m":8}']
    rules = api.client.get("/v1/settings/rules", headers=bearer(api.reader)).json()
    assert rules["overrides"] == {"approver_max_distance_m": 8} and rules["rules"]["approver_max_distance_m"] == 8


def test_rules_stored_invalid_override_falls_back_and_watchdog_still_suspends(
        settings: Settings, caplog: pytest.LogCaptureFixture) -> None:
    with TestClient(create_app(settings)) as client:
        plant = seed_plant(seed(client))
        to_active(plant)
        # what an older version stored for 1e400, beside a valid override that must survive the fallback
        bad = {**plant.services.org.overrides(TENANT), "approver_max_distance_m": None, "guardian_heartbeat_timeout_s": 60}
        with plant.services.engine.begin() as conn:
            conn.execute(update(db.tenant_settings).values(rules=json.dumps(bad)))
        reader = plant.api.reader
    with caplog.at_level(logging.ERROR), TestClient(create_app(settings)) as client:  # a restart
        resp = client.get("/v1/settings/rules", headers=bearer(reader))
        assert resp.status_code == 200, resp.text
        assert resp.json()["rules"]["approver_max_distance_m"] == 5.0  # the standard's default
        assert resp.json()["rules"]["guardian_heartbeat_timeout_s"] == 60  # the valid override kept
        assert "stored rule overrides ['approver_max_distance_m'] are invalid" in caplog.text
        services = client.app.state.services  # type: ignore[attr-defined]
        assert services.workflow.watch_once(datetime.now(UTC) + timedelta(minutes=3)) == 1
        permit = client.get("/v1/permits/HW-1", headers=bearer(reader)).json()
        assert permit["state"] == "suspended"
