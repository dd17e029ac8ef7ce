"""Every request body passes one gate (``evidence_api.middleware.BodyGuard``) and one strict parser
(``evidence_api.routes.strict``): a body over ``max_body_bytes`` is 413 before it is read (declared) or as it
streams (chunked); a body without a known bearer token is 401 unread; JSON must be ``application/json``
(415), without duplicate keys, non-finite numbers or unsafe integers (422). Each refusal changes nothing.
The size and auth gates are also tested over a real server socket, watching the server's memory."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func
from sqlalchemy import select as sql_select

from evidence_api import db
from tests.api.support import ADMIN_TOKEN, MAX_BODY_BYTES, Api, assert_problem, bearer

_JSON = {"Content-Type": "application/json"}


def _sites(api: Api) -> int:
    with api.client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        counted: int = conn.execute(sql_select(func.count()).select_from(db.sites)).scalar_one()
    return counted


def _chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    """A site as JSON padded with white space to ``total`` bytes, sent chunked (no Content-Length)."""
    yield b'{"id": "plant-1", "name": "x"'
    for _ in range(total // size):
        yield b" " * size
    yield b"}"


# -- size ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/v1/sites", "/v1/tenants", "/v1/keys", "/v1/settings/rules", "/v1/events",
                                  "/v1/permits", "/v1/certificates/import", "/v1/log/checkpoint"])
def test_declared_body_over_limit_returns_413_on_every_route(api: Api, path: str) -> None:
    before = _sites(api)
    resp = api.client.post(path, content=b"x" * (MAX_BODY_BYTES + 1), headers=bearer(api.admin) | _JSON)

    assert_problem(resp, 413, "too-large",
                   f"request body of {MAX_BODY_BYTES + 1} bytes exceeds the limit of {MAX_BODY_BYTES} bytes")
    assert _sites(api) == before and api.tree_size == 0


@pytest.mark.parametrize("path", ["/v1/sites", "/v1/events", "/v1/permits", "/v1/certificates/import"])
def test_chunked_body_over_limit_returns_413_while_streaming(api: Api, path: str) -> None:
    content_type = "text/csv" if path.endswith("import") else "application/json"
    resp = api.client.post(path, content=_chunks(MAX_BODY_BYTES * 4),
                           headers=bearer(api.admin) | {"Content-Type": content_type})

    assert "content-length" not in resp.request.headers
    assert_problem(resp, 413, "too-large", f"request body exceeds the limit of {MAX_BODY_BYTES} bytes")
    assert _sites(api) == 0 and api.tree_size == 0


def test_chunked_body_within_limit_is_accepted(api: Api) -> None:
    resp = api.client.post("/v1/sites", content=_chunks(MAX_BODY_BYTES // 2), headers=bearer(api.admin) | _JSON)

    assert resp.status_code == 201, resp.text
    assert _sites(api) == 1


# -- authentication before the body --------------------------------------------------------------------
@pytest.mark.parametrize(("headers", "detail"), [
    ({}, "send 'Authorization: Bearer <token>'"),
    (bearer("not-a-token-of-ours"), "unknown bearer token"),
    ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "send 'Authorization: Bearer <token>'"),
])
def test_unauthenticated_body_returns_401_unread(api: Api, headers: dict[str, str], detail: str) -> None:
    read: list[int] = []

    def body() -> Iterator[bytes]:
        for _ in range(4):
            read.append(1)
            yield b"{}"

    resp = api.client.post("/v1/sites", content=body(), headers=headers | _JSON)

    assert_problem(resp, 401, "unauthorized", detail)
    assert resp.headers["www-authenticate"] == "Bearer"
    assert _sites(api) == 0
    resp = api.client.post("/v1/sites", content=b"x" * (MAX_BODY_BYTES + 1), headers=headers | _JSON)
    assert resp.status_code == 413  # the declared size is refused before anything else


# -- one strict parser, one media-type check, for every JSON route -------------------------------------
def _json_routes(api: Api) -> list[tuple[str, str]]:
    paths = api.client.get("/openapi.json").json()["paths"]
    return [(method.upper(), path.replace("{", "").replace("}", ""))
            for path, operations in paths.items() for method, operation in operations.items()
            if "application/json" in operation.get("requestBody", {}).get("content", {})]


def test_json_routes_are_all_covered(api: Api) -> None:
    routes = _json_routes(api)
    assert ("PUT", "/v1/settings/rules") in routes and ("POST", "/v1/events") in routes
    assert ("POST", "/v1/permits/permit_id/actions") in routes and len(routes) >= 12


@pytest.mark.parametrize(("body", "detail"), [
    (b'{"id": "a", "name": "x", "id": "b"}', "body is not strict JSON: duplicate key 'id' in an object"),
    (b'{"nested": {"n": 1e400}}', "body is not strict JSON: number 1e400 is not finite"),
    (b'{"n": NaN}', "body is not strict JSON: NaN is not a JSON number"),
    (b'{"n": -Infinity}', "body is not strict JSON: -Infinity is not a JSON number"),
    (b'{"n": 12345678901234567890}', r"integer 12345678901234567890 is beyond \+-\(2\*\*53 - 1\)"),
    (b'{"s": "\\ud800"}', "body is not strict JSON: .*surrogate"),
    (b'{"s": "\xff"}', "body is not UTF-8"),
])
def test_every_json_route_refuses_loose_json_with_422(api: Api, body: bytes, detail: str) -> None:
    for method, path in _json_routes(api):
        resp = api.client.request(method, path, content=body, headers=bearer(api.admin) | _JSON)
        assert_problem(resp, 422, "malformed-input", detail)
    assert _sites(api) == 0 and api.tree_size == 0


def test_every_json_route_refuses_other_media_types_with_415(api: Api) -> None:
    for method, path in _json_routes(api):
        for content_type in ({}, {"Content-Type": "text/plain"}, {"Content-Type": "application/json; charset=gbk"}):
            resp = api.client.request(method, path, content=b'{"id": "plant-1", "name": "x"}',
                                      headers=bearer(api.admin) | content_type)
            assert_problem(resp, 415, "unsupported-media-type", r"Content-Type must be one of \['application/json'\]"
                                                                "|JSON bodies are UTF-8")
    assert _sites(api) == 0


def test_json_with_charset_utf8_is_accepted(api: Api) -> None:
    resp = api.client.post("/v1/sites", content='{"id": "plant-1", "name": "一厂"}'.encode(),
                           headers=bearer(api.admin) | {"Content-Type": "application/json; charset=utf-8"})

    assert resp.status_code == 201, resp.text


def test_certificate_import_takes_csv_and_xlsx_only(api: Api) -> None:
    for content_type in ("application/json", "text/plain", "application/csv"):
        resp = api.client.post("/v1/certificates/import", content=b"a,b\n", headers=bearer(api.admin) | {
            "Content-Type": content_type})
        assert_problem(resp, 415, "unsupported-media-type", r"Content-Type must be one of \['text/csv', 'application/"
                                                            r"vnd.openxmlformats-officedocument.spreadsheetml.sheet'\]")


# -- over a real socket: a 200 MiB unauthenticated body is never read --------------------------------
def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``tiezheng serve`` in its own process, with a 1 MiB body limit."""
    port = _port()
    env = {**os.environ, "TIEZHENG_DATA_DIR": str(tmp_path), "TIEZHENG_ADMIN_TOKEN": ADMIN_TOKEN,
           "TIEZHENG_INTAKE_WORKERS": "0", "TIEZHENG_MAX_BODY_BYTES": str(1 << 20)}
    process = subprocess.Popen([sys.executable, "-m", "evidence_api.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/log/public-key", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)  # waiting for the server to listen, not standing in for synchronisation
        yield port, process
    finally:
        process.kill()
        process.wait()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _send_until_answered(port: int, head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then ``chunks`` until the server answers (or stops reading); the response and the body
    bytes sent by then."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(head)
    sent = 0
    try:
        for chunk in chunks:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable or not writable:
                break
            sock.sendall(chunk)
            sent += len(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(30)
    response = b""
    try:
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            response += data
    finally:
        sock.close()
    return response, sent


_MIB = 1 << 20
_TOTAL = 200 * _MIB


def _body_chunks(chunked: bool) -> Iterator[bytes]:
    block = b"x" * _MIB
    for _ in range(_TOTAL // _MIB):
        yield b"%x\r\n%s\r\n" % (len(block), block) if chunked else block


_DECLARED = b"Content-Length: %d\r\n" % _TOTAL
_CHUNKED = b"Transfer-Encoding: chunked\r\n"
_ADMIN = b"Authorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n"


@pytest.mark.parametrize(("framing", "auth", "status", "detail"), [
    (_CHUNKED, b"", b"401", b"send 'Authorization: Bearer <token>'"),
    (_CHUNKED, b"Authorization: Bearer not-ours\r\n", b"401", b"unknown bearer token"),
    (_DECLARED, b"", b"413", b"request body of 209715200 bytes exceeds the limit of 1048576 bytes"),
    (_CHUNKED, _ADMIN, b"413", b"request body exceeds the limit of 1048576 bytes"),
], ids=["chunked-no-token", "chunked-unknown-token", "declared-no-token", "chunked-admin"])
def test_socket_200_mib_post_refused_without_buffering(server: tuple[int, subprocess.Popen[bytes]], framing: bytes,
                                                       auth: bytes, status: bytes, detail: bytes) -> None:
    port, process = server
    before = _rss_kib(process.pid)
    head = b"POST /v1/sites HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + auth + framing + b"\r\n"

    response, sent = _send_until_answered(port, head, _body_chunks(chunked=framing == _CHUNKED))

    assert response.startswith(b"HTTP/1.1 " + status), response[:300]
    assert b"application/problem+json" in response and detail in response, response
    assert sent < _TOTAL // 4, f"the client sent {sent} bytes before the answer"
    assert _rss_kib(process.pid) - before < 20 * 1024, "the server's memory grew by the body"
    assert httpx.get(f"http://127.0.0.1:{port}/v1/log/public-key").status_code == 200  # and still serves
