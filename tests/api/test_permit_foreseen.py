"""A workflow action's fold is worked out before it is logged and written by the log writer if it still holds
(``services.foreseen``); otherwise the projector folds the log, the reference. Whatever the walk — actions
in and out of order (refused), alarms, detector readings of the permit arriving through ``POST /v1/events``
in between (which move the projection's cursor and the permit's version under the workflow) — the
projection is the one a rebuild from leaf 0 gives, and every answer's document is the stored one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_api.services import workflow as workflow_module
from tests.api.permit_support import APPROVERS, CHECKS, Plant, gas, hot_work, near, seed_plant
from tests.api.support import BOTH_DATABASES, Api, bearer
from tests.api.test_permit_projection import _snapshot
from tests.helpers import TENANT

Step = Callable[[Plant, str], None]


def _act(who: str, kind: str, payload: Callable[[Plant], Any], location: dict[str, float] | None = None) -> Step:
    def step(plant: Plant, permit: str) -> None:
        resp = plant.act(who, kind, payload(plant), permit=permit, location=location)
        assert resp.status_code in (200, 403, 409, 422), resp.text
        if resp.status_code == 200:
            assert resp.json()["permit"] == plant.permit(permit), "the answer is the stored document"
    return step


def _approvals(plant: Plant, permit: str) -> None:
    for step in plant.permit(permit)["route"]:
        for role in step:
            _act(APPROVERS[role], "permit.approved", lambda _, role=role: {"role": role, "opinion": "同意"}, near(2))(plant, permit)


def _reading(high: bool) -> Step:
    def step(plant: Plant, permit: str) -> None:
        values = {"combustible_pct_vol": 0.8} if high else {}
        item = plant.item("lel-1", "detector.reading", gas(minutes_ago=0, purpose="periodic", clock=plant.clock,
                                                           **values), permit=permit)
        resp = plant.api.client.post("/v1/events", json={"events": [item]}, headers=bearer(plant.api.ingest))
        assert resp.status_code == 201, resp.text
    return step


NOTE = {"note": ""}
WALK: list[Step] = [
    _act("applicant", "permit.submitted", lambda _: NOTE), _approvals,
    _act("analyst", "gas.analysed", lambda p: gas(clock=p.clock)),
    _act("guard-1", "guardian.checkin", lambda p: {"qr_token": p.qr}, near(10)),
    _act("guard-1", "guardian.checks_confirmed", lambda _: CHECKS),
    _act("leader", "permit.activated", lambda _: NOTE),
    _act("analyst", "gas.analysed", lambda p: gas(minutes_ago=0, purpose="periodic", clock=p.clock,
                                                  combustible_pct_vol=0.8)),
    _act("analyst", "gas.analysed", lambda p: gas(minutes_ago=0, purpose="retest", clock=p.clock)),
    _act("leader", "permit.resumed", lambda _: {"note": "复测合格"}),
    _act("leader", "permit.completed", lambda _: NOTE),
    _act("head", "permit.closed", lambda _: {"result": "accepted", "remarks": "现场已清理"}),
]
EXTRA: list[Step] = [*WALK, _reading(False), _reading(True), _act("applicant", "permit.cancelled", lambda _: NOTE),
                     _act("guard-1", "guardian.heartbeat", lambda _: {}, near(5))]


@pytest.fixture
def plant(api: Api) -> Plant:
    seeded = seed_plant(api)
    seeded.add_detector()
    return seeded


walks = st.lists(st.tuples(st.booleans(), st.one_of(st.none(), st.integers(0, len(EXTRA) - 1))),
                 min_size=len(WALK), max_size=len(WALK))
"""Per step of the walk: whether to take it, and a step to take before it (any action, or a reading)."""


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(walk=walks)
def test_any_walk_projects_what_a_rebuild_from_the_log_gives(plant: Plant, walk: list[tuple[bool, int | None]]) -> None:
    permit = f"HW-{plant.services.log.tree_size}"  # a new permit per example, in the one plant
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock,
                                                    workers=[{"worker": "welder", "operation": "2.1",
                                                              "hours_per_day": 1}]), permit=permit)
    for (take, extra), step in zip(walk, WALK, strict=True):
        if extra is not None:
            EXTRA[extra](plant, permit)
        if take:
            step(plant, permit)
    plant.services.projector.catch_up()  # readings of a permit no rule watches are folded in the background
    live = _snapshot(plant)
    assert plant.services.projector.rebuild() == plant.services.log.tree_size - 1
    assert _snapshot(plant) == live


@BOTH_DATABASES
def test_walk_actions_are_written_as_foreseen_and_equal_the_reference_fold(api: Api,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    plant = seed_plant(api)
    projector = plant.services.projector
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-1")
    for step in WALK:
        step(plant, "HW-1")
    assert plant.permit()["state"] == "closed"
    taken = projector.foreseen_written
    actions = [e for e in plant.services.log.permit_events(TENANT, "HW-1") if e.key_id != plant.services.recorder.service_key_id]
    assert taken == len(actions) == len(WALK) + 2, "every action was written as foreseen (the draft, 2 approvals)"

    # the same walk with nothing foreseen: every action folded from the log by the reference fold
    monkeypatch.setattr("evidence_api.services.workflow.foresee", lambda *args: None)
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-2")
    for step in WALK:
        step(plant, "HW-2")
    assert plant.permit("HW-2")["state"] == "closed" and projector.foreseen_written == taken
    live = _snapshot(plant)
    assert projector.rebuild() == api.tree_size - 1
    assert _snapshot(plant) == live


def test_action_on_a_permit_that_moved_meanwhile_is_folded_from_the_log(plant: Plant,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    projector, recorder = plant.services.projector, plant.services.recorder
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock), permit="HW-1")
    written = projector.foreseen_written
    real = workflow_module.foresee

    def stale(tenant: str, permit_id: str, before: Any, *args: Any) -> Any:
        # an observation of the permit logged after the decision, not yet folded: the cursor is behind it
        recorder.append(recorder.prepare(tenant, [plant.item("guard-1", "guardian.note", {"note": "到场"})]))
        return real(tenant, permit_id, before, *args)

    monkeypatch.setattr("evidence_api.services.workflow.foresee", stale)
    submitted = plant.ok("applicant", "permit.submitted", NOTE)["permit"]
    assert projector.foreseen_written == written, "the cursor was behind: folded from the log"
    assert submitted["state"] == "submitted" and submitted["version"] == 3  # draft, note, submission
    assert submitted == plant.permit()

    def moved(tenant: str, permit_id: str, before: Any, *args: Any) -> Any:
        # foreseen from another version than the stored one (as if an observation had been folded meanwhile)
        return real(tenant, permit_id, before.model_copy(update={"version": before.version - 1}), *args)

    monkeypatch.setattr("evidence_api.services.workflow.foresee", moved)
    approved = plant.ok("head", "permit.approved", {"role": "workshop_head", "opinion": "同意"}, location=near(2))
    assert projector.foreseen_written == written, "the stored version differed: folded from the log"
    assert approved["permit"]["version"] == 4 and approved["permit"] == plant.permit()
    live = _snapshot(plant)
    projector.rebuild()
    assert _snapshot(plant) == live
