"""The log as a C2SP tlog-tiles log under ``/v1/log/tlog/``: the signed checkpoint as text and the Merkle tree
as hash tiles (``ledger.tiles``), so a static store or CDN can serve the read side. Open to anyone: only hashes.

A full tile's bytes never change (``Cache-Control: immutable``, a year); a partial tile is kept a minute; a tile
the newest checkpoint does not hold yet is a 404 that no cache may keep. Entry bundles are not served
(docs/formats.md, "Tiles": leaf bytes carry tenant, permit and actor ids).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from evidence_api.deps import ServicesDep
from evidence_api.errors import problem, problems
from evidence_api.routes.strict import StrictRoute
from ledger.log import TransparencyLog
from ledger.tiles import Tile, TileNotFound, read_tile, require_tile

__all__ = [
    "CHECKPOINT_CACHE",
    "FULL_TILE_CACHE",
    "MISSING_TILE_CACHE",
    "PARTIAL_TILE_CACHE",
    "TILE_PATH_PATTERN",
    "existing_tile",
    "missing_response",
    "router",
    "tile_body",
    "tile_response",
]

router = APIRouter(prefix="/v1/log/tlog", tags=["log"], route_class=StrictRoute)

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
"""A full tile: its 256 hashes are of complete subtrees, final once committed."""
PARTIAL_TILE_CACHE = "public, max-age=60"
"""A partial tile: its bytes are final too, but the log may stop serving it once the full tile exists."""
MISSING_TILE_CACHE = "no-store"
"""A tile (or the first checkpoint) that does not exist yet will exist soon: no cache may keep the 404."""
CHECKPOINT_CACHE = "public, max-age=2"
"""The checkpoint changes as the log grows: a few seconds at most (C2SP tlog-tiles)."""

TILE_PATH_PATTERN = (r"^([0-9]|[1-5][0-9]|6[0-3])/"
                     r"([0-9]{3}|x(00[1-9]|0[1-9][0-9]|[1-9][0-9]{2})/(x[0-9]{3}/){0,5}[0-9]{3})"
                     r"(\.p/([1-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))?$")
"""Exactly the canonical ``<L>/<N>[.p/<W>]`` (documented; the route parses it itself, to say what is wrong)."""
_TilePath = Annotated[str, Path(description="<L>/<N>[.p/<W>], e.g. 0/x001/234.p/5 (C2SP tlog-tiles)",
                                json_schema_extra={"pattern": TILE_PATH_PATTERN})]
_BINARY = {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}
_TEXT = {"text/plain": {"schema": {"type": "string", "format": "binary"}}}


@router.get("/checkpoint", response_class=Response, responses=problems(404) | {
    200: {"description": "The newest signed checkpoint: a C2SP tlog-checkpoint note", "content": _TEXT}})
def checkpoint(services: ServicesDep) -> Response:
    """The newest signed checkpoint as its note text (the ``text`` of ``GET /v1/log/checkpoint``)."""
    latest = services.log.latest_checkpoint()
    if latest is None:
        return missing_response("the log is empty: no checkpoint yet")
    return Response(latest.text, media_type="text/plain; charset=utf-8", headers={"Cache-Control": CHECKPOINT_CACHE})


@router.get("/tile/{tile_path:path}", response_class=Response, responses=problems(404) | {
    200: {"description": "The tile: its hashes, 32 bytes each, concatenated", "content": _BINARY}})
def tile(tile_path: _TilePath, services: ServicesDep) -> Response:
    """A hash tile ``<L>/<N>[.p/<W>]`` of the tree of the newest checkpoint (C2SP tlog-tiles, SM3 hashes)."""
    try:
        return tile_response(services.log, "tile/" + tile_path)
    except TileNotFound as exc:
        return missing_response(str(exc))


def tile_response(log: TransparencyLog, path: str, found: tuple[Tile, int] | None = None) -> Response:
    """The 200 answer for the tile ``path`` names (bytes and caching); raises as ``tile_body`` does.
    ``found`` is what ``existing_tile`` already said of ``path``, if it was asked."""
    wanted, body = tile_body(log, path, found)
    cache = FULL_TILE_CACHE if wanted.is_full else PARTIAL_TILE_CACHE
    return Response(body, media_type="application/octet-stream", headers={"Cache-Control": cache})


def missing_response(detail: str) -> Response:
    """The 404 problem of a checkpoint or tile that does not exist yet, which no cache may keep."""
    return problem(404, "not-found", "Not found", detail, headers={"Cache-Control": MISSING_TILE_CACHE})


def existing_tile(log: TransparencyLog, path: str) -> tuple[Tile, int]:
    """The tile ``path`` names and the size of ``log``'s newest checkpoint, whose tree holds it (no I/O).

    Raises ``TilePathError`` for a path that is not a canonical tile path, ``TileNotFound`` for a tile that
    tree does not hold (or an entry bundle).
    """
    wanted = Tile.parse(path)
    latest = log.latest_checkpoint()
    size = latest.checkpoint.tree_size if latest is not None else 0
    require_tile(wanted, size)
    return wanted, size


def tile_body(log: TransparencyLog, path: str, found: tuple[Tile, int] | None = None) -> tuple[Tile, bytes]:
    """The tile ``path`` names and its bytes in the tree of ``log``'s newest checkpoint (``found``: what
    ``existing_tile`` already said of ``path``). Raises as ``existing_tile`` does, and ``StorageError`` when the
    store cannot be read."""
    wanted, size = found or existing_tile(log, path)
    with log.engine.connect() as conn:
        return wanted, read_tile(conn, wanted, size)
