"""The ``media.stored`` event is bound to the stored object: a claim of another SM3, size or permit logs
nothing; only the capturing device signs it; one event per object; ``POST /v1/events`` refuses media kinds.
A photo's EXIF time and GPS are compared with the event's claims: a mismatch is flagged, the event kept."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone

from ingest.media import tus
from ledger.clock import rfc3339
from tests.api.media_support import camera, jpeg, store_photo
from tests.api.support import Api, assert_problem, bearer
from tests.helpers import TENANT, make_actor
from verifier.bundle import Bundle, verify_bundle

CHINA = timezone(timedelta(hours=8))
TAKEN = datetime(2026, 11, 23, 9, 30, 0, tzinfo=CHINA)
PLACE = {"lat": 31.2, "lon": 121.5, "accuracy_m": 5.0}


def _item(api: Api, upload: tus.Upload, device: object, **changes: object) -> dict[str, object]:
    item = tus.media_stored_item(device, tenant=TENANT, media=upload, content_type="image/jpeg",  # type: ignore[arg-type]
                                 captured_at=rfc3339(TAKEN), location=PLACE)
    return item


def _post(api: Api, media_id: str, item: dict[str, object]) -> object:
    return api.client.post(f"/v1/media/{media_id}/event", json=item, headers=bearer(api.ingest))


def _record(api: Api, media_id: str) -> dict[str, object]:
    resp = api.client.get(f"/v1/media/{media_id}/record", headers=bearer(api.reader))
    assert resp.status_code == 200, resp.text
    record: dict[str, object] = resp.json()
    return record


def test_event_of_a_stored_photo_is_logged_with_its_hash_and_verifies(api: Api) -> None:
    phone = camera(api, "phone-1", kind="phone")
    upload, answer = store_photo(api, phone, jpeg(taken=TAKEN, lat=31.2, lon=121.5), tenant=TENANT,
                                 captured_at=rfc3339(TAKEN), location=PLACE)
    record = _record(api, upload.id)
    assert record["event_id"] == answer["receipts"][0]["event_id"]
    assert record["facts"]["flags"] == [] and record["facts"]["exif"]["lat"] == 31.2  # type: ignore[index]

    api.checkpoint(api.tree_size)
    bundle = api.client.get(f"/v1/events/{record['event_id']}/bundle", headers=bearer(api.reader)).json()
    verify_bundle(Bundle.from_bytes(json.dumps(bundle).encode()), trust_root=api.trust_root())
    assert bundle["payload"]["value"]["sm3"] == upload.sm3 and bundle["payload"]["value"]["size"] == upload.size


def test_event_claiming_other_bytes_logs_nothing(api: Api) -> None:
    phone = camera(api)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(jpeg()), content_type="image/jpeg")
    before = api.tree_size
    for forged, detail in [
        (tus.Upload(upload.id, "00" * 32, upload.size), f"it claims sm3 '{'0' * 64}' \\(stored: '{upload.sm3}'\\)"),
        (tus.Upload(upload.id, upload.sm3, upload.size + 1), f"size {upload.size + 1} \\(stored: {upload.size}\\)"),
    ]:
        item = tus.media_stored_item(phone, tenant=TENANT, media=forged, content_type="image/jpeg",
                                     captured_at=rfc3339(TAKEN))
        assert_problem(_post(api, upload.id, item), 409, "conflict", detail + "; nothing was logged")  # type: ignore[arg-type]
    other = tus.upload(api.typed("ingest"), io.BytesIO(jpeg(seed=3)), content_type="image/jpeg")
    item = tus.media_stored_item(phone, tenant=TENANT, media=other, content_type="image/jpeg", captured_at=rfc3339(TAKEN))
    assert_problem(_post(api, upload.id, item), 409, "conflict", "does not describe stored media")  # type: ignore[arg-type]
    assert api.tree_size == before and _record(api, upload.id)["event_id"] is None


def test_only_the_capturing_device_signs_and_only_once(api: Api) -> None:
    phone = camera(api)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(jpeg()), content_type="image/jpeg")
    by_user = tus.media_stored_item(api.guardian, tenant=TENANT, media=upload, content_type="image/jpeg",
                                    captured_at=rfc3339(TAKEN))
    assert_problem(_post(api, upload.id, by_user), 403, "forbidden", "signed by the capturing device")  # type: ignore[arg-type]
    item = tus.media_stored_item(phone, tenant=TENANT, media=upload, content_type="image/jpeg", captured_at=rfc3339(TAKEN))
    assert _post(api, upload.id, item).status_code == 201  # type: ignore[attr-defined]
    retry = _post(api, upload.id, item)
    assert retry.status_code == 200 and retry.json()["receipts"][0]["duplicate"] is True  # type: ignore[attr-defined]
    again = tus.media_stored_item(phone, tenant=TENANT, media=upload, content_type="image/jpeg", captured_at=rfc3339(TAKEN))
    assert_problem(_post(api, upload.id, again), 409, "conflict", "already has its event")  # type: ignore[arg-type]
    stranger = make_actor("unregistered-cam", kind="device")
    late = tus.media_stored_item(stranger, tenant=TENANT, media=upload, content_type="image/jpeg",
                                 captured_at=rfc3339(TAKEN))
    assert _post(api, upload.id, late).status_code in (409, 422)  # type: ignore[attr-defined]


def test_events_endpoint_refuses_media_kinds(api: Api) -> None:
    phone = camera(api)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(jpeg()), content_type="image/jpeg")
    item = tus.media_stored_item(phone, tenant=TENANT, media=upload, content_type="image/jpeg", captured_at=rfc3339(TAKEN))
    resp = api.post_events({"events": [item]})
    assert_problem(resp, 409, "conflict", r"media.stored is bound to what it is about: send it to POST /v1/media/\{id\}/event")
    assert api.tree_size == 0


def test_exif_mismatch_is_flagged_not_dropped(api: Api) -> None:
    phone = camera(api)
    far_and_late = jpeg(taken=TAKEN + timedelta(hours=1), lat=31.21, lon=121.5)
    upload, answer = store_photo(api, phone, far_and_late, tenant=TENANT, captured_at=rfc3339(TAKEN), location=PLACE)
    flags = _record(api, upload.id)["facts"]["flags"]  # type: ignore[index]
    assert flags == ["exif.time_mismatch", "exif.place_mismatch"]
    logged = api.client.app.state.services.log.event(TENANT, answer["receipts"][0]["event_id"])  # type: ignore[attr-defined]
    assert "exif.time_mismatch" in logged.flags and "exif.place_mismatch" in logged.flags

    bare, _ = store_photo(api, phone, jpeg(seed=2), tenant=TENANT, captured_at=rfc3339(TAKEN), location=PLACE)
    assert _record(api, bare.id)["facts"]["flags"] == ["exif.no_time", "exif.no_gps"]  # type: ignore[index]


def test_exif_without_offset_is_read_in_plant_time(api: Api) -> None:
    phone = camera(api)
    naive_utc_reading = jpeg(taken=TAKEN.astimezone(UTC).replace(tzinfo=CHINA) - timedelta(hours=0))
    upload, _ = store_photo(api, phone, naive_utc_reading, tenant=TENANT, captured_at=rfc3339(TAKEN), location=PLACE)
    flags = _record(api, upload.id)["facts"]["flags"]  # type: ignore[index]
    assert "exif.time_mismatch" in flags  # 01:30 written as +08:00 is eight hours off 09:30 +08:00
