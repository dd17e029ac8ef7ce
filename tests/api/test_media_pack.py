"""The media service plugs into the evidence pack (``StoredMedia`` fetching through ``MediaService.pack_file``):
a permit's pack carries its photo and keyframe files proven by their events, and its video deleted by
retention as an entry without a file whose hash stays proven and that names its ``media.deleted`` event."""

from __future__ import annotations

import io
import json
import os
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from evidence_api.services.pack_media import StoredMedia
from evidence_api.services.pack_report import ReportRenderer
from evidence_api.services.pack_scope import LogScopes
from evidence_api.services.packs import PackBuilder
from ingest.camera import CameraSession
from ingest.media import tus
from ingest.media.keyframes import Keyframe
from ledger.clock import ManualClock
from tests.api.media_support import camera, jpeg, store_photo
from tests.api.permit_support import Plant, hot_work, seed_plant
from tests.api.support import Api, bearer
from tests.helpers import TENANT
from verifier.pack import verify_pack


@pytest.fixture
def plant(api: Api) -> Plant:
    plant = seed_plant(api)
    plant.ok("applicant", "permit.drafted", hot_work(clock=plant.clock))
    return plant


def test_pack_carries_photos_and_keyframes_and_shows_the_deleted_video(plant: Plant, tmp_path: Path) -> None:
    api, services = plant.api, plant.services
    phone, cam = camera(api, "phone-1", kind="phone"), camera(api, "cam-1")
    photo, _ = store_photo(api, phone, jpeg(), tenant=TENANT, captured_at=plant.clock.stamp(), location=None,
                           permit="HW-1", purpose="ppe")
    session = CameraSession(cam, TENANT, "rec-1", permit="HW-1")
    frame = session.sign(Keyframe(0, 0, jpeg(seed=5), "key"), captured_at=plant.clock.stamp())
    kf = tus.upload(api.typed("ingest"), io.BytesIO(frame.keyframe.jpeg), content_type="image/jpeg",
                    purpose="keyframe", recording="rec-1", permit="HW-1", media=frame.media_id)
    api.typed("ingest").media_event(kf.id, frame.item)
    video = tus.upload(api.typed("ingest"), io.BytesIO(os.urandom(70_000)), content_type="video/mp4", permit="HW-1")
    api.typed("ingest").media_event(video.id, tus.media_stored_item(
        cam, tenant=TENANT, media=video, content_type="video/mp4", captured_at=plant.clock.stamp(), permit="HW-1"))
    services.retention.clock = ManualClock(plant.clock.now() + timedelta(days=181))
    assert services.retention.run_once().deleted == [video.id]
    api.checkpoint(api.tree_size)

    builder = PackBuilder(services.log, services.keys, services.wrapper,
                          render=ReportRenderer(confirm_base="https://tiezheng.example", pdf=False),
                          scope_events=LogScopes(services.log, services.engine).events,
                          media=StoredMedia(services.media.pack_file), clock=services.clock)
    pack = builder.build(TENANT, {"kind": "permit", "permit": "HW-1"})

    report = verify_pack(pack.data, trust_root=api.trust_root())
    assert report.valid
    with zipfile.ZipFile(io.BytesIO(pack.data)) as z:
        index = {e["media"]: e for e in json.loads(z.read("media/index.json"))}
        assert z.read(index[photo.id]["path"]) == jpeg()
        assert z.read(index[kf.id]["path"]) == frame.keyframe.jpeg and index[kf.id]["role"] == "keyframe"
    gone = index[video.id]
    assert gone["state"] == "deleted" and gone["path"] is None and gone["sm3"] == video.sm3
    assert gone["deleted_by"] is not None
    assert api.client.get(f"/v1/media/{video.id}", headers=bearer(api.reader)).status_code == 410
