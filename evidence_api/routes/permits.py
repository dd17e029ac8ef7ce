"""Permits: draft, act (every step a signed event), read, list, the area view and the timeline."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.log import ReceiptOut
from evidence_api.schemas.permits import (
    ActionOut,
    AreaSummaryOut,
    PermitOut,
    PermitSummaryOut,
    ProjectionStatusOut,
    TimelineEntryOut,
)
from evidence_api.services import permit_views
from evidence_api.services.auth import READ_ROLES
from evidence_api.services.container import Services
from evidence_api.services.errors import ServiceError
from evidence_api.services.events import parse_body
from evidence_api.services.workflow import Prepared, check_item, draft_id
from ledger.errors import LedgerError, MalformedInput

router = APIRouter(prefix="/v1/permits", tags=["permits"], route_class=StrictRoute)
projection_router = APIRouter(prefix="/v1/projection", tags=["permits"], route_class=StrictRoute)

_SIGNED_ITEM = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/EventItem"}}}}}


async def _act(request: Request, services: ServicesDep, principal: PrincipalDep, permit_id: str | None) -> ActionOut:
    principal.require("ingest", "admin")
    tenant = principal.own_tenant()
    body = await request.body()
    item = parse_body(body)
    if permit_id is None:
        permit_id = draft_id(tenant, item)
    elif check_item(tenant, item)["kind"] == "permit.drafted":
        raise MalformedInput("permit.drafted creates a permit: POST it to /v1/permits")
    if not services.intake.workers:  # ``act`` checks and seals the item itself
        permit, receipts = await asyncio.to_thread(services.workflow.act, tenant, permit_id, item)
    else:
        received_at = services.clock.stamp()
        prepared = asyncio.run_coroutine_threadsafe(_prepared(services, tenant, body, received_at),
                                                    asyncio.get_running_loop())
        try:
            permit, receipts = await asyncio.to_thread(services.workflow.act, tenant, permit_id, item,
                                                       prepared=prepared, received_at=received_at)
        finally:
            prepared.cancel()  # a retry answered without waiting: nothing waits on the worker's answer
    return ActionOut(permit=permit, receipts=[ReceiptOut.model_validate(r.to_json()) for r in receipts])


async def _prepared(services: Services, tenant: str, body: bytes, received_at: str) -> Prepared:
    """The item's key, signature and commitment checked and its payload sealed in an intake worker (SM2
    verification is most of an action's CPU, and the server process is the serial stage), or the refusal,
    which ``Workflow.act`` raises only if the item is not a retry. It runs while ``act`` decides (the rules
    read the item as sent): ``act`` waits for it only to append, or to let its refusal come first."""
    try:
        return await services.intake.prepare_item(tenant, body, received_at=received_at)
    except (LedgerError, ServiceError) as exc:
        return exc


@router.post("", status_code=201, response_model=ActionOut, openapi_extra=_SIGNED_ITEM,
             responses=problems(404, 409))
async def draft_permit(request: Request, services: ServicesDep, principal: PrincipalDep) -> ActionOut:
    """Create a permit from an applicant's signed ``permit.drafted`` item (the payload is the permit)."""
    return await _act(request, services, principal, None)


@router.post("/{permit_id}/actions", response_model=ActionOut, openapi_extra=_SIGNED_ITEM,
             responses=problems(404, 409))
async def act_on_permit(permit_id: str, request: Request, services: ServicesDep, principal: PrincipalDep) -> ActionOut:
    """Apply a signed action (submit, approve, gas test, guardian check-in, start, close ...) to a permit.

    Refused actions answer 409 (state) or 422 (rule, naming it in ``rule``) and change nothing."""
    return await _act(request, services, principal, permit_id)


@router.get("", response_model=list[PermitSummaryOut])
def list_permits(services: ServicesDep, principal: PrincipalDep, state: str | None = None, area: str | None = None,
                 type: str | None = None) -> list[dict[str, Any]]:
    """Permits by state, area and work type."""
    principal.require(*READ_ROLES)
    return permit_views.list_permits(services.engine, principal.own_tenant(), state=state, area=area, work_type=type)


@router.get("/by-area", response_model=list[AreaSummaryOut])
def permits_by_area(services: ServicesDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Each area with its geofence and its permits counted by state (for a map or heat view)."""
    principal.require(*READ_ROLES)
    return permit_views.summary_by_area(services.engine, principal.own_tenant())


@router.get("/{permit_id}", response_model=PermitOut, responses=problems(404))
def get_permit(permit_id: str, services: ServicesDep, principal: PrincipalDep) -> PermitOut:
    """The permit's current document: content, state, approvals, gas tests, guardian, suspensions, history."""
    principal.require(*READ_ROLES)
    return services.workflow.get(principal.own_tenant(), permit_id)


@router.get("/{permit_id}/timeline", response_model=list[TimelineEntryOut], responses=problems(404))
def permit_timeline(permit_id: str, services: ServicesDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """Every event of the permit in log order, with its proof status."""
    principal.require(*READ_ROLES)
    tenant = principal.own_tenant()
    services.workflow.get(tenant, permit_id)
    return permit_views.timeline(services.log, tenant, permit_id)


@projection_router.get("", response_model=ProjectionStatusOut)
def projection_status(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """How far the projections (permits, certificates, notifications) have folded the log, and every event
    they could not fold (platform admin only: it names events of every tenant)."""
    principal.require()
    return services.projector.status().to_json()
