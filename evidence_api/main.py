"""``create_app(settings)``: the FastAPI application of the evidence service."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from evidence_api.config import Settings
from evidence_api.cors import MediaCors
from evidence_api.deps import refuse_unknown_query
from evidence_api.errors import install_error_handlers
from evidence_api.middleware import BodyGuard
from evidence_api.openapi import build_openapi
from evidence_api.proof_path import ProofPath
from evidence_api.routes import (
    admin,
    certificates,
    events,
    holds,
    log,
    media,
    org,
    packs,
    permits,
    regulator,
    risk,
    tiles,
)
from evidence_api.routes.tiles_fast import TilePath
from evidence_api.services import Services
from ledger.clock import Clock

__all__ = ["create_app"]


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """Build the app; the log, keys and anchorer open at startup and close (drained) at shutdown. ``clock``
    replaces the system clock of every part of the service (tests pass a ``ManualClock``)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Open the services before the first request; drain and close them at shutdown."""
        app.state.services = Services.open(settings, clock=clock)
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(title="Tiezheng evidence service", version="0.1.0", lifespan=lifespan,
                  dependencies=[Depends(refuse_unknown_query)],
                  description="Signed, SM3-hashed evidence events in an RFC 9162 log with anchored checkpoints.")
    install_error_handlers(app)
    app.add_middleware(TilePath)  # innermost, as ProofPath: tile requests answered before routing
    app.add_middleware(ProofPath)  # innermost: after the body guard, before routing
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes,
                       route_limits=[("PATCH", re.compile(r"/v1/media/[^/]+"), settings.max_media_chunk_bytes)])
    if settings.media_cors_origins:  # outermost: preflights need no token, and 401/413 answers carry CORS too
        app.add_middleware(MediaCors, origins=settings.media_cors_origins)
    for module in (admin, certificates, events, holds, log, media, org, packs, permits, regulator, risk, tiles):
        app.include_router(module.router)
    app.include_router(permits.projection_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The document, built once (``evidence_api.openapi``: problem details, security, the raw batch body)."""
    if app.openapi_schema is None:
        app.openapi_schema = build_openapi(app)
    return app.openapi_schema
