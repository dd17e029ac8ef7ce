"""``MediaCors``: CORS (the Fetch standard's CORS protocol) for browser tus clients on ``/v1/media`` (pure ASGI).

A browser page served from another origin (a web console using tus-js-client) may upload and read media
only if its origin is listed in ``TIEZHENG_MEDIA_CORS_ORIGINS``; by default none is. For a listed origin:

1. a preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is answered 204 here,
   before authentication (a browser sends no credentials in it), allowing the tus methods and headers;
2. every other response gets ``Access-Control-Allow-Origin`` (that origin) and ``Access-Control-Expose-Headers``
   with the tus headers, so the client can read ``Location``, ``Upload-Offset`` and ``Upload-Expires``.

A request from any other origin, or without one, passes through untouched: no CORS header at all, so the
browser refuses the page's request. No credentials mode: the API takes bearer tokens, never cookies. Other
paths of the API get no CORS: they are for servers, gateways and the typed client.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ALLOWED_HEADERS", "ALLOWED_METHODS", "EXPOSED_HEADERS", "MediaCors", "check_origin"]

ALLOWED_METHODS = ("GET", "HEAD", "POST", "PATCH", "DELETE", "OPTIONS")
"""The tus methods (core, creation, termination) and GET for reading media."""
ALLOWED_HEADERS = ("Authorization", "Content-Type", "Tus-Resumable", "Upload-Length", "Upload-Metadata",
                   "Upload-Offset", "Range", "X-Requested-With")
"""What a tus client sends (tus-js-client adds ``X-Requested-With``); ``Range`` for ranged reads."""
EXPOSED_HEADERS = ("Upload-Offset", "Upload-Length", "Location", "Tus-Resumable", "Tus-Version", "Tus-Extension",
                   "Tus-Max-Size", "Upload-Expires", "Content-Range", "Accept-Ranges")
"""Response headers a page's script may read (others than the CORS-safelisted ones are hidden from it)."""
PREFLIGHT_MAX_AGE = 600
"""Seconds a browser may reuse a preflight's answer."""
_ORIGIN = re.compile(r"^https?://[a-z0-9.-]+(:[0-9]{1,5})?$|^https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?$")
_PATH = re.compile(r"^/v1/media(/.*)?$")


def check_origin(origin: str) -> str:
    """``origin`` if it is one web origin as a browser sends it (``https://console.example:8443``: lower case,
    no path, no trailing slash); raises ``ValueError`` naming it otherwise (``*`` too: list each origin)."""
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"a CORS origin is scheme://host[:port] in lower case without a path, such as "
                         f"https://console.example, got {origin!r}")
    return origin


class MediaCors:
    """ASGI middleware answering CORS for the origins given, on ``/v1/media`` only (see the module)."""

    def __init__(self, app: ASGIApp, *, origins: Iterable[str]) -> None:
        self.app, self.origins = app, frozenset(check_origin(o) for o in origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a preflight of a listed origin, add CORS headers for one, pass anything else on untouched."""
        if scope["type"] != "http" or not _PATH.fullmatch(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin not in self.origins:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await _preflight(origin, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out["Access-Control-Allow-Origin"] = origin
                out["Access-Control-Expose-Headers"] = ", ".join(EXPOSED_HEADERS)
                out.add_vary_header("Origin")
            await send(message)

        await self.app(scope, receive, send_with_cors)


async def _preflight(origin: str, send: Send) -> None:
    headers = [("access-control-allow-origin", origin), ("access-control-allow-methods", ", ".join(ALLOWED_METHODS)),
               ("access-control-allow-headers", ", ".join(ALLOWED_HEADERS)),
               ("access-control-max-age", str(PREFLIGHT_MAX_AGE)), ("vary", "Origin")]
    await send({"type": "http.response.start", "status": 204,
                "headers": [(k.encode(), v.encode()) for k, v in headers]})
    await send({"type": "http.response.body", "body": b""})
