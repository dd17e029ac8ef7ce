"""``ProofPath``: a well-formed proof request answered before FastAPI's routing (pure ASGI).

``GET /v1/log/proofs/inclusion?leaf_index=I&tree_size=N`` (and ``/consistency?first=A&second=B``), with
exactly those two parameters once each, in either order, as plain decimals within the routes' bounds and no
body, is answered here with the very bytes the route makes (the same body functions of
``evidence_api.routes.log``, in a worker thread as FastAPI runs the route), without route matching,
dependency solving and the threadpool hops of the app-wide dependencies: the server's cost of a proof is
then mostly the proof's. Anything else, and any request whose proof fails, goes on to the app untouched, so
refusals are the route's own (tests/api/test_proof_path.py holds both paths' answers equal, byte for byte).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import anyio.to_thread
from starlette.types import ASGIApp, Receive, Scope, Send

from evidence_api.routes.log import MAX_SIZE, consistency_body, inclusion_body
from ledger.log import TransparencyLog

__all__ = ["ProofPath"]

_Body = Callable[[TransparencyLog, int, int], bytes]
_ROUTES: dict[str, tuple[tuple[bytes, bytes], _Body]] = {
    "/v1/log/proofs/inclusion": ((b"leaf_index", b"tree_size"), inclusion_body),
    "/v1/log/proofs/consistency": ((b"first", b"second"), consistency_body),
}
_DECIMAL = re.compile(rb"0|[1-9][0-9]{0,16}")
_HEADERS = b"content-type", b"application/json"


class ProofPath:
    """ASGI middleware answering well-formed proof requests itself; every other request passes to ``app``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a well-formed proof request, or pass the request on."""
        route = _ROUTES.get(scope.get("path", "")) if scope["type"] == "http" and scope["method"] == "GET" else None
        args = _arguments(scope, route[0]) if route is not None else None
        if route is None or args is None:
            await self.app(scope, receive, send)
            return
        try:
            body = await anyio.to_thread.run_sync(route[1], scope["app"].state.services.log, *args)
        except Exception:  # noqa: BLE001 - the route answers (and words) every refusal and failure itself
            await self.app(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode()), _HEADERS]})
        await send({"type": "http.response.body", "body": body})


def _arguments(scope: Scope, names: tuple[bytes, bytes]) -> tuple[int, int] | None:
    """The two integers of a query of exactly ``names`` (once each, plain decimals <= MAX_SIZE) and no body."""
    if any(key in (b"content-length", b"transfer-encoding") for key, _ in scope["headers"]):
        return None
    pairs = [part.partition(b"=") for part in scope.get("query_string", b"").split(b"&")]
    found = {name: value for name, eq, value in pairs if eq and _DECIMAL.fullmatch(value)}
    if len(pairs) != 2 or set(found) != set(names):
        return None
    first, second = int(found[names[0]]), int(found[names[1]])
    return (first, second) if first <= MAX_SIZE and second <= MAX_SIZE else None
