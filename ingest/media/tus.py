"""A small tus 1.0 client (core + creation) for the service's ``/v1/media``, on the typed client's connection,
and the signed ``media.stored`` item that makes an upload evidence.

Any tus client library works against the server (tuspy, tus-js-client, TUSKit, tus-android-client); this one
exists so the demo, tests and benchmarks need nothing else: it hashes the file (SM3) for ``Upload-Metadata``,
creates the upload, sends it in chunks and, after a cut, asks ``HEAD`` for the offset and resumes from it.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import httpx
from cryptography.hazmat.primitives import hashes

from ingest.client import ApiClient, ApiError, ApiUnreachable
from ingest.signing import Actor, new_item, sign_item

__all__ = ["DEFAULT_CHUNK", "TUS_HEADERS", "Upload", "file_sm3", "media_stored_item", "tus_metadata", "upload"]

TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
_EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "video/mp4": ".mp4", "video/quicktime": ".mov"}
DEFAULT_CHUNK = 4 << 20
"""PATCH size: a multiple of the server's 64 KiB segment (a chunk's tail that ends mid-segment is re-sent)."""


@dataclass(frozen=True)
class Upload:
    """A finished upload: the media id, the plaintext's SM3 (hex) and size."""

    id: str
    sm3: str
    size: int


def file_sm3(file: BinaryIO, chunk: int = 1 << 20) -> tuple[str, int]:
    """Hex SM3 and size of ``file`` read from its current position to the end (then rewound there)."""
    start = file.tell()
    hasher: Any = hashlib.new("sm3") if "sm3" in hashlib.algorithms_available else hashes.Hash(hashes.SM3())
    size = 0
    while block := file.read(chunk):
        hasher.update(block)
        size += len(block)
    file.seek(start)
    return (hasher.hexdigest() if hasattr(hasher, "hexdigest") else hasher.finalize().hex()), size


def tus_metadata(values: Mapping[str, str]) -> str:
    """``Upload-Metadata``: ``key base64(value)`` pairs joined by commas."""
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())


def _headers(api: ApiClient, **extra: str) -> dict[str, str]:
    return TUS_HEADERS | {"Authorization": f"Bearer {api.token}"} | extra


def _check(response: Any) -> Any:
    if not response.is_success:
        raise ApiError.from_response(response)
    return response


def create(api: ApiClient, size: int, metadata: Mapping[str, str]) -> str:
    """Create an upload of ``size`` bytes; its URL path."""
    response = _check(api.http.post("/v1/media", headers=_headers(api, **{
        "Upload-Length": str(size), "Upload-Metadata": tus_metadata(metadata)})))
    return str(response.headers["Location"])


def offset(api: ApiClient, url: str) -> int:
    """How far the server got (``HEAD``)."""
    return int(_check(api.http.head(url, headers=_headers(api))).headers["Upload-Offset"])


def _chunks(file: BinaryIO, start: int, chunk: int) -> Iterator[bytes]:
    file.seek(start)
    while block := file.read(chunk):
        yield block


def send(api: ApiClient, url: str, file: Any, size: int, *, chunk: int = DEFAULT_CHUNK, attempts: int = 5) -> None:
    """PATCH ``file`` to ``url`` from the server's offset to the end; after a cut, ``HEAD`` and resume."""
    at = offset(api, url)
    failures = 0
    while at < size or size == 0:
        file.seek(at)
        block = file.read(chunk)
        try:
            response = api.http.patch(url, content=block, headers=_headers(
                api, **{"Upload-Offset": str(at), "Content-Type": "application/offset+octet-stream"}))
        except httpx.TransportError:  # cut: ask where the server got to and go on from there
            response = None
        if response is None or response.status_code in (409, 502, 503, 504):
            failures += 1
            if failures >= attempts:
                raise ApiUnreachable(f"upload {url} stopped at {at} of {size} bytes after {attempts} failures")
            at = offset(api, url)
            continue
        at = int(_check(response).headers["Upload-Offset"])
        if size == 0:
            break


def upload(api: ApiClient, file: BinaryIO, *, content_type: str, chunk: int = DEFAULT_CHUNK,
           **metadata: str) -> Upload:
    """Hash, create and send ``file`` (from its position to the end) as one media upload.

    ``metadata``: ``permit``, ``purpose``, ``recording``, ``filename``. Raises ``ApiError`` when refused
    (``digest-mismatch`` if the file changed while it was sent: nothing is stored).
    """
    sm3, size = file_sm3(file)
    base = file.tell()
    url = create(api, size, {"sm3": sm3, "content_type": content_type, **metadata})
    send(api, url, _Window(file, base), size, chunk=chunk)
    return Upload(url.rsplit("/", 1)[-1], sm3, size)


class _Window:
    """``file`` seen from ``base`` on (so offsets are the upload's)."""

    def __init__(self, file: BinaryIO, base: int) -> None:
        self._file, self._base = file, base

    def seek(self, at: int, whence: int = os.SEEK_SET) -> int:
        return self._file.seek(self._base + at, whence) - self._base

    def read(self, n: int = -1) -> bytes:
        return self._file.read(n)


def media_stored_item(device: Actor, *, tenant: str, media: Upload, content_type: str, captured_at: str,
                      location: dict[str, float] | None = None, permit: str | None = None,
                      purpose: str | None = None) -> dict[str, Any]:
    """The capturing device's signed ``media.stored`` item for an upload (``POST /v1/media/{id}/event``)."""
    role = "video" if content_type.startswith("video/") else "photo"
    payload: dict[str, Any] = {"sm3": media.sm3, "size": media.size, "content_type": content_type,
                               "captured_at": captured_at, "device": device.id, "role": role,
                               "file": role + _EXTENSIONS.get(content_type, ".bin")}
    if purpose is not None:
        payload["purpose"] = purpose
    subject = {"media": media.id} | ({"permit": permit} if permit else {})
    item = new_item(device, tenant=tenant, kind="media.stored", payload=payload, occurred_at=captured_at,
                    subject=subject, location=location)
    return sign_item(device, item)
