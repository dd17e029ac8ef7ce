"""With intake worker processes, a permit action's item is checked and sealed in a worker
(``IntakePool.prepare_item``): the walk goes on as in-process, a refused signature, an unknown key or a
payload that does not match its commitment answers exactly as in-process and writes nothing, and a retry
of a logged action gets its receipt back even though its check runs before the retry is recognised."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings
from evidence_api.main import create_app
from tests.api.permit_support import Plant, hot_work, seed_plant, to_active
from tests.api.support import seed
from tests.helpers import make_actor


@pytest.fixture(params=[0, 1], ids=["in-process", "one-worker"])
def plant(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Plant]:
    with TestClient(create_app(settings.model_copy(update={"intake_workers": request.param}))) as client:
        yield seed_plant(seed(client))


def _forged(plant: Plant, item: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(item)
    item["event"]["signature"] = item["event"]["signature"][:-8] + "00000000"
    return item


def _stranger(plant: Plant, item: dict[str, Any]) -> dict[str, Any]:
    stranger = make_actor("stranger")
    item = copy.deepcopy(item)
    item["event"]["actor"]["key_id"] = stranger.key_id
    return item


def _other_payload(plant: Plant, item: dict[str, Any]) -> dict[str, Any]:
    item = copy.deepcopy(item)
    item["payload"] = {"note": "不是签名时的内容"}
    return item


REFUSALS: dict[str, tuple[Callable[[Plant, dict[str, Any]], dict[str, Any]], int, str]] = {
    "forged signature": (_forged, 422, "signature does not verify"),
    "unknown key": (_stranger, 422, "stranger"),
    "payload not the committed one": (_other_payload, 422, "payload does not match payload_commitment of event"),
}


def test_walk_to_active_with_items_checked_in_the_intake(plant: Plant) -> None:
    to_active(plant)
    assert plant.permit()["state"] == "active"


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refused_item_writes_nothing(plant: Plant, case: str) -> None:
    change, status, start = REFUSALS[case]
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock))
    size = plant.services.log.tree_size
    resp = plant.send(change(plant, plant.item("applicant", "permit.submitted", {"note": ""})))
    assert resp.status_code == status, resp.text
    assert start in resp.json()["detail"]
    assert plant.services.log.tree_size == size and plant.permit()["state"] == "draft"


def test_refusals_word_the_same_in_a_worker_and_in_process(settings: Settings, tmp_path: Path) -> None:
    answers: dict[int, list[tuple[int, str]]] = {}
    for workers in (0, 1):
        own = {"intake_workers": workers, "data_dir": tmp_path / f"data-{workers}",
               "database_url": f"sqlite:///{tmp_path / f'tiezheng-{workers}.db'}"}
        with TestClient(create_app(settings.model_copy(update=own))) as client:
            plant = seed_plant(seed(client))
            plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock))
            item = plant.item("applicant", "permit.submitted", {"note": ""})
            answers[workers] = []
            for case in sorted(REFUSALS):
                resp = plant.send(REFUSALS[case][0](plant, item))
                detail = resp.json()["detail"].replace(item["event"]["event_id"], "ID")
                answers[workers].append((resp.status_code, re.sub(r"key [0-9a-f]{16}", "key K", detail)))
            # the item itself, then the same item again: a retry answers the first receipt
            first = plant.send(item)
            again = plant.send(item)
            assert first.status_code == again.status_code == 200, again.text
            assert again.json()["receipts"][0]["leaf_index"] == first.json()["receipts"][0]["leaf_index"]
            assert again.json()["receipts"][0]["duplicate"] is True
    assert answers[0] == answers[1]


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_item_answers_its_own_refusal_before_any_rule(plant: Plant, case: str) -> None:
    """With a worker the rules decide while the item is checked: a refused item still answers its own refusal,
    never what the rules, the state or the permit's URL would have said about it (as in-process)."""
    change, status, start = REFUSALS[case]
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock))
    size = plant.services.log.tree_size
    broken = [
        plant.item("leader", "permit.activated", {"note": ""}),  # a draft cannot start: 409 otherwise
        plant.item("guard-1", "permit.submitted", {"note": ""}),  # not the applicant: 403 otherwise
        plant.item("applicant", "permit.drafted", hot_work(clock=plant.clock)),  # exists: 409 otherwise
    ]
    for item in broken:
        resp = plant.send(change(plant, item))
        assert resp.status_code == status and start in resp.json()["detail"], resp.text
    wrong_url = plant.send(change(plant, plant.item("applicant", "permit.submitted", {"note": ""}, permit="HW-9")))
    assert wrong_url.status_code == status and start in wrong_url.json()["detail"], wrong_url.text
    assert plant.services.log.tree_size == size and plant.permit()["state"] == "draft"
