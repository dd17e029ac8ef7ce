"""Malformed permit items: every wrong shape answers 4xx with what is wrong, never 500, and writes nothing."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.api.permit_support import Plant, hot_work, seed_plant
from tests.api.support import Api, assert_problem, bearer

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def plant(api: Api) -> Plant:
    return seed_plant(api)


def _set(path: tuple[str, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(item: dict[str, Any]) -> None:
        target = item
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


def _drop(path: tuple[str, ...]) -> Callable[[dict[str, Any]], None]:
    def change(item: dict[str, Any]) -> None:
        target = item
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return change


MUTATIONS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "event_id missing": (_drop(("event", "event_id")), "event fields: missing \\['event_id'\\]"),
    "event_id a number": (_set(("event", "event_id"), 12345), "event_id must be a lower-case UUID string"),
    "event_id an object": (_set(("event", "event_id"), {"a": 1}), "event_id must be a lower-case UUID string"),
    "event_id null": (_set(("event", "event_id"), None), "event_id must be a lower-case UUID string"),
    "event a list": (_set(("event",), []), "exactly event, payload and salt"),
    "event a string": (_set(("event",), "x"), "exactly event, payload and salt"),
    "subject missing": (_drop(("event", "subject")), "event fields: missing \\['subject'\\]"),
    "subject a list": (_set(("event", "subject"), ["HW-1"]), "subject must be an object"),
    "subject.permit a number": (_set(("event", "subject"), {"permit": 7}), "subject.permit must be an id"),
    "kind a number": (_set(("event", "kind"), 3), "kind must look like"),
    "actor missing": (_drop(("event", "actor")), "event fields: missing \\['actor'\\]"),
    "tenant a number": (_set(("event", "tenant"), 1), "event tenant 1 is not the caller's tenant"),
    "salt missing": (_drop(("salt",)), "exactly event, payload and salt"),
}


def _post(plant: Plant, path: str, body: Any) -> Any:
    return plant.api.client.post(path, content=json.dumps(body), headers=bearer(plant.api.ingest) | JSON)


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_draft_malformed_item_refused_not_500(plant: Plant, case: str) -> None:
    change, detail = MUTATIONS[case]
    item = copy.deepcopy(plant.item("applicant", "permit.drafted", hot_work()))
    change(item)
    size = plant.api.tree_size
    assert_problem(_post(plant, "/v1/permits", item), 422, "malformed-input", detail)
    assert plant.api.tree_size == size
    assert plant.api.client.get("/v1/permits", headers=bearer(plant.api.reader)).json() == []


@pytest.mark.parametrize("case", sorted(MUTATIONS))
def test_action_malformed_item_refused_not_500(plant: Plant, case: str) -> None:
    plant.ok("applicant", "permit.drafted", hot_work())
    change, detail = MUTATIONS[case]
    item = copy.deepcopy(plant.item("applicant", "permit.submitted", {"note": ""}))
    change(item)
    size, before = plant.api.tree_size, plant.permit()
    assert_problem(_post(plant, "/v1/permits/HW-1/actions", item), 422, "malformed-input", detail)
    assert plant.api.tree_size == size
    assert plant.permit() == before


@pytest.mark.parametrize("body", [None, 7, "text", [], [{"event": {}}], {"event": None, "payload": 1, "salt": "x"}])
@pytest.mark.parametrize("path", ["/v1/permits", "/v1/permits/HW-1/actions"])
def test_permit_body_of_wrong_type_refused_not_500(plant: Plant, path: str, body: Any) -> None:
    assert_problem(_post(plant, path, body), 422, "malformed-input", "signed item|exactly event, payload and salt")


def test_draft_through_raw_intake_refused_and_nothing_logged(plant: Plant) -> None:
    item = plant.item("applicant", "permit.drafted", hot_work())
    size = plant.api.tree_size
    resp = plant.api.client.post("/v1/events", json={"events": [item]}, headers=bearer(plant.api.ingest))
    assert_problem(resp, 409, "conflict", "permit.drafted creates a permit the workflow runs: send it to POST /v1/permits")
    assert plant.api.tree_size == size
    assert plant.api.client.get("/v1/permits", headers=bearer(plant.api.reader)).json() == []
