"""CORS for browser tus clients (tus-js-client) on /v1/media: a listed origin's preflight is answered without a
token, its responses expose the tus headers (errors too); any other origin, another path, or a service
without the setting gets no CORS header at all."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from evidence_api.config import Settings
from evidence_api.main import create_app
from ingest.media import tus
from tests.api.media_support import PATCH, tus_headers
from tests.api.support import ADMIN_TOKEN, MAX_BATCH, MAX_BODY_BYTES, Api, bearer, seed

CONSOLE = "https://console.plant.example"
STRANGER = "https://evil.example"
EXPOSED = ("Upload-Offset", "Upload-Length", "Location", "Tus-Resumable", "Tus-Version", "Tus-Extension",
           "Tus-Max-Size", "Upload-Expires")


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(environment="dev", data_dir=tmp_path / "data", database_url=database_url, admin_token=ADMIN_TOKEN,
                    intake_workers=0, checkpoint_interval=0.05, anchor_interval=0.1, max_batch=MAX_BATCH,
                    max_body_bytes=MAX_BODY_BYTES, media_cors_origins=[CONSOLE, "http://127.0.0.1:5173"])


def _cors(headers: object) -> dict[str, str]:
    return {k.lower(): v for k, v in dict(headers).items()  # type: ignore[call-overload]
            if k.lower().startswith("access-control-")}


def _preflight(client: TestClient, origin: str, path: str = "/v1/media", method: str = "POST") -> object:
    return client.options(path, headers={"Origin": origin, "Access-Control-Request-Method": method,
                                         "Access-Control-Request-Headers": "tus-resumable,upload-length,authorization"})


def _metadata(data: bytes) -> str:
    sm3, _ = tus.file_sm3(io.BytesIO(data))
    return tus.tus_metadata({"sm3": sm3, "content_type": "video/mp4"})


def test_preflight_of_a_listed_origin_allows_the_tus_methods_and_headers(api: Api) -> None:
    for path, method in [("/v1/media", "POST"), ("/v1/media/3f2b8c1e-9d4a-4e6b-8a1f-0c2d3e4f5a6b", "PATCH")]:
        resp = _preflight(api.client, CONSOLE, path, method)
        assert resp.status_code == 204, resp.text  # type: ignore[attr-defined]
        cors = _cors(resp.headers)  # type: ignore[attr-defined]
        assert cors["access-control-allow-origin"] == CONSOLE
        assert {"POST", "PATCH", "HEAD", "DELETE", "OPTIONS", "GET"} <= set(cors["access-control-allow-methods"]
                                                                           .split(", "))
        allowed = {h.lower() for h in cors["access-control-allow-headers"].split(", ")}
        assert {"authorization", "tus-resumable", "upload-length", "upload-metadata", "upload-offset",
                "content-type"} <= allowed
        assert "access-control-allow-credentials" not in cors  # bearer tokens, never cookies


def test_a_listed_origin_uploads_and_reads_the_tus_headers(api: Api) -> None:
    data = os.urandom(1000)
    origin = {"Origin": CONSOLE}
    created = api.client.post("/v1/media", headers=origin | tus_headers(api.ingest, Upload_Length=str(len(data)),
                                                                            Upload_Metadata=_metadata(data)))
    assert created.status_code == 201
    cors = _cors(created.headers)
    assert cors["access-control-allow-origin"] == CONSOLE
    assert set(EXPOSED) <= set(cors["access-control-expose-headers"].split(", "))
    assert "Origin" in created.headers["Vary"]
    url = created.headers["Location"]
    sent = api.client.patch(url, content=data, headers=origin | tus_headers(api.ingest, Upload_Offset="0") | PATCH)
    assert sent.status_code == 204 and _cors(sent.headers)["access-control-allow-origin"] == CONSOLE
    options = api.client.options("/v1/media", headers=origin | bearer(api.reader))  # no preflight: tus's OPTIONS
    assert options.headers["Tus-Version"] == "1.0.0" and _cors(options.headers)["access-control-allow-origin"] == CONSOLE
    unauthorised = api.client.head(url, headers=origin | tus.TUS_HEADERS)
    assert unauthorised.status_code == 401 and _cors(unauthorised.headers)["access-control-allow-origin"] == CONSOLE


def test_another_origin_gets_no_cors_headers(api: Api) -> None:
    data = os.urandom(10)
    for origin in (STRANGER, CONSOLE + "/", "https://console.plant.example:444", "null"):
        preflight = _preflight(api.client, origin)
        assert _cors(preflight.headers) == {}, origin  # type: ignore[attr-defined]
        assert preflight.status_code == 401  # type: ignore[attr-defined]  # tus's OPTIONS, which needs a token
        created = api.client.post("/v1/media", headers={"Origin": origin} | tus_headers(
            api.ingest, Upload_Length=str(len(data)), Upload_Metadata=_metadata(data)))
        assert created.status_code == 201 and _cors(created.headers) == {}, origin
    assert _cors(api.client.post("/v1/media", headers=tus_headers(api.ingest)).headers) == {}  # no Origin


def test_other_paths_get_no_cors_headers(api: Api) -> None:
    resp = api.client.get("/v1/log/checkpoint", headers={"Origin": CONSOLE} | bearer(api.reader))
    assert _cors(resp.headers) == {}
    assert _cors(_preflight(api.client, CONSOLE, "/v1/events").headers) == {}  # type: ignore[attr-defined]


def test_without_the_setting_there_is_no_cors(tmp_path: Path, database_url: str) -> None:
    settings = Settings(environment="dev", data_dir=tmp_path / "plain", database_url=database_url,
                        admin_token=ADMIN_TOKEN, intake_workers=0)
    assert settings.media_cors_origins == []
    with TestClient(create_app(settings)) as client:
        api = seed(client)
        assert _cors(_preflight(client, CONSOLE).headers) == {}  # type: ignore[attr-defined]
        resp = client.options("/v1/media", headers={"Origin": CONSOLE} | bearer(api.reader))
        assert resp.status_code == 204 and _cors(resp.headers) == {}


@pytest.mark.parametrize("origin", ["*", "https://console.example/", "https://Console.example", "console.example",
                                    "https://console.example/path", "ftp://console.example"])
def test_a_malformed_origin_setting_is_refused(tmp_path: Path, origin: str) -> None:
    with pytest.raises(ValidationError, match="TIEZHENG_MEDIA_CORS_ORIGINS: a CORS origin is scheme://host"):
        Settings(data_dir=tmp_path, media_cors_origins=[CONSOLE, origin])
