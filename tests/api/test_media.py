"""Media uploads over tus 1.0: round trip and ranged reads, a wrong SM3 stores nothing, resume after a cut
(over a real socket, with the tuspy library too) and after a restart, the protocol's refusals, tenant
isolation, a tampered stored object caught with its segment, and the PATCH body limit."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from tusclient import client as tus_client

from evidence_api import media_tables
from evidence_api.config import Settings
from evidence_api.main import create_app
from ingest.client import ApiClient
from ingest.media import tus
from ingest.seed import open_tenant
from tests.api.media_support import PATCH, create, patch, tus_headers
from tests.api.served import served
from tests.api.support import ADMIN_TOKEN, MAX_BATCH, MAX_BODY_BYTES, Api, assert_problem, bearer, seed

SEGMENT = 64 * 1024
CHUNK_LIMIT = 512 * 1024


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(environment="dev", data_dir=tmp_path / "data", database_url=database_url, admin_token=ADMIN_TOKEN,
                    intake_workers=0, checkpoint_interval=0.05, anchor_interval=0.1, max_batch=MAX_BATCH,
                    max_body_bytes=MAX_BODY_BYTES, max_media_chunk_bytes=CHUNK_LIMIT, max_media_bytes=8 << 20)


def _meta(data: bytes, content_type: str = "video/mp4", **extra: str) -> dict[str, str]:
    sm3, _ = tus.file_sm3(io.BytesIO(data))
    return {"sm3": sm3, "content_type": content_type, **extra}


def _media_rows(api: Api) -> int:
    with api.client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        count: int = conn.execute(select(func.count()).select_from(media_tables.media)).scalar_one()
    return count


def _staging(api: Api) -> list[Path]:
    root = api.client.app.state.services.settings.data_dir / "media-staging"  # type: ignore[attr-defined]
    return sorted(root.rglob("*.part"))


def _stored_files(api: Api) -> list[Path]:
    root = api.client.app.state.services.settings.data_dir / "media"  # type: ignore[attr-defined]
    return sorted(p for p in root.rglob("*") if p.is_file() and ".incoming" not in p.parts)


def test_upload_round_trip_and_ranges(api: Api) -> None:
    data = os.urandom(3 * SEGMENT + 1000)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(data), content_type="video/mp4", chunk=SEGMENT * 2)
    reader = bearer(api.reader)

    whole = api.client.get(f"/v1/media/{upload.id}", headers=reader)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp4" and whole.headers["accept-ranges"] == "bytes"
    for header, start, end in [("bytes=65530-65545", 65530, 65546), ("bytes=-10", len(data) - 10, len(data)),
                               (f"bytes={3 * SEGMENT}-", 3 * SEGMENT, len(data)), ("bytes=0-0", 0, 1)]:
        part = api.client.get(f"/v1/media/{upload.id}", headers=reader | {"Range": header})
        assert part.status_code == 206 and part.content == data[start:end], header
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{len(data)}"
    record = api.client.get(f"/v1/media/{upload.id}/record", headers=reader).json()
    assert record["state"] == "stored" and record["sm3"] == upload.sm3 and record["size"] == len(data)
    assert record["retain_until"] is not None  # video: deleted after the tenant's retention
    assert _staging(api) == []
    stored = _stored_files(api)
    assert len(stored) == 1 and data[:4096] not in stored[0].read_bytes()  # encrypted at rest


def test_range_beyond_the_end_is_416(api: Api) -> None:
    upload = tus.upload(api.typed("ingest"), io.BytesIO(b"abc"), content_type="image/png")
    for header in ("bytes=3-", "bytes=5-9", "bytes=0-1,2-2", "items=0-1"):
        resp = api.client.get(f"/v1/media/{upload.id}", headers=bearer(api.reader) | {"Range": header})
        assert_problem(resp, 416, "range-not-satisfiable", "")


def test_wrong_sm3_stores_nothing_and_says_so(api: Api) -> None:
    data = os.urandom(2 * SEGMENT + 5)
    url = create(api, len(data), _meta(b"something else")).headers["Location"]
    assert patch(api, url, 0, data[:SEGMENT]).status_code == 204
    assert _staging(api) != []

    resp = patch(api, url, SEGMENT, data[SEGMENT:])

    assert_problem(resp, 422, "digest-mismatch", r"sm3 of upload .* is [0-9a-f]{64}, its Upload-Metadata declared "
                                                 r"[0-9a-f]{64}; nothing was stored \(the partial upload was removed\)")
    assert api.client.head(url, headers=tus_headers(api.ingest)).status_code == 404
    assert _media_rows(api) == 0 and _staging(api) == [] and _stored_files(api) == []


def test_declared_length_is_enforced(api: Api) -> None:
    url = create(api, 10, _meta(b"0123456789")).headers["Location"]
    resp = patch(api, url, 0, b"0123456789-and-more")
    assert_problem(resp, 422, "size-mismatch", "is declared as 10 bytes; these bytes would end at 19")
    assert patch(api, url, 0, b"0123456789").status_code == 204  # nothing of the refused PATCH was kept
    assert api.client.get(url, headers=bearer(api.reader)).content == b"0123456789"


def test_partial_segments_are_not_acknowledged(api: Api) -> None:
    data = os.urandom(SEGMENT * 2 + 7)
    url = create(api, len(data), _meta(data)).headers["Location"]
    first = patch(api, url, 0, data[:SEGMENT + 100])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == str(SEGMENT)
    assert first.headers["Tus-Resumable"] == "1.0.0"
    head = api.client.head(url, headers=tus_headers(api.ingest))
    assert head.headers["Upload-Offset"] == str(SEGMENT) and head.headers["Upload-Length"] == str(len(data))
    assert patch(api, url, SEGMENT, data[SEGMENT:]).headers["Upload-Offset"] == str(len(data))
    assert api.client.get(url, headers=bearer(api.reader)).content == data


def test_tus_refusals(api: Api) -> None:
    data = os.urandom(100)
    url = create(api, len(data), _meta(data)).headers["Location"]
    no_tus = api.client.patch(url, content=data, headers=bearer(api.ingest) | PATCH | {"Upload-Offset": "0"})
    assert_problem(no_tus, 422, "malformed-input", "header.Tus-Resumable: Field required")
    old = api.client.patch(url, content=data, headers=bearer(api.ingest) | PATCH | {"Upload-Offset": "0",
                                                                                    "Tus-Resumable": "0.2.2"})
    assert_problem(old, 412, "precondition-failed", "send 'Tus-Resumable: 1.0.0', got '0.2.2'")
    assert_problem(patch(api, url, 5, data[5:]), 409, "conflict", "Upload-Offset 5 is not the offset of upload .*, 0")
    wrong_type = api.client.patch(url, content=data, headers=tus_headers(api.ingest, Upload_Offset="0"))
    assert_problem(wrong_type, 415, "unsupported-media-type", "application/offset\\+octet-stream")
    assert_problem(create(api, 9 << 20, _meta(data)), 413, "too-large", "Upload-Length 9437184 is over the limit")
    assert_problem(create(api, 1, {"sm3": "ab", "content_type": "video/mp4"}), 422, "malformed-input", "sm3 must be")
    assert_problem(create(api, 1, _meta(data) | {"colour": "red"}), 422, "malformed-input", "'colour' is not known")
    assert_problem(create(api, 1, _meta(data, permit="NO-SUCH")), 404, "not-found", "permit 'NO-SUCH' does not exist")
    assert patch(api, url, 0, data).status_code == 204
    assert_problem(patch(api, url, 100, b""), 409, "conflict", "is complete \\(stored\\)")
    deleted = api.client.delete(url, headers=tus_headers(api.ingest))
    assert_problem(deleted, 409, "conflict", "stored evidence is not deleted on request")
    options = api.client.options("/v1/media", headers=bearer(api.reader))
    assert options.status_code == 204 and options.headers["Tus-Extension"] == "creation,termination,expiration"


def test_termination_removes_an_unfinished_upload(api: Api) -> None:
    data = os.urandom(SEGMENT * 2)
    url = create(api, len(data), _meta(data)).headers["Location"]
    patch(api, url, 0, data[:SEGMENT])
    assert api.client.delete(url, headers=tus_headers(api.ingest)).status_code == 204
    assert api.client.head(url, headers=tus_headers(api.ingest)).status_code == 404
    assert _media_rows(api) == 0 and _staging(api) == []


def test_tenants_and_roles(api: Api) -> None:
    data = os.urandom(100)
    url = create(api, len(data), _meta(data)).headers["Location"]
    assert_problem(patch(api, url, 0, data, token=api.reader), 403, "forbidden", "role 'reader' may not")
    assert_problem(patch(api, url, 0, data, token=api.other_ingest), 404, "not-found", "does not exist for tenant")
    patch(api, url, 0, data)
    assert api.client.get(url, headers=bearer(api.other_reader)).status_code == 404
    assert api.client.get(url, headers={}).status_code == 401


def test_patch_body_over_its_own_limit_is_413(api: Api) -> None:
    data = os.urandom(CHUNK_LIMIT + SEGMENT)
    url = create(api, len(data), _meta(data)).headers["Location"]
    resp = patch(api, url, 0, data)
    assert_problem(resp, 413, "too-large", f"request body of {len(data)} bytes exceeds the limit of {CHUNK_LIMIT}")
    assert patch(api, url, 0, data[:CHUNK_LIMIT]).headers["Upload-Offset"] == str(CHUNK_LIMIT)  # above the JSON limit
    assert patch(api, url, CHUNK_LIMIT, data[CHUNK_LIMIT:]).status_code == 204


def test_tampered_stored_segment_is_caught_by_its_position(api: Api) -> None:
    data = os.urandom(3 * SEGMENT)
    upload = tus.upload(api.typed("ingest"), io.BytesIO(data), content_type="video/mp4")
    [stored] = _stored_files(api)
    raw = bytearray(stored.read_bytes())
    raw[48 + (SEGMENT + 16) + 10] ^= 1  # a byte of segment 1
    stored.write_bytes(bytes(raw))
    reader = bearer(api.reader)

    assert api.client.get(f"/v1/media/{upload.id}", headers=reader | {"Range": "bytes=0-99"}).content == data[:100]
    resp = api.client.get(f"/v1/media/{upload.id}", headers=reader | {"Range": f"bytes={SEGMENT}-{SEGMENT + 9}"})
    assert_problem(resp, 503, "media-damaged", "segment 1 fails authentication")


def test_resume_after_a_restart_rebuilds_the_hash(settings: Settings) -> None:
    data = os.urandom(3 * SEGMENT + 10)
    with TestClient(create_app(settings)) as client:
        api = seed(client)
        url = create(api, len(data), _meta(data)).headers["Location"]
        assert patch(api, url, 0, data[:2 * SEGMENT]).status_code == 204
        tokens = api
    with TestClient(create_app(settings)) as client:
        api = Api(client, tokens.admin, tokens.ingest, tokens.reader, tokens.other_ingest, tokens.other_reader,
                  tokens.guardian, tokens.deputy, tokens.detector)
        at = int(client.head(url, headers=tus_headers(api.ingest)).headers["Upload-Offset"])
        assert at == 2 * SEGMENT
        assert patch(api, url, at, data[at:]).status_code == 204
        assert client.get(url, headers=bearer(api.reader)).content == data


# -- over a real socket: a cut mid-PATCH, and the tuspy client library --------------------------------
@pytest.fixture
def server(settings: Settings) -> Iterator[tuple[str, Any]]:
    with served(settings) as (url, app):
        yield url, app


def _cut_patch(base: str, path: str, token: str, body: bytes, declared: int) -> None:
    """Send a PATCH that declares ``declared`` bytes, send only ``body``, and hang up."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        head = (f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {declared}\r\n\r\n")
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)  # the server answers (or closes) once it saw the body end early


def test_resume_after_a_cut_connection(server: tuple[str, Any]) -> None:
    base, _ = server
    with ApiClient.connect(base, token=ADMIN_TOKEN) as root:
        api_tokens = _open(root)
    data = os.urandom(5 * SEGMENT + 123)
    with ApiClient.connect(base, token=api_tokens["ingest"]) as ingest:
        url = tus.create(ingest, len(data), _meta(data))
        _cut_patch(base, url, api_tokens["ingest"], data[:3 * SEGMENT + 500], len(data))
        assert tus.offset(ingest, url) == 3 * SEGMENT  # the whole segments that arrived
        tus.send(ingest, url, io.BytesIO(data), len(data))
        got = ingest.http.get(url, headers={"Authorization": f"Bearer {api_tokens['ingest']}"})
    assert got.content == data


def test_tuspy_uploads_and_resumes(server: tuple[str, Any]) -> None:
    base, _ = server
    with ApiClient.connect(base, token=ADMIN_TOKEN) as root:
        tokens = _open(root)
    data = os.urandom(4 * SEGMENT + 17)
    sm3, _ = tus.file_sm3(io.BytesIO(data))
    client = tus_client.TusClient(f"{base}/v1/media", headers={"Authorization": f"Bearer {tokens['ingest']}"})
    uploader = client.uploader(file_stream=io.BytesIO(data), chunk_size=2 * SEGMENT,
                               metadata={"sm3": sm3, "content_type": "video/mp4"})
    uploader.upload(stop_at=2 * SEGMENT)  # the phone goes out of coverage here
    resumed = client.uploader(file_stream=io.BytesIO(data), chunk_size=3 * SEGMENT, url=uploader.url)
    assert resumed.offset == 2 * SEGMENT
    resumed.upload()
    with ApiClient.connect(base, token=tokens["reader"]) as reader:
        got = reader.http.get(uploader.url.removeprefix(base), headers={"Authorization": f"Bearer {tokens['reader']}"})
    assert got.content == data


def _open(root: ApiClient) -> dict[str, str]:
    return dict(open_tenant(root, "acme-chem", "Acme").tokens)


def test_a_chosen_upload_id_is_used_once(api: Api) -> None:
    chosen = "3f2b8c1e-9d4a-4e6b-8a1f-0c2d3e4f5a6b"
    data = os.urandom(10)
    resp = create(api, len(data), _meta(data, media=chosen))
    assert resp.status_code == 201 and resp.headers["Location"] == f"/v1/media/{chosen}"
    assert_problem(create(api, len(data), _meta(data, media=chosen)), 409, "conflict", "a chosen upload id is used once")
    assert_problem(create(api, 1, _meta(data, media="not-a-uuid")), 422, "malformed-input", "version 4\\) UUID")
    other = api.client.post("/v1/media", headers=tus_headers(api.other_ingest, Upload_Length="10",
                                                               Upload_Metadata=tus.tus_metadata(_meta(data, media=chosen))))
    assert other.status_code == 201  # ids are per tenant


def test_a_token_with_non_ascii_characters_is_401_not_500(api: Api) -> None:
    url = create(api, 10, _meta(b"0123456789")).headers["Location"]
    resp = api.client.patch(url, content=b"0123456789", headers={
        "Authorization": "Bearer t\u00e9st".encode("latin-1"), "Tus-Resumable": "1.0.0", "Upload-Offset": "0"} | PATCH)
    assert_problem(resp, 401, "unauthorized", "unknown bearer token")
