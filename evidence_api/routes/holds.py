"""Legal holds on a permit's media (signed ``legal_hold.placed`` / ``legal_hold.released``) and the
media-retention job."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.media import HoldOut, RetentionOut
from evidence_api.services.auth import READ_ROLES
from evidence_api.services.events import parse_body

router = APIRouter(prefix="/v1", tags=["media"], route_class=StrictRoute)

_SIGNED_ITEM = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/EventItem"}}}}}


@router.get("/permits/{permit_id}/legal-holds", response_model=list[HoldOut], responses=problems(404))
def list_holds(permit_id: str, services: ServicesDep, principal: PrincipalDep) -> list[HoldOut]:
    """Every legal hold placed on the permit, active or released."""
    principal.require(*READ_ROLES)
    return services.retention.holds(principal.own_tenant(), permit_id)


@router.post("/permits/{permit_id}/legal-holds", status_code=201, response_model=HoldOut, openapi_extra=_SIGNED_ITEM,
             responses=problems(404, 409))
async def place_hold(permit_id: str, request: Request, services: ServicesDep, principal: PrincipalDep) -> HoldOut:
    """Place a legal hold: a ``legal_hold.placed`` item (payload ``{"reason"}``) signed by a user with role
    ``legal`` or ``safety_officer``. No media of the permit is deleted until it is released."""
    principal.require("ingest", "admin")
    item = parse_body(await request.body())
    return await asyncio.to_thread(services.retention.place, principal.own_tenant(), permit_id, item)


@router.post("/permits/{permit_id}/legal-holds/{hold_id}/release", response_model=HoldOut,
             openapi_extra=_SIGNED_ITEM, responses=problems(404, 409))
async def release_hold(permit_id: str, hold_id: str, request: Request, services: ServicesDep,
                       principal: PrincipalDep) -> HoldOut:
    """Release a hold: a ``legal_hold.released`` item (payload ``{"hold", "reason"}``) signed like the hold."""
    principal.require("ingest", "admin")
    item = parse_body(await request.body())
    return await asyncio.to_thread(services.retention.release, principal.own_tenant(), permit_id, hold_id, item)


@router.post("/jobs/media-retention", response_model=RetentionOut)
def run_retention(services: ServicesDep, principal: PrincipalDep) -> RetentionOut:
    """Run media retention now (it also runs every ``TIEZHENG_RETENTION_INTERVAL`` s): process video past its
    retention is deleted (``media.deleted``, data key destroyed) unless a legal hold keeps it. A tenant's admin
    runs it for the tenant, the platform admin for all."""
    principal.require("admin")
    return services.retention.run_once(principal.tenant)
