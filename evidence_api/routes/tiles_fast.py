"""``TilePath``: a tile request answered before FastAPI's routing (pure ASGI), as ``evidence_api.proof_path`` does
for proofs: tiles are what a tile client fetches most, and routing, dependency solving and the app-wide query check
cost more than the tile's own read.

``GET /v1/log/tlog/tile/…`` with no query string and no body is answered here with the very response the route
makes: for a tile the newest checkpoint holds, ``evidence_api.routes.tiles.tile_response`` in a worker thread as
FastAPI runs the route; for one it does not hold yet (or an entry bundle), the route's 404, decided on the loop.
Anything else — another method, a query, a body, a malformed path, a storage failure — goes on to the app
untouched, so those refusals are the route's own
(tests/api/test_tile_path.py holds both paths' answers equal, byte for byte).
"""

from __future__ import annotations

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from evidence_api.routes.tiles import existing_tile, missing_response, tile_response
from ledger.tiles import TileNotFound

__all__ = ["TilePath"]

_PREFIX = "/v1/log/tlog/tile/"


class TilePath:
    """ASGI middleware answering well-formed requests for existing tiles itself; every other request passes on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a request for an existing tile, or pass the request on."""
        if not _plain_tile_get(scope):
            await self.app(scope, receive, send)
            return
        log, path = scope["app"].state.services.log, "tile/" + scope["path"][len(_PREFIX):]
        try:
            found = existing_tile(log, path)  # on the loop: no I/O
        except TileNotFound as exc:  # the route's own 404 for it, without routing
            await missing_response(str(exc))(scope, receive, send)
            return
        except Exception:  # noqa: BLE001 - the route answers (and words) every other refusal itself
            await self.app(scope, receive, send)
            return
        try:
            response = await anyio.to_thread.run_sync(tile_response, log, path, found)
        except Exception:  # noqa: BLE001 - a failed read: the route answers (and words) it
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def _plain_tile_get(scope: Scope) -> bool:
    """A GET of a path under the tile prefix with no query string and no body."""
    return (scope["type"] == "http" and scope["method"] == "GET" and scope.get("path", "").startswith(_PREFIX)
            and not scope.get("query_string")
            and not any(key in (b"content-length", b"transfer-encoding") for key, _ in scope["headers"]))
