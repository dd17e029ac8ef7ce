"""Retention and crypto-shredding: process video past its retention is deleted by a signed ``media.deleted``
event that also destroys its data key, and its hash stays provable; photos stay; a legal hold on the permit
blocks the deletion until it is released; holds are signed by a legal or safety officer."""

from __future__ import annotations

import io
import json
import os
from datetime import timedelta

import pytest
from sqlalchemy import select

from evidence_api import media_tables
from evidence_api.services.errors import Conflict
from ingest.media import tus
from ledger.clock import ManualClock
from tests.api.media_support import camera, jpeg, store_photo
from tests.api.permit_support import Plant, hot_work, seed_plant
from tests.api.support import Api, assert_problem, bearer
from tests.helpers import TENANT
from verifier.bundle import Bundle, verify_bundle


@pytest.fixture
def plant(api: Api) -> Plant:
    plant = seed_plant(api)
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock))
    return plant


def _video(plant: Plant) -> tus.Upload:
    api = plant.api
    data = os.urandom(200_000)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(data), content_type="video/mp4", permit="HW-1",
                        purpose="process_video")
    item = tus.media_stored_item(camera(api, f"cam-{upload.id[:8]}"), tenant=TENANT, media=upload,
                                 content_type="video/mp4", captured_at=plant.clock.stamp(), permit="HW-1")
    resp = api.client.post(f"/v1/media/{upload.id}/event", json=item, headers=bearer(api.ingest))
    assert resp.status_code == 201, resp.text
    return upload


def _after(plant: Plant, days: int) -> None:
    plant.services.retention.clock = ManualClock(plant.clock.now() + timedelta(days=days))


def _run(plant: Plant) -> dict[str, object]:
    resp = plant.api.client.post("/v1/jobs/media-retention", headers=bearer(plant.api.admin))
    assert resp.status_code == 200, resp.text
    answer: dict[str, object] = resp.json()
    return answer


def _hold(plant: Plant, who: str = "safety") -> object:
    item = plant.item(who, "legal_hold.placed", {"reason": "闪爆事故调查"})
    return plant.api.client.post("/v1/permits/HW-1/legal-holds", json=item, headers=bearer(plant.api.ingest))


def test_video_past_retention_is_shredded_and_its_hash_still_proven(plant: Plant) -> None:
    api = plant.api
    video = _video(plant)
    photo, _ = store_photo(api, camera(api, "phone-9", kind="phone"), jpeg(), tenant=TENANT,
                           captured_at=plant.clock.stamp(), location=None, permit="HW-1", purpose="ppe")
    _after(plant, 179)
    assert _run(plant) == {"deleted": [], "held": []}
    _after(plant, 181)

    assert _run(plant) == {"deleted": [video.id], "held": []}

    resp = api.client.get(f"/v1/media/{video.id}", headers=bearer(api.reader))
    assert_problem(resp, 410, "gone", f"was deleted by retention .*its SM3 {video.sm3} stays provable")
    record = api.client.get(f"/v1/media/{video.id}/record", headers=bearer(api.reader)).json()
    assert record["state"] == "deleted" and record["sm3"] == video.sm3 and record["delete_event_id"]
    with plant.services.engine.connect() as conn:
        key = conn.execute(select(media_tables.media.c.wrapped_key).where(media_tables.media.c.id == video.id)).scalar()
    assert key is None  # the data key is destroyed
    assert not plant.services.media.store.exists(f"{TENANT}/media/{video.id}")
    assert api.client.get(f"/v1/media/{photo.id}", headers=bearer(api.reader)).status_code == 200  # photos stay

    api.checkpoint(api.tree_size)
    trust = api.trust_root()
    for event_id in (record["event_id"], record["delete_event_id"]):
        bundle = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(api.reader)).json()
        verify_bundle(Bundle.from_bytes(json.dumps(bundle).encode()), trust_root=trust)
        assert bundle["payload"]["value"]["sm3"] == video.sm3
    deleted = api.client.get(f"/v1/events/{record['delete_event_id']}/bundle", headers=bearer(api.reader)).json()
    assert deleted["event"]["kind"] == "media.deleted" and deleted["event"]["actor"]["type"] == "service"
    assert deleted["payload"]["value"]["reason"] == "retention"


def test_legal_hold_blocks_deletion_until_released(plant: Plant) -> None:
    api = plant.api
    video = _video(plant)
    placed = _hold(plant)
    assert placed.status_code == 201, placed.text  # type: ignore[attr-defined]
    hold = placed.json()  # type: ignore[attr-defined]
    _after(plant, 365)

    assert _run(plant) == {"deleted": [], "held": [{"media": video.id, "hold": hold["id"], "reason": "闪爆事故调查"}]}
    with pytest.raises(Conflict, match=f"media {video.id} of permit 'HW-1' is under legal hold {hold['id']}"):
        plant.services.retention.delete(TENANT, video.id, reason="retention")
    assert api.client.get(f"/v1/media/{video.id}", headers=bearer(api.reader)).status_code == 200

    release = plant.item("safety", "legal_hold.released", {"hold": hold["id"], "reason": "调查结束"})
    resp = api.client.post(f"/v1/permits/HW-1/legal-holds/{hold['id']}/release", json=release,
                           headers=bearer(api.ingest))
    assert resp.status_code == 200 and resp.json()["active"] is False, resp.text
    again = api.client.post(f"/v1/permits/HW-1/legal-holds/{hold['id']}/release", json=plant.item(
        "safety", "legal_hold.released", {"hold": hold["id"], "reason": "再次"}), headers=bearer(api.ingest))
    assert_problem(again, 409, "conflict", "was already released")

    assert _run(plant) == {"deleted": [video.id], "held": []}
    kinds = [e["kind"] for e in api.client.get("/v1/permits/HW-1/timeline", headers=bearer(api.reader)).json()]
    assert kinds[-4:] == ["media.stored", "legal_hold.placed", "legal_hold.released", "media.deleted"]


def test_holds_are_signed_by_legal_or_safety_officers(plant: Plant) -> None:
    assert_problem(_hold(plant, "leader"), 403, "forbidden",  # type: ignore[arg-type]
                   r"user 'leader' \(roles \['team_leader'\]\) may not sign legal_hold.placed")
    resp = plant.api.client.get("/v1/permits/HW-1/legal-holds", headers=bearer(plant.api.reader))
    assert resp.json() == []
