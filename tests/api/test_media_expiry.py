"""tus expiration: an unfinished upload tells when it expires (``Upload-Expires`` on POST, PATCH and HEAD), each
PATCH moves that on, past it every tus request answers 410, and the periodic job removes its partial data
(then 404); complete uploads never expire. The media service's clock is a ``ManualClock``: no waiting."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path

import pytest
from pydantic import ValidationError

from evidence_api.config import Settings
from evidence_api.services.media import MediaService
from ingest.media import tus
from ledger.clock import ManualClock
from tests.api.media_support import create, patch, tus_headers
from tests.api.support import Api, assert_problem, bearer

SEGMENT = 64 * 1024
_START = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def clock(api: Api) -> ManualClock:
    clock = ManualClock(_START)
    _media(api).clock = clock
    return clock


def _media(api: Api) -> MediaService:
    media: MediaService = api.client.app.state.services.media  # type: ignore[attr-defined]
    return media


def _meta(data: bytes) -> dict[str, str]:
    sm3, _ = tus.file_sm3(io.BytesIO(data))
    return {"sm3": sm3, "content_type": "video/mp4"}


def _http_date(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _staging(api: Api) -> list[Path]:
    root = api.client.app.state.services.settings.data_dir / "media-staging"  # type: ignore[attr-defined]
    return sorted(root.rglob("*.part"))


def test_upload_expires_is_announced_and_each_patch_moves_it(api: Api, clock: ManualClock) -> None:
    data = os.urandom(3 * SEGMENT)
    created = create(api, len(data), _meta(data))
    url = created.headers["Location"]
    assert created.headers["Upload-Expires"] == "Wed, 02 Dec 2026 06:00:00 GMT"  # 24 h, the default
    assert parsedate_to_datetime(created.headers["Upload-Expires"]) == _START + timedelta(hours=24)

    clock.advance(timedelta(hours=5))
    sent = patch(api, url, 0, data[:SEGMENT])
    assert sent.status_code == 204 and sent.headers["Upload-Expires"] == _http_date(_START + timedelta(hours=29))
    head = api.client.head(url, headers=tus_headers(api.ingest))
    assert head.headers["Upload-Expires"] == sent.headers["Upload-Expires"]

    clock.advance(timedelta(hours=23, minutes=59))  # 1 minute before it expires: it still resumes
    done = patch(api, url, SEGMENT, data[SEGMENT:])
    assert done.status_code == 204 and "Upload-Expires" not in done.headers  # complete: it never expires
    assert "Upload-Expires" not in api.client.head(url, headers=tus_headers(api.ingest)).headers
    clock.advance(timedelta(days=30))
    assert api.client.get(url, headers=bearer(api.reader)).content == data
    assert _media(api).expire_uploads() == []


def test_an_expired_upload_answers_410_then_the_job_removes_it(api: Api, clock: ManualClock) -> None:
    data = os.urandom(2 * SEGMENT)
    url = create(api, len(data), _meta(data)).headers["Location"]
    assert patch(api, url, 0, data[:SEGMENT]).status_code == 204
    kept = create(api, len(data), _meta(data)).headers["Location"]
    clock.advance(timedelta(hours=23))
    assert patch(api, kept, 0, data[:SEGMENT]).status_code == 204  # active: lives on
    clock.advance(timedelta(hours=1))  # the first one's last PATCH was 24 h ago

    refused = patch(api, url, SEGMENT, data[SEGMENT:])
    assert_problem(refused, 410, "gone", r"upload .* expired unfinished at 2026-12-02T06:00:00.000Z .*create a new "
                                         "upload and send the file again")
    assert api.client.head(url, headers=tus_headers(api.ingest)).status_code == 410
    assert_problem(api.client.delete(url, headers=tus_headers(api.ingest)), 410, "gone", "expired unfinished")
    assert_problem(api.client.get(url, headers=bearer(api.reader)), 410, "gone", "expired unfinished")
    assert len(_staging(api)) == 2  # nothing removed by the refusals

    assert _media(api).expire_uploads() == [url.rsplit("/", 1)[1]]

    assert api.client.head(url, headers=tus_headers(api.ingest)).status_code == 404
    assert_problem(patch(api, url, SEGMENT, data[SEGMENT:]), 404, "not-found", "does not exist")
    assert len(_staging(api)) == 1 and _media(api).expire_uploads() == []
    assert patch(api, kept, SEGMENT, data[SEGMENT:]).status_code == 204  # the other one completes
    assert api.client.get(kept, headers=bearer(api.reader)).content == data


def test_options_lists_the_expiration_extension(api: Api) -> None:
    options = api.client.options("/v1/media", headers=bearer(api.reader))
    assert options.headers["Tus-Extension"] == "creation,termination,expiration"


def test_upload_expiry_is_a_setting(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path).media_upload_expiry == 86400.0
    assert Settings(data_dir=tmp_path, media_upload_expiry=3600).media_upload_expiry == 3600.0
    with pytest.raises(ValidationError, match="TIEZHENG_MEDIA_UPLOAD_EXPIRY is seconds above 0, got 0"):
        Settings(data_dir=tmp_path, media_upload_expiry=0)


def test_a_damaged_staging_file_does_not_stop_the_job(api: Api, clock: ManualClock) -> None:
    data = os.urandom(2 * SEGMENT)
    damaged = create(api, len(data), _meta(data)).headers["Location"]
    url = create(api, len(data), _meta(data)).headers["Location"]
    damaged_file = next(p for p in _staging(api) if p.stem == damaged.rsplit("/", 1)[1])
    damaged_file.write_bytes(b"\0" * 48)  # not the upload's header any more
    clock.advance(timedelta(hours=25))

    assert _media(api).expire_uploads() == [url.rsplit("/", 1)[1]]

    assert _staging(api) == [damaged_file]  # left for a human, and said so in the log
    assert api.client.head(damaged, headers=tus_headers(api.ingest)).status_code == 410
