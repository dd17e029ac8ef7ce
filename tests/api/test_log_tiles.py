"""``/v1/log/tlog/``: the log as a C2SP tlog-tiles log. The text checkpoint is the signed one, tiles carry the
caching a CDN needs, what does not exist is a 404 with the reason that nothing caches, and no path ever answers
500. Every receipt is proved from the served tiles alone with the independent verifier."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_api.routes.tiles import (
    CHECKPOINT_CACHE,
    FULL_TILE_CACHE,
    MISSING_TILE_CACHE,
    PARTIAL_TILE_CACHE,
    TILE_PATH_PATTERN,
)
from ledger.log import TransparencyLog
from ledger.tiles import EntriesNotServed, Tile, TilePathError
from tests.api.support import BOTH_DATABASES, Api, assert_problem
from tests.helpers import grow
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.tiles import TiledTree

PREFIX = "/v1/log/tlog/"


def _log(api: Api) -> TransparencyLog:
    log: TransparencyLog = api.client.app.state.services.log  # type: ignore[attr-defined]
    return log


def _fetch(client: TestClient) -> object:
    def fetch(path: str) -> bytes:
        resp = client.get(PREFIX + path)
        resp.raise_for_status()
        return resp.content
    return fetch


def test_checkpoint_text_is_the_signed_checkpoint(api: Api) -> None:
    empty = api.client.get(PREFIX + "checkpoint")
    assert_problem(empty, 404, "not-found", "the log is empty: no checkpoint yet")
    assert empty.headers["cache-control"] == "no-store"
    grow(_log(api), 3)

    resp = api.client.get(PREFIX + "checkpoint")

    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/plain; charset=utf-8"
    assert resp.headers["cache-control"] == CHECKPOINT_CACHE == "public, max-age=2"
    assert resp.text == api.client.get("/v1/log/checkpoint").json()["text"]
    verify_checkpoint(Checkpoint.from_text(resp.text), public_key_pem=api.log_key_pem())


@BOTH_DATABASES
def test_every_leaf_is_proved_from_served_tiles_alone(api: Api) -> None:
    log = _log(api)
    grow(log, 300)
    checkpoint = Checkpoint.from_text(api.client.get(PREFIX + "checkpoint").text)
    verify_checkpoint(checkpoint, public_key_pem=api.log_key_pem())
    assert checkpoint.tree_size == 300

    tiled = TiledTree(checkpoint.tree_size, checkpoint.root_hash, _fetch(api.client))  # type: ignore[arg-type]
    for index in range(300):
        tiled.verify_inclusion(index, log.prove_inclusion(index, 300)[0])
    for first in (0, 1, 255, 256, 257, 299):
        tiled.verify_consistency(first, log.root_at(first))


def test_tiles_carry_their_cache_headers(api: Api) -> None:
    grow(_log(api), 260)

    full, partial, top = (api.client.get(PREFIX + p) for p in ("tile/0/000", "tile/0/001.p/4", "tile/1/000.p/1"))
    older = api.client.get(PREFIX + "tile/0/001.p/2")  # what a client of an older checkpoint (258) asks for

    assert (full.status_code, len(full.content), full.headers["cache-control"]) == (200, 8192, FULL_TILE_CACHE)
    assert full.headers["content-type"] == "application/octet-stream"
    assert (partial.status_code, len(partial.content), partial.headers["cache-control"]) == (200, 128,
                                                                                             PARTIAL_TILE_CACHE)
    assert (top.status_code, len(top.content)) == (200, 32)
    assert older.content == partial.content[:64]
    assert FULL_TILE_CACHE == "public, max-age=31536000, immutable" and PARTIAL_TILE_CACHE == "public, max-age=60"


@pytest.mark.parametrize(("path", "detail"), [
    ("tile/0/001", r"^tile/0/001 does not exist yet: it needs a tree of 512 leaves and the newest checkpoint has 260$"),
    ("tile/0/001.p/5", r"^tile/0/001\.p/5 does not exist yet: it needs a tree of 261 leaves"),
    ("tile/1/000", r"^tile/1/000 does not exist yet: it needs a tree of 65,536 leaves"),
    ("tile/7/x001/000", r"^tile/7/x001/000 does not exist yet"),
    ("tile/entries/000", r"^'tile/entries/000': entry bundles are not served by this log; it serves hash tiles only"),
])
def test_missing_tile_is_a_404_with_its_reason_that_no_cache_keeps(api: Api, path: str, detail: str) -> None:
    grow(_log(api), 260)

    resp = api.client.get(PREFIX + path)

    assert_problem(resp, 404, "not-found", detail)
    assert resp.headers["cache-control"] == MISSING_TILE_CACHE == "no-store"


def test_tile_of_an_empty_log_is_a_404(api: Api) -> None:
    assert_problem(api.client.get(PREFIX + "tile/0/000.p/1"), 404, "not-found",
                   r"^tile/0/000\.p/1 does not exist yet: it needs a tree of 1 leaves and the newest checkpoint has 0$")


@pytest.mark.parametrize(("path", "detail"), [
    ("tile/0/1", r"^'tile/0/1' is not a tile path: want tile/<level>/<index>\[\.p/<width>\]"),
    ("tile/0/x000/001", r"^'tile/0/x000/001': the index has a leading zero group; write it 001$"),
    ("tile/0/000.p/256", r"^'tile/0/000\.p/256': a partial tile has 1 to 255 hashes, not 256$"),
    ("tile/99/000", r"^'tile/99/000': tile level 99 is above 63$"),
    ("tile/", r"^'tile/' is not a tile path"),
])
def test_malformed_tile_path_is_refused_with_the_reason(api: Api, path: str, detail: str) -> None:
    assert_problem(api.client.get(PREFIX + path), 422, "malformed-input", detail)


def test_tile_route_takes_no_query(api: Api) -> None:
    assert_problem(api.client.get(PREFIX + "tile/0/000", params={"w": "1"}), 422, "malformed-input",
                   r"^unknown query parameter\(s\) \['w'\]")


@pytest.fixture
def grown(api: Api) -> Api:
    grow(_log(api), 20)
    return api


_SEGMENT = st.one_of(st.from_regex(r"x?[0-9]{1,4}(\.p/[0-9]{0,4})?", fullmatch=True),
                     st.sampled_from(["", ".", "..", "entries", "x", "%2F", "0", "000", "x000"]), st.text(max_size=8))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(_SEGMENT, max_size=9), level=st.one_of(st.integers(-1, 70).map(str), st.text(max_size=3)))
def test_no_tile_path_answers_500(grown: Api, parts: list[str], level: str) -> None:
    path = PREFIX + "tile/" + quote("/".join([level, *parts]), safe="/.")
    try:
        resp = grown.client.get(path)
    except httpx.InvalidURL:
        return
    assert resp.status_code in (200, 404, 422), (path, resp.status_code, resp.text)
    if resp.status_code == 200:
        assert len(resp.content) % 32 == 0 and 0 < len(resp.content) <= 8192


@settings(max_examples=500, deadline=None)
@given(text=st.one_of(st.from_regex(r"[0-9]{1,2}/(x[0-9]{3}/){0,8}[0-9]{3}(\.p/[0-9]{1,3})?", fullmatch=True),
                      st.text(max_size=24)))
def test_documented_pattern_is_what_the_route_accepts(text: str) -> None:
    """The OpenAPI pattern of the path parameter (for clients and schemathesis) and the parser agree exactly."""
    try:
        Tile.parse("tile/" + text)
        accepted = True
    except (TilePathError, EntriesNotServed):
        accepted = False
    assert accepted == bool(re.fullmatch(TILE_PATH_PATTERN, text)), text
