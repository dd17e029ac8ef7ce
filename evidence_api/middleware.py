"""``BodyGuard``: the one gate every request body passes before anything reads it (pure ASGI).

1. A declared ``Content-Length`` over the limit is answered 413 without reading a byte. The limit is
   ``max_body_bytes``, or the ``route_limits`` entry whose method and path match (a tus PATCH of media has
   its own, larger limit; uploads stream through in constant memory, so it bounds one request's time only).
2. A request with a body (a ``Content-Length`` above 0, or ``Transfer-Encoding``) and no known bearer token
   is answered 401 without reading the body: nobody unauthenticated makes the server buffer or parse.
3. Otherwise the body is counted as the route reads it; the chunk that passes the limit fails the read,
   and the response becomes a 413, whichever way the route reads (a body model, or raw).

The 401 and 413 are the problem details of ``evidence_api.errors``. Media types and JSON strictness are the
route's part (``evidence_api.routes.strict``), because only the route knows what it accepts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evidence_api.errors import PROBLEMS, problem
from evidence_api.services.errors import ServiceError, TooLarge, Unauthorized

__all__ = ["BodyGuard"]


class BodyGuard:
    """ASGI middleware enforcing ``max_body_bytes`` on every route and authentication before any body is read."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int,
                 route_limits: Sequence[tuple[str, re.Pattern[str], int]] = ()) -> None:
        self.app, self.max_body_bytes, self.route_limits = app, max_body_bytes, tuple(route_limits)

    def limit(self, scope: Scope) -> int:
        """The body limit of this request: its route's own (method and full-match path), else the default."""
        for method, path, limit in self.route_limits:
            if scope.get("method") == method and path.fullmatch(scope.get("path", "")):
                return limit
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse (413, 401) before the app runs, or run it with a counting ``receive``."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length", "").strip()
        declared = int(length) if length.isdigit() else None
        limit = self.limit(scope)
        if declared is not None and declared > limit:
            await _refuse(TooLarge(f"request body of {declared} bytes exceeds the limit of {limit} "
                                   "bytes; send a smaller body (smaller batches or chunks)"), scope, receive, send)
            return
        if declared or "transfer-encoding" in headers:
            try:
                await _authenticate(scope, headers.get("authorization"))
            except Unauthorized as exc:
                await _refuse(exc, scope, receive, send)
                return
        await _Counted(self.app, limit)(scope, receive, send)


async def _authenticate(scope: Scope, authorization: str | None) -> None:
    """Raise ``Unauthorized`` unless the bearer token is known: from memory when it was seen before, else by a
    database lookup off the event loop."""
    auth = scope["app"].state.services.auth
    if auth.cached(authorization) is None:
        await anyio.to_thread.run_sync(auth.principal, authorization)


async def _refuse(error: ServiceError, scope: Scope, receive: Receive, send: Send) -> None:
    status, slug, title = PROBLEMS[type(error)]
    await problem(status, slug, title, str(error))(scope, receive, send)


class _Counted:
    """One request run through the app with its body counted; past the limit, the response is a 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self._app, self._limit = app, limit
        self._received, self._exceeded, self._started = 0, False, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                self._received += len(message.get("body", b""))
                if self._received > self._limit:
                    self._exceeded = True
                    raise self._error()
            return message

        async def guarded_send(message: Message) -> None:
            if not self._exceeded:
                self._started = self._started or message["type"] == "http.response.start"
                await send(message)
            elif not self._started:  # whatever the app made of the failed read, the answer is 413
                self._started = True
                await _refuse(self._error(), scope, receive, send)

        try:
            await self._app(scope, counted_receive, guarded_send)
        except TooLarge:  # the app let the failed read escape instead of answering
            if self._started or not self._exceeded:
                raise
            self._started = True
            await _refuse(self._error(), scope, receive, send)

    def _error(self) -> TooLarge:
        return TooLarge(f"request body exceeds the limit of {self._limit} bytes; send a smaller body (smaller batches)")
