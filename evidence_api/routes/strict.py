"""``StrictRoute``: the route class of every router. A request body must have a media type the route
declares (415 otherwise), and a JSON body is parsed once, strictly, by ``ledger.strict_json``.

The media types a route accepts are the ones its OpenAPI request body lists (``application/json`` for a
route with a body model; ``openapi_extra`` for the routes that read their body raw), so the document and
the check cannot disagree. ``charset`` may be given and must be ``utf-8`` (RFC 8259 8.1).
Body size and authentication come earlier, in ``evidence_api.middleware``.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from evidence_api.services.errors import UnsupportedMediaType
from ledger import strict_json

__all__ = ["JSON", "StrictRoute", "media_type"]

JSON = "application/json"


class _StrictJSONRequest(Request):
    """A request whose ``json()`` is the strict parser (FastAPI's body models read it through this)."""

    async def json(self) -> Any:
        """The body parsed by ``ledger.strict_json`` (cached); raises ``MalformedInput``."""
        if not hasattr(self, "_json"):
            self._json = strict_json.loads(await self.body())
        return self._json


def media_type(content_type: str | None) -> tuple[str, str | None]:
    """The lower-case media type of a ``Content-Type`` header and its ``charset`` parameter (or None)."""
    kind, *params = (content_type or "").split(";")
    charset = None
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return kind.strip().lower(), charset


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length.strip() not in ("", "0"))


class StrictRoute(APIRoute):
    """An ``APIRoute`` that refuses undeclared media types and parses JSON bodies strictly, once."""

    def accepted_media_types(self) -> tuple[str, ...]:
        """The media types of the route's request body (none: the route takes no body)."""
        declared = ((self.openapi_extra or {}).get("requestBody") or {}).get("content") or {}
        if declared:
            return tuple(str(kind).lower() for kind in declared)
        return (JSON,) if self.body_field is not None else ()

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """FastAPI's handler, after the media-type check and the strict parse of a JSON body model."""
        handler = super().get_route_handler()
        accepted, parses_json = self.accepted_media_types(), self.body_field is not None

        async def strict_handler(request: Request) -> Response:
            """Check the media type, parse a JSON body model strictly, then run FastAPI's handler."""
            if accepted and _has_body(request):
                kind = _check_media_type(request.headers.get("content-type"), accepted)
                if parses_json and kind == JSON:
                    request = _StrictJSONRequest(request.scope, request.receive)
                    await request.json()  # a refusal is a 422 naming the fault, not FastAPI's generic 400
            return await handler(request)

        return strict_handler


def _check_media_type(content_type: str | None, accepted: tuple[str, ...]) -> str:
    kind, charset = media_type(content_type)
    if kind not in accepted:
        raise UnsupportedMediaType(f"Content-Type must be one of {list(accepted)}, got {content_type!r}")
    if kind == JSON and charset not in (None, "utf-8"):
        raise UnsupportedMediaType(f"JSON bodies are UTF-8: send 'Content-Type: application/json' "
                                   f"(charset utf-8 or none), got {content_type!r}")
    return kind
