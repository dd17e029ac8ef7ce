"""Evidence-event intake and bundle export."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.log import BundleOut, ReceiptsOut
from evidence_api.services.bundles import build_bundle
from evidence_api.services.detectors import named_detectors, refuse_unregistered_detectors
from evidence_api.services.media_events import refuse_unbound
from ledger.records import Receipt

router = APIRouter(prefix="/v1/events", tags=["events"], route_class=StrictRoute)


_RETRY: dict[int | str, dict[str, Any]] = {
    200: {"model": ReceiptsOut, "description": "Every event was already logged (a retry): the same receipts"}}
_BUNDLE: dict[int | str, dict[str, Any]] = {200: {"model": BundleOut, "description": "The bundle"}}


@router.post("", status_code=201, response_model=ReceiptsOut, responses=_RETRY | problems(409),
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}}}})
async def submit_events(request: Request, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Append a batch of signed events; idempotent by ``event_id``. Receipts come after the commit.

    The raw JSON is kept as sent (not re-serialized by a model), because the signatures cover its exact values.
    """
    principal.require("ingest", "admin")
    tenant = principal.own_tenant()
    body = await request.body()  # BodyGuard has limited its size; the intake worker parses it
    submission = await services.intake.prepare(tenant, body)
    refuse_unbound(submission.events)
    named = named_detectors(submission.events)
    if named:  # one registry query per batch that names detectors; most readings name none
        await asyncio.to_thread(refuse_unregistered_detectors, services.engine, tenant, named)
    services.workflow.refuse_bypass(tenant, submission.events)
    if services.workflow.carries_actions(submission.events):  # checked again and appended under permit locks
        receipts = await asyncio.to_thread(services.workflow.append_raw, tenant, submission)
    else:
        receipts = await asyncio.wrap_future(services.log.submit_nowait(submission))
    fresh = {r.event_id: r.leaf_index for r in receipts if not r.duplicate}
    readings = [p for p in submission.events if p.kind == "detector.reading" and p.permit and p.event_id in fresh]
    if readings:  # a reading out of limits suspends its permit before the detector hears back
        until = max(fresh[p.event_id] for p in readings)
        await asyncio.to_thread(services.workflow.observe_logged, tenant, readings, until=until)
    status = 200 if all(r.duplicate for r in receipts) else 201
    return Response(Receipt.document(receipts), status_code=status, media_type="application/json")


@router.get("/{event_id}/bundle", response_model=None, responses=_BUNDLE | problems(404))
def event_bundle(event_id: str, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """The event with its payload, proof, checkpoint, anchors and keys, for ``tiezheng verify``."""
    principal.require("reader", "admin", "ingest")
    return build_bundle(services.log, services.keys, services.wrapper, tenant=principal.own_tenant(), event_id=event_id)
