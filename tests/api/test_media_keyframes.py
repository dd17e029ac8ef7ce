"""A camera's video and its keyframes end to end: ffmpeg takes keyframes at most 5 s apart, the camera signs
each as captured (chained), they are uploaded encrypted and logged as media.keyframe events; the verifier
checks the logged chain and the pictures offline. A keyframe that never arrives is flagged by the server
and named by the verifier."""

from __future__ import annotations

import pytest

from ingest.camera import CameraSession, upload_recording
from ingest.media.keyframes import extract_keyframes
from tests.api.media_support import camera
from tests.api.support import Api, bearer
from tests.helpers import TENANT
from tests.media_videos import make_testsrc, require_ffmpeg
from verifier.keyframes import KeyframeChainBroken, verify_keyframe_chain, verify_keyframe_images

pytestmark = pytest.mark.ffmpeg

CAPTURED = "2026-11-23T09:30:00Z"


@pytest.fixture(autouse=True)
def _ffmpeg(pytestconfig: pytest.Config) -> None:
    require_ffmpeg(pytestconfig)


def _logged_payloads(api: Api, media_ids: list[str]) -> list[dict[str, object]]:
    payloads = []
    for media_id in media_ids:
        record = api.client.get(f"/v1/media/{media_id}/record", headers=bearer(api.reader)).json()
        bundle = api.client.get(f"/v1/events/{record['event_id']}/bundle", headers=bearer(api.reader)).json()
        assert bundle["event"]["kind"] == "media.keyframe"
        payloads.append(bundle["payload"]["value"])
    return payloads


def test_keyframes_signed_at_capture_are_logged_and_verify(api: Api, tmp_path: object) -> None:
    video = make_testsrc(tmp_path / "work.mp4", seconds=21)  # type: ignore[operator]
    frames = extract_keyframes(video, tmp_path / "frames")  # type: ignore[operator]
    session = CameraSession(camera(api, "cam-unit-3"), TENANT, "rec-0930")
    signed = [session.sign(f, captured_at=CAPTURED) for f in frames]

    stored, uploads = upload_recording(api.typed("ingest"), session, video, signed, captured_at=CAPTURED)

    api.checkpoint(api.tree_size)
    payloads = _logged_payloads(api, [u.id for u in uploads])
    verify_keyframe_chain(payloads)
    images = [api.client.get(f"/v1/media/{u.id}", headers=bearer(api.reader)).content for u in uploads]
    verify_keyframe_images(payloads, images)
    assert [p["t_ms"] for p in payloads] == [0, 5000, 10000, 15000, 20000]
    for upload in uploads:
        facts = api.client.get(f"/v1/media/{upload.id}/record", headers=bearer(api.reader)).json()["facts"]
        assert facts["flags"] == [] and facts["recording"] == "rec-0930"
    video_record = api.client.get(f"/v1/media/{stored.id}/record", headers=bearer(api.reader)).json()
    assert video_record["purpose"] == "process_video" and video_record["retain_until"] is not None


def test_a_missing_keyframe_is_flagged_and_named(api: Api, tmp_path: object) -> None:
    video = make_testsrc(tmp_path / "work.mp4", seconds=16)  # type: ignore[operator]
    frames = extract_keyframes(video, tmp_path / "frames")  # type: ignore[operator]
    session = CameraSession(camera(api, "cam-unit-4"), TENANT, "rec-1015")
    signed = [session.sign(f, captured_at=CAPTURED) for f in frames]
    lost = signed[:2] + signed[3:]  # keyframe 2 never reaches the server

    _, uploads = upload_recording(api.typed("ingest"), session, video, lost, captured_at=CAPTURED)

    flags = [api.client.get(f"/v1/media/{u.id}/record", headers=bearer(api.reader)).json()["facts"]["flags"]
             for u in uploads]
    assert flags == [[], [], ["keyframe.chain_break"]]
    api.checkpoint(api.tree_size)  # bundles exist from the next checkpoint on
    with pytest.raises(KeyframeChainBroken, match="keyframe at position 2 has index 3, want 2: a keyframe is missing"):
        verify_keyframe_chain(_logged_payloads(api, [u.id for u in uploads]))
