"""The facts a permit rule reads (``permit_facts.load_facts``: statements built once, users, workers and areas
from ``Organisation``'s caches) are exactly those the plain reference reads (``reference_load_facts``), or the
same refusal, on a plant that keeps growing between the two: people, workers, areas and violations registered
after an earlier lookup missed them, other live permits holding hours and conflicting nearby."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_api.services.errors import Conflict, NotFound, ServiceError
from evidence_api.services.permit_facts import load_facts, reference_load_facts
from evidence_api.services.permit_model import Permit
from evidence_api.services.permits import Facts
from tests.api.permit_support import Plant, confined_space, hot_work, seed_plant
from tests.api.support import BOTH_DATABASES, Api
from tests.helpers import TENANT, make_actor

PEOPLE = ["leader", "guard-1", "guard-2", "analyst", "nobody-1", "nobody-2"]
WORKERS = ["welder", "hv-electrician", "w-new-1", "w-new-2", "w-ghost"]
AREAS = ["unit-3", "unit-4", "unit-new", "unit-ghost"]
KINDS = ["permit.submitted", "permit.activated", "guardian.checkin", "guardian.handover", "permit.approved",
         "gas.analysed"]

registrations = st.lists(st.one_of(
    st.tuples(st.just("user"), st.sampled_from(["nobody-1", "nobody-2"]),
              st.sampled_from(["team_leader", "guardian", "worker"])),
    st.tuples(st.just("worker"), st.sampled_from(["w-new-1", "w-new-2"]), st.just("")),
    st.tuples(st.just("area"), st.just("unit-new"), st.just("")),
    st.tuples(st.just("violation"), st.sampled_from(["welder", "hv-electrician"]), st.just(""))), max_size=3)
lookups = st.lists(st.tuples(st.sampled_from(KINDS), st.sampled_from(PEOPLE), st.sampled_from(PEOPLE),
                             st.lists(st.sampled_from(PEOPLE), min_size=1, max_size=3),
                             st.lists(st.sampled_from(WORKERS), min_size=1, max_size=3), st.sampled_from(AREAS),
                             st.sampled_from(["hot_work", "confined_space", "height"])), min_size=1, max_size=4)


@pytest.fixture
def plant(api: Api) -> Plant:
    seeded = seed_plant(api)
    seeded.ok("applicant", "permit.drafted", hot_work(clock=seeded.clock), permit="HW-1")
    window = {k: v for k, v in hot_work(clock=seeded.clock).items() if k in ("starts_at", "ends_at")}
    for permit, content in (("HW-2", hot_work(clock=seeded.clock)), ("CS-1", confined_space(
            **window, area="unit-4", location={"lat": 31.21, "lon": 121.5}))):  # 1.1 km away: no conflict
        seeded.ok("applicant", "permit.drafted", content, permit=permit)  # live ones: hours and conflicts
        seeded.ok("applicant", "permit.submitted", {"note": ""}, permit=permit)
    return seeded


def _register(plant: Plant, what: str, name: str, role: str, serial: int) -> None:
    org = plant.services.org
    try:
        if what == "user":
            actor = make_actor(name)
            org.add_user(TENANT, name, name=name, roles=[role], key_id=actor.key_id,
                         public_key_pem=actor.signer.public.to_pem())
        elif what == "worker":
            org.add_worker(TENANT, name, name=name, team="t")
        elif what == "area":
            org.add_area(TENANT, name, site="plant-1", name=name,
                         geofence={"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 50}})
        else:
            org.add_violation(TENANT, f"v-{serial}", worker=name, occurred_on=date(2026, 11, 1), description="x")
    except Conflict:
        pass  # registered by an earlier example


def _facts(load: Any, plant: Plant, permit: Permit, kind: str) -> Facts | tuple[type[ServiceError], str]:
    services = plant.services
    try:
        facts: Facts = load(services.engine, services.org, TENANT, permit, kind, date(2026, 12, 2))
    except ServiceError as exc:
        return type(exc), str(exc)
    return replace(facts, workers=sorted(facts.workers))  # a set of ids: the reference's order is the database's


def _variant(base: Permit, leader: str, guardian: str, confirmers: list[str], workers: list[str], area: str,
             work_type: str) -> Permit:
    content = base.content
    measures = [m.model_copy(update={"confirmer": confirmers[i % len(confirmers)]}) for i, m in enumerate(content.measures)]
    crew = [content.workers[0].model_copy(update={"worker": w}) for w in workers]
    return base.model_copy(update={"content": content.model_copy(update={
        "team_leader": leader, "guardian": guardian, "measures": measures, "workers": crew, "area": area,
        "type": work_type})})


@BOTH_DATABASES
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=registrations, asked=lookups, after=registrations)
def test_facts_equal_the_reference_as_the_plant_grows(plant: Plant, before: list[tuple[str, str, str]],
                                                       asked: list[tuple[Any, ...]],
                                                       after: list[tuple[str, str, str]]) -> None:
    base = plant.services.workflow.get(TENANT, "HW-1")
    for serial, registration in enumerate(before):
        _register(plant, *registration, serial)
    for kind, *shape in asked:
        permit = _variant(base, *shape)
        assert _facts(load_facts, plant, permit, kind) == _facts(reference_load_facts, plant, permit, kind)
    for serial, registration in enumerate(after, start=len(before)):
        _register(plant, *registration, serial)  # after a miss was asked: the cache must ask again
    for kind, *shape in asked:
        permit = _variant(base, *shape)
        assert _facts(load_facts, plant, permit, kind) == _facts(reference_load_facts, plant, permit, kind)


def test_a_submission_reads_every_fact_the_reference_does(plant: Plant) -> None:
    """Not empty facts compared with empty ones: the plant has what each rule reads."""
    permit = plant.services.workflow.get(TENANT, "HW-1")
    facts = _facts(load_facts, plant, permit, "permit.submitted")
    assert isinstance(facts, Facts)
    assert facts.roles == {"leader": ["team_leader"], "guard-1": ["guardian"]} and facts.workers == ["welder"]
    assert facts.certificates["welder"] and facts.other_hours["welder"] and facts.geofence is not None
    assert [p.id for p in facts.nearby] == ["CS-1"]
    missing = _variant(permit, "leader", "guard-1", ["leader"], ["welder"], "unit-ghost", "hot_work")
    assert _facts(load_facts, plant, missing, "permit.submitted") == (
        NotFound, f"area 'unit-ghost' does not exist for tenant {TENANT!r}") == _facts(reference_load_facts, plant, missing,
                                                                                   "permit.submitted")
