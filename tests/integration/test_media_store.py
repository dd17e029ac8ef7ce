"""Media on the real S3 servers: on MinIO with Object Lock a stored video is written locked until its
retention ends (the server refuses an early delete), and retention still crypto-shreds it at the deadline;
on SeaweedFS the upload and ranged reads work the same."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings
from evidence_api.main import create_app
from ingest.media import tus
from ingest.objectstore import LockMode, ObjectLocked, S3ObjectStore
from ledger.clock import ManualClock
from tests.api.support import ADMIN_TOKEN, Api, bearer, seed
from tests.integration.test_objectstore import _drop_bucket, _s3_url


def _app(tmp_path: Path, url: str) -> Iterator[tuple[Api, S3ObjectStore]]:
    settings = Settings(environment="dev", data_dir=tmp_path / "data", admin_token=ADMIN_TOKEN, intake_workers=0,
                        checkpoint_interval=0.05, anchor_interval=0.1, media_store_url=url,
                        media_bucket=f"tz-media-{uuid.uuid4().hex[:12]}")
    with TestClient(create_app(settings)) as client:
        store = client.app.state.services.media.store  # type: ignore[attr-defined]
        try:
            yield seed(client), store
        finally:
            _drop_bucket(store)


@pytest.fixture
def on_minio(pytestconfig: pytest.Config, tmp_path: Path) -> Iterator[tuple[Api, S3ObjectStore]]:
    yield from _app(tmp_path, _s3_url(pytestconfig, "minio"))


@pytest.fixture
def on_seaweedfs(pytestconfig: pytest.Config, tmp_path: Path) -> Iterator[tuple[Api, S3ObjectStore]]:
    yield from _app(tmp_path, _s3_url(pytestconfig, "seaweedfs"))


@pytest.mark.minio
def test_video_is_locked_for_its_retention_on_minio(on_minio: tuple[Api, S3ObjectStore]) -> None:
    api, store = on_minio
    assert store.locking == LockMode.GOVERNANCE
    data = os.urandom(300_000)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(data), content_type="video/mp4")
    record = api.client.get(f"/v1/media/{upload.id}/record", headers=bearer(api.reader)).json()
    key = f"acme-chem/media/{upload.id}"

    info = store.stat(key)
    assert info.retention is not None and info.retention.mode == LockMode.GOVERNANCE
    assert abs(info.retention.until - datetime.fromisoformat(record["retain_until"])) < timedelta(seconds=2)
    with pytest.raises(ObjectLocked, match="locked"):
        store.delete(key)
    assert api.client.get(f"/v1/media/{upload.id}", headers=bearer(api.reader)).content == data

    services = api.client.app.state.services  # type: ignore[attr-defined]
    services.retention.clock = ManualClock(services.clock.now() + timedelta(days=181))
    assert services.retention.run_once().deleted == [upload.id]
    assert api.client.get(f"/v1/media/{upload.id}", headers=bearer(api.reader)).status_code == 410
    assert store.exists(key)  # the server keeps the locked ciphertext; without its data key nobody can open it


@pytest.mark.seaweedfs
def test_upload_and_ranges_on_seaweedfs(on_seaweedfs: tuple[Api, S3ObjectStore]) -> None:
    api, store = on_seaweedfs
    data = os.urandom(200_000)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(data), content_type="image/jpeg", chunk=128 * 1024)
    reader = bearer(api.reader)
    assert api.client.get(f"/v1/media/{upload.id}", headers=reader).content == data
    part = api.client.get(f"/v1/media/{upload.id}", headers=reader | {"Range": "bytes=65000-140000"})
    assert part.status_code == 206 and part.content == data[65000:140001]
    assert store.stat(f"acme-chem/media/{upload.id}").size == 48 + len(data) + 16 * 4
