"""What the media tests share: tus requests on the test client, a registered camera, JPEGs with EXIF."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
from PIL import Image

from ingest.media import tus
from ingest.signing import Actor
from tests.api.support import Api, bearer
from tests.helpers import make_actor

PATCH = {"Content-Type": "application/offset+octet-stream"}


def tus_headers(token: str, **extra: str) -> dict[str, str]:
    """Bearer token, ``Tus-Resumable: 1.0.0`` and ``extra`` (underscores in names become dashes)."""
    return bearer(token) | tus.TUS_HEADERS | {k.replace("_", "-"): v for k, v in extra.items()}


def create(api: Api, size: int, metadata: dict[str, str], token: str | None = None) -> httpx.Response:
    """``POST /v1/media`` as the ingest token (or ``token``)."""
    resp: httpx.Response = api.client.post("/v1/media", headers=tus_headers(
        token or api.ingest, Upload_Length=str(size), Upload_Metadata=tus.tus_metadata(metadata)))
    return resp


def patch(api: Api, url: str, offset: int, body: bytes, token: str | None = None) -> httpx.Response:
    """One tus PATCH of ``body`` at ``offset``."""
    resp: httpx.Response = api.client.patch(url, content=body, headers=tus_headers(
        token or api.ingest, Upload_Offset=str(offset)) | PATCH)
    return resp


def camera(api: Api, name: str = "cam-1", kind: str = "camera") -> Actor:
    """A device registered in the tenant (a camera or a phone) that signs what it captures."""
    actor = make_actor(name, kind="device")
    api.typed("admin").create_device(actor, kind=kind)
    return actor


def _rational_dms(value: float) -> tuple[float, float, float]:
    degrees = int(value)
    minutes_float = (value - degrees) * 60
    minutes = int(minutes_float)
    return float(degrees), float(minutes), round((minutes_float - minutes) * 60, 4)


def jpeg(*, taken: datetime | None = None, lat: float | None = None, lon: float | None = None,
         seed: int = 0) -> bytes:
    """A small JPEG; with ``taken`` an EXIF DateTimeOriginal and OffsetTimeOriginal, with ``lat``/``lon`` GPS."""
    image = Image.new("RGB", (64, 48), (seed * 40 % 256, 120, 200))
    exif = Image.Exif()
    if taken is not None:
        ifd = exif.get_ifd(0x8769)
        ifd[36867] = taken.strftime("%Y:%m:%d %H:%M:%S")
        offset = taken.utcoffset()
        assert offset is not None
        minutes = int(offset.total_seconds() // 60)
        ifd[36881] = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if lat is not None and lon is not None:
        gps = exif.get_ifd(0x8825)
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _rational_dms(abs(lat))
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _rational_dms(abs(lon))
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


def store_photo(api: Api, device: Actor, data: bytes, *, tenant: str, captured_at: str,
                location: dict[str, float] | None, **metadata: str) -> tuple[tus.Upload, dict[str, Any]]:
    """Upload a photo and log its signed ``media.stored`` event; the upload and the event's answer."""
    upload = tus.upload(api.typed("ingest"), io.BytesIO(data), content_type="image/jpeg", **metadata)
    item = tus.media_stored_item(device, tenant=tenant, media=upload, content_type="image/jpeg",
                                 captured_at=captured_at, location=location, permit=metadata.get("permit"),
                                 purpose=metadata.get("purpose"))
    resp = api.client.post(f"/v1/media/{upload.id}/event", json=item, headers=bearer(api.ingest))
    assert resp.status_code == 201, resp.text
    return upload, resp.json()
