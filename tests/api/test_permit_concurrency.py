"""Permit actions at the same time: racing approvals of one step land once, the same item sent at once is
logged once, and many permits acted on while detector readings arrive end with projections that equal the
log (every answer's document is the stored one, a rebuild from leaf 0 gives the same rows). The projector
folds a workflow action in the log writer's transaction, or from its cursor when it is far behind: both
are covered."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import select

from evidence_api import db
from tests.api.permit_support import CHECKS, Plant, gas, hot_work, near, seed_plant
from tests.api.support import BOTH_DATABASES, Api, bearer
from tests.helpers import TENANT

_APPROVAL = {"role": "workshop_head", "opinion": "同意"}


def _at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run ``calls`` on threads released together; their responses, in order."""
    barrier, answers = threading.Barrier(len(calls)), [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        answers[i] = calls[i]()  # type: ignore[call-overload]

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [a for a in answers if a is not None]


def _timeline(plant: Plant, permit: str) -> list[dict[str, Any]]:
    resp = plant.api.client.get(f"/v1/permits/{permit}/timeline", headers=bearer(plant.api.reader))
    assert resp.status_code == 200, resp.text
    entries: list[dict[str, Any]] = resp.json()
    return entries


def _submitted(plant: Plant, permit: str = "HW-1") -> None:
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit=permit)
    plant.ok("applicant", "permit.submitted", {"note": ""}, permit=permit)


@BOTH_DATABASES
def test_racing_approvals_of_one_step_land_once(api: Api) -> None:
    plant = seed_plant(api)
    _submitted(plant)
    # two people who may both sign the workshop head's step, twice each, at once: one signature takes the step
    items = [plant.item(who, "permit.approved", _APPROVAL, location=near(2)) for who in ("head", "safety-2") * 2]
    answers = _at_once([lambda item=item: plant.send(item) for item in items])

    won = [a for a in answers if a.status_code == 200]
    assert len(won) == 1, [a.text for a in answers]
    assert sorted(a.status_code for a in answers if a.status_code != 200) == [422, 422, 422]
    permit = plant.permit()
    assert [a["role"] for a in permit["approvals"]] == ["workshop_head"]
    assert permit["state"] == "approving"
    logged = [e for e in _timeline(plant, "HW-1") if e["kind"] == "permit.approved"]
    assert [e["event_id"] for e in logged] == [won[0].json()["receipts"][0]["event_id"]]
    assert permit["version"] == len(_timeline(plant, "HW-1"))


def test_the_same_action_sent_at_once_is_logged_once(api: Api) -> None:
    plant = seed_plant(api)
    _submitted(plant)
    item = plant.item("head", "permit.approved", _APPROVAL, location=near(2))
    answers = _at_once([lambda: plant.send(item)] * 3)

    assert [a.status_code for a in answers] == [200, 200, 200], [a.text for a in answers]
    receipts = [a.json()["receipts"][0] for a in answers]
    assert len({(r["leaf_index"], r["leaf_hash"]) for r in receipts}) == 1
    assert sorted(r["duplicate"] for r in receipts) == [False, True, True]
    assert sum(e["kind"] == "permit.approved" for e in _timeline(plant, "HW-1")) == 1
    assert plant.permit()["version"] == 3


def _snapshot(plant: Plant) -> dict[str, list[str]]:
    with plant.services.engine.connect() as conn:
        return {name: sorted(repr(dict(r._mapping)) for r in conn.execute(select(table)))
                for name, table in (("permits", db.permits), ("permit_workers", db.permit_workers))}


@BOTH_DATABASES
def test_actions_on_many_permits_with_readings_arriving_keep_projection_and_log_together(api: Api) -> None:
    plant = seed_plant(api)
    plant.add_detector()
    one_hour = [{"worker": "welder", "operation": "2.1", "hours_per_day": 1}]
    permits = [f"HW-{n}" for n in range(4)]
    answers: dict[str, list[dict[str, Any]]] = {p: [] for p in permits}

    def walk(permit: str) -> httpx.Response:
        steps = [("applicant", "permit.drafted", hot_work(clock=plant.clock, workers=one_hour), None),
                 ("applicant", "permit.submitted", {"note": ""}, None),
                 ("head", "permit.approved", _APPROVAL, near(2)),
                 ("safety", "permit.approved", {"role": "safety_officer", "opinion": "同意"}, near(2)),
                 ("analyst", "gas.analysed", gas(clock=plant.clock), None),
                 ("guard-1", "guardian.checkin", {"qr_token": plant.qr}, near(10)),
                 ("guard-1", "guardian.checks_confirmed", CHECKS, None),
                 ("leader", "permit.activated", {"note": ""}, None)]
        for who, kind, payload, location in steps:
            resp = plant.act(who, kind, payload, permit=permit, location=location)
            if resp.status_code not in (200, 201):
                return resp
            answers[permit].append(resp.json()["permit"])
        return resp

    def readings() -> httpx.Response:
        for n in range(12):
            items = [plant.item("lel-1", "detector.reading", gas(minutes_ago=0, purpose="periodic", clock=plant.clock),
                                permit=permits[(n + k) % len(permits)]) for k in range(2)]
            resp = api.post_events({"events": items})
            if resp.status_code != 201:
                return resp
        return resp

    results = _at_once([*(lambda p=p: walk(p) for p in permits), readings])
    assert [r.status_code for r in results] == [200] * len(permits) + [201], [r.text for r in results]

    for permit in permits:
        timeline = _timeline(plant, permit)
        drafted = next(i for i, e in enumerate(timeline) if e["kind"] == "permit.drafted")
        timeline = timeline[drafted:]  # a reading logged before its permit was drafted is not the permit's
        stored = plant.permit(permit)
        assert stored["state"] == "active" and stored["version"] == len(timeline)
        assert [h["event_id"] for h in stored["history"]] == [e["event_id"] for e in timeline
                                                               if e["kind"].startswith("permit.")]
        versions = [a["version"] for a in answers[permit]]
        assert versions == sorted(set(versions)), "each answer shows its own action folded, in order"
    status = plant.services.projector.status()
    assert (status.cursor, status.failures) == (api.tree_size - 1, [])
    live = _snapshot(plant)
    assert plant.services.projector.rebuild() == api.tree_size - 1
    assert _snapshot(plant) == live


def test_an_action_behind_a_far_cursor_is_folded_from_the_cursor(api: Api) -> None:
    plant = seed_plant(api)
    _submitted(plant)
    services = plant.services
    services.projection_job.close()  # nothing folds in the background
    for _ in range(3):  # logged past the workflow: observations of HW-1, not folded yet
        item = plant.item("head", "guardian.note", {"note": "巡检"})
        services.recorder.append(services.recorder.prepare(TENANT, [item]))
    services.projector._page = 2  # the three are more than a page behind: the writer leaves them to the cursor
    answer = plant.ok("head", "permit.approved", _APPROVAL, location=near(2))

    assert answer["permit"]["state"] == "approving"
    assert answer["permit"] == plant.permit()
    assert answer["permit"]["version"] == len(_timeline(plant, "HW-1")) == 6
    assert services.projector.cursor() == api.tree_size - 1
