"""``create_app(settings)``: the FastAPI application of the evidence service."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from evidence_api.config import Settings
from evidence_api.errors import install_error_handlers
from evidence_api.middleware import BodyGuard
from evidence_api.routes import admin, certificates, events, log, org, permits
from evidence_api.schemas.log import EventBatch
from evidence_api.services import Services

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the log, keys and anchorer open at startup and close (drained) at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        """Open the services before the first request; drain and close them at shutdown."""
        app.state.services = Services.open(settings)
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(title="Tiezheng evidence service", version="0.1.0", lifespan=lifespan,
                  description="Signed, SM3-hashed evidence events in an RFC 9162 log with anchored checkpoints.")
    install_error_handlers(app)
    app.add_middleware(BodyGuard, max_body_bytes=settings.max_body_bytes)
    for module in (admin, certificates, events, log, org, permits):
        app.include_router(module.router)
    app.include_router(permits.projection_router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema plus the event-batch body, which the intake route reads raw (its signatures cover
    the exact JSON values) and so does not declare as a parameter."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        batch = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        schema["components"]["schemas"].update(batch.pop("$defs", {}) | {"EventBatch": batch})
        app.openapi_schema = schema
    return app.openapi_schema
