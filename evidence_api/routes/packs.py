"""Evidence packs: ask for one (a scope), follow its progress, download the verified zip."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.packs import PackCreate, PackStatusOut
from evidence_api.services.pack_jobs import PackStatus
from ledger.clock import rfc3339
from ledger.errors import MalformedInput

router = APIRouter(prefix="/v1/evidence-packs", tags=["evidence packs"], route_class=StrictRoute)

_ROLES = ("admin", "reader")  # a pack discloses decrypted payloads: not for device (ingest) tokens


def _out(status: PackStatus) -> PackStatusOut:
    body = {k: v for k, v in asdict(status).items() if k != "tenant"}
    download = f"/v1/evidence-packs/{status.id}/zip" if status.status == "ready" else None
    return PackStatusOut(**body, download=download)


def _scope(body: PackCreate) -> dict[str, Any]:
    scope = body.scope.model_dump(by_alias=True)
    for key in ("from", "to"):
        if key in scope:
            try:
                scope[key] = rfc3339(scope[key])
            except (OverflowError, ValueError) as exc:
                raise MalformedInput(f"scope.{key} {scope[key].isoformat()} is outside the calendar in UTC") from exc
    return scope


@router.post("", status_code=202, response_model=PackStatusOut, responses={
    201: {"model": PackStatusOut, "description": "Built and verified now (a scope of at most 2,000 events)"},
    **problems(404, 422)})
async def create_pack(body: PackCreate, response: Response, services: ServicesDep,
                      principal: PrincipalDep) -> PackStatusOut:
    """Build the evidence pack of a scope. Up to 2,000 events it is built and self-verified in the request
    (201, ``ready``); a bigger scope is accepted (202, ``building``): poll ``GET /v1/evidence-packs/{id}``."""
    principal.require(*_ROLES)
    status = await asyncio.to_thread(services.packs.create, principal.own_tenant(), _scope(body))
    response.status_code = 201 if status.status != "building" else 202
    return _out(status)


@router.get("/{pack_id}", responses=problems(404))
def pack_status(pack_id: str, services: ServicesDep, principal: PrincipalDep) -> PackStatusOut:
    """The pack's status and progress; once ``ready``, where to download it and its SM3."""
    principal.require(*_ROLES)
    return _out(services.packs.status(principal.own_tenant(), pack_id))


@router.get("/{pack_id}/zip", response_class=FileResponse, responses={
    200: {"content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
          "description": "The verified pack (tiezheng.pack/v1)"},
    **problems(404, 409)})
def pack_zip(pack_id: str, services: ServicesDep, principal: PrincipalDep) -> FileResponse:
    """The pack's zip, once ready (409 while it builds or if it failed)."""
    principal.require(*_ROLES)
    path = services.packs.zip_path(principal.own_tenant(), pack_id)
    return FileResponse(path, media_type="application/zip", filename=f"evidence-pack-{pack_id}.zip")
