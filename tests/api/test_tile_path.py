"""``evidence_api.routes.tiles_fast.TilePath`` answers exactly what the tile route answers: the same status, headers
and bytes for any request (existing tiles it serves itself, everything else it passes on), compared with the same
app without it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import anyio
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from evidence_api.config import Settings
from evidence_api.main import create_app
from evidence_api.routes.tiles_fast import TilePath
from ledger.log import TransparencyLog
from tests.api.support import Api
from tests.helpers import grow

SIZE = 300


@pytest.fixture
def reference(api: Api, settings: Settings) -> Iterator[TestClient]:
    """The same app without ``TilePath``, on the running app's services (its lifespan is not run)."""
    log: TransparencyLog = api.client.app.state.services.log  # type: ignore[attr-defined]
    grow(log, SIZE)
    app = create_app(settings)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not TilePath]
    app.state.services = api.client.app.state.services  # type: ignore[attr-defined]
    yield TestClient(app, raise_server_exceptions=False)


def _answer(client: TestClient, method: str, path: str, query: str, body: bytes | None) -> tuple[object, ...]:
    resp = client.request(method, f"{path}?{query}" if query else path, content=body)
    return resp.status_code, resp.headers.multi_items(), resp.content


_TILES = st.sampled_from(["0/000", "0/001.p/44", "0/001.p/1", "0/001.p/45", "0/001", "1/000.p/1", "1/000.p/2",
                          "0/x000/000", "00/000", "0/000/", "entries/000", "0/000.p/256", "", "0", "0/%30%30%30"])
_PATHS = st.one_of(_TILES, st.builds("/".join, st.lists(st.one_of(
    st.from_regex(r"x?[0-9]{1,4}(\.p/[0-9]{1,3})?", fullmatch=True), st.text(max_size=5).map(quote)), max_size=5)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tile=_PATHS, prefix=st.sampled_from(["/v1/log/tlog/tile/", "/v1/log/tlog/tile/", "/v1/log/tlog/tiles/"]),
       query=st.sampled_from(["", "", "", "w=1", "x"]), method=st.sampled_from(["GET", "GET", "HEAD", "POST"]),
       body=st.sampled_from([None, None, b"", b"{}"]))
def test_tile_path_answers_as_the_route_does(api: Api, reference: TestClient, tile: str, prefix: str, query: str,
                                             method: str, body: bytes | None) -> None:
    assert _answer(api.client, method, prefix + tile, query, body) == _answer(reference, method, prefix + tile,
                                                                              query, body)


def test_tile_path_answers_tiles_and_misses_itself_and_passes_the_rest_on(api: Api, reference: TestClient) -> None:
    passed: list[str] = []

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(scope["path"])

    async def call(path: str) -> list[Message]:
        sent: list[Message] = []

        async def send(message: Message) -> None:
            sent.append(message)

        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": [],
                 "app": api.client.app}
        await TilePath(downstream)(scope, receive, send)
        return sent

    sent = anyio.run(call, "/v1/log/tlog/tile/0/000")
    assert passed == [] and sent[0]["status"] == 200 and len(sent[1]["body"]) == 8192
    assert sent[1]["body"] == reference.get("/v1/log/tlog/tile/0/000").content
    for path in ("/v1/log/tlog/tile/0/001", "/v1/log/tlog/tile/entries/000"):  # the route's 404, without routing
        sent = anyio.run(call, path)
        assert sent[0]["status"] == 404 and sent[1]["body"] == reference.get(path).content
    assert passed == []
    assert anyio.run(call, "/v1/log/tlog/tile/0/1") == []  # malformed: the route words it
    assert passed == ["/v1/log/tlog/tile/0/1"]
