"""Detector readings decided from memory: the watched permits follow the projection, a reading out of limits
on a watched permit still suspends it and raises an alarm, and a reading for any other permit costs the
server no database query at all (counted with an SQLAlchemy listener on the service's engine)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from evidence_api.config import Settings
from evidence_api.main import create_app
from tests.api.permit_support import Plant, gas, hot_work, seed_plant, to_active, to_approved
from tests.api.support import BOTH_DATABASES, Api, bearer, seed
from tests.helpers import TENANT, make_actor


def _detector(plant: Plant, name: str = "lel-1") -> None:
    detector = make_actor(name, kind="device")
    plant.admin_post("/v1/devices", {"id": name, "kind": "detector", "key_id": detector.key_id,
                                     "public_key_pem": detector.signer.public.to_pem(), "area": "unit-3"})
    plant.people[name] = detector


def _reading(plant: Plant, permit: str = "HW-1", **values: Any) -> dict[str, Any]:
    return plant.item("lel-1", "detector.reading", gas(minutes_ago=0, purpose="periodic", clock=plant.clock, **values),
                      permit=permit)


def _post(plant: Plant, *items: dict[str, Any]) -> None:
    resp = plant.api.client.post("/v1/events", json={"events": list(items)}, headers=bearer(plant.api.ingest))
    assert resp.status_code == 201, resp.text


def _watched(plant: Plant) -> list[str]:
    watched: list[str] = plant.services.projector.monitored.watched(TENANT)
    return watched


@contextmanager
def _queries(plant: Plant) -> Iterator[list[str]]:
    """The SQL statements this thread sends through the service's engine inside the block (the service's
    background jobs, on their own threads, are not counted)."""
    engine, me, seen = plant.services.engine, threading.get_ident(), []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _observed(plant: Plant, *items: dict[str, Any]) -> list[str]:
    """The queries of what ``POST /v1/events`` does after its commit for ``items`` (checked and sealed first,
    not logged), called directly."""
    prepared = plant.services.intake.local.prepare(TENANT, {"events": list(items)}).events
    with _queries(plant) as seen:
        plant.services.workflow.observe_logged(TENANT, prepared)
    return seen


_ONE_HOUR = [{"worker": "welder", "operation": "2.1", "hours_per_day": 1}]  # beside a 6-hour permit, within 8 h


@pytest.fixture
def plant(api: Api) -> Plant:
    seeded = seed_plant(api)
    _detector(seeded)
    return seeded


@BOTH_DATABASES
def test_reading_out_of_limits_on_watched_permit_suspends_it(plant: Plant) -> None:
    to_active(plant)
    _post(plant, _reading(plant), _reading(plant, combustible_pct_vol=1.2))
    permit = plant.permit()
    assert permit["state"] == "suspended"
    assert permit["suspensions"][-1]["reason"] == "gas.out_of_limits"
    assert "combustible 1.2 %vol > 0.5 %vol" in permit["alarms"][-1]["detail"]


def test_reading_out_of_limits_decided_in_an_intake_worker_process_suspends(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"intake_workers": 1}))) as client:
        plant = seed_plant(seed(client))
        _detector(plant)
        to_active(plant)
        _post(plant, _reading(plant, toxic_mg_m3={"h2s": 50.0}))
        permit = plant.permit()
        assert permit["state"] == "suspended"
        assert "h2s 50 mg/m³ > 10 mg/m³" in permit["alarms"][-1]["detail"]


@BOTH_DATABASES
def test_reading_for_unknown_or_unwatched_permit_costs_no_query(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-2")  # a draft: not watched
    to_active(plant)
    readings = [_reading(plant, permit=p, combustible_pct_vol=9.0) for p in ("NOPE-1", "NOPE-2", "HW-2")]
    assert _observed(plant, *readings) == []
    # within limits on a watched permit: no permit is loaded either (only the projector's catch-up)
    assert not [s for s in _observed(plant, _reading(plant), _reading(plant)) if "permits" in s]
    assert plant.permit()["state"] == "active"


def test_watched_permits_follow_the_permit_states(plant: Plant) -> None:
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-2")
    assert _watched(plant) == []
    to_approved(plant)
    assert _watched(plant) == ["HW-1"]
    plant.ok("applicant", "permit.cancelled", {"note": ""}, permit="HW-1")
    assert _watched(plant) == []

    to_active(plant, permit="HW-3")
    _post(plant, _reading(plant, permit="HW-3", combustible_pct_vol=2.0))
    assert plant.permit("HW-3")["state"] == "suspended" and _watched(plant) == ["HW-3"]
    _post(plant, _reading(plant, permit="HW-3", toxic_mg_m3={"co": 90.0}))  # still watched: a second alarm
    alarms = plant.permit("HW-3")["alarms"]
    assert len(alarms) == 2 and "co 90 mg/m³ > 30 mg/m³" in alarms[-1]["detail"]

    plant.ok("leader", "permit.completed", {"note": ""}, permit="HW-3")
    assert _watched(plant) == []
    before = plant.permit("HW-3")
    assert _observed(plant, _reading(plant, permit="HW-3", combustible_pct_vol=5.0)) == []
    assert plant.permit("HW-3")["alarms"] == before["alarms"]


def test_rule_change_applies_to_the_next_reading(plant: Plant) -> None:
    to_active(plant)
    _post(plant, _reading(plant, combustible_pct_vol=0.4))  # the default limit is 0.5 %vol at LEL ≥ 4 %
    assert plant.permit()["state"] == "active"
    overrides = plant.services.org.overrides(TENANT) | {"combustible_limit_high_lel_pct_vol": 0.3}
    resp = plant.api.client.put("/v1/settings/rules", json={"overrides": overrides}, headers=bearer(plant.api.admin))
    assert resp.status_code == 200, resp.text
    _post(plant, _reading(plant, combustible_pct_vol=0.4))
    permit = plant.permit()
    assert permit["state"] == "suspended" and "combustible 0.4 %vol > 0.3 %vol" in permit["alarms"][-1]["detail"]


@BOTH_DATABASES
def test_watched_permits_rebuilt_after_restart_and_rebuild(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        api = seed(client)
        plant = seed_plant(api)
        _detector(plant)
        to_active(plant)
        to_approved(plant, hot_work(clock=plant.clock, workers=_ONE_HOUR), permit="HW-2")
        plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-3")

    with TestClient(create_app(settings)) as client:
        plant = dataclasses.replace(plant, api=dataclasses.replace(api, client=client))
        assert _watched(plant) == ["HW-1", "HW-2"]
        assert _observed(plant, _reading(plant, permit="HW-3", combustible_pct_vol=3.0)) == []
        plant.services.projector.rebuild()
        assert _watched(plant) == ["HW-1", "HW-2"]
        _post(plant, _reading(plant, combustible_pct_vol=3.0))
        assert plant.permit()["state"] == "suspended"


@BOTH_DATABASES
def test_projector_passes_over_readings_of_permits_it_does_not_run_without_reading_them(plant: Plant) -> None:
    projector = plant.services.projector
    plant.services.projection_job.close()  # the background catch-up would fold the pages first
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-2")
    projector.catch_up()
    _post(plant, *[_reading(plant, permit=f"NOPE-{n}") for n in range(5)])
    with _queries(plant) as seen:
        assert projector.catch_up() == plant.services.log.tree_size - 1
    assert [s for s in seen if "projection_cursors" in s and s.lstrip().upper().startswith("UPDATE")], "the cursor moved"
    assert not [s for s in seen if "payload_sealed" in s], "no leaf or payload of a page that folds nothing"

    # a page with one event of a permit it runs is read and folded as before
    _post(plant, _reading(plant, permit="NOPE-9"), plant.item("guard-1", "guardian.note", {"note": "到场"}, permit="HW-2"))
    with _queries(plant) as seen:
        projector.catch_up()
    assert [s for s in seen if "payload_sealed" in s]
    assert plant.permit("HW-2")["version"] == 2
    assert projector.status().to_json()["lag"] == 0 and projector.status().failures == []
