"""Insurer risk records: the signed record of a period (tenant or granted insurer), and the grants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.ids import Id
from evidence_api.schemas.regulator import RiskGrantIn, RiskGrantOut, RiskRecordOut
from evidence_api.schemas.types import IsoDate
from evidence_api.services.auth import READ_ROLES
from evidence_api.services.errors import Forbidden

router = APIRouter(prefix="/v1", tags=["risk"], route_class=StrictRoute)


@router.get("/risk-records", responses=problems(404, 409, 422))
def risk_record(services: ServicesDep, principal: PrincipalDep, from_: Annotated[IsoDate, Query(alias="from")],
                to: IsoDate, site: Id | None = None, tenant: Id | None = None) -> RiskRecordOut:
    """The signed risk record of ``from`` .. ``to`` (ended days, at most 92), of one ``site`` or all: for
    the tenant's own ``admin``/``reader`` tokens, or an ``insurer`` token naming a ``tenant`` that granted it
    access. 422 for a bad or unfinished period, 404 for an unknown site, 409 while the projection is behind."""
    principal.require(*READ_ROLES, "insurer")
    if principal.tenant is None:
        raise Forbidden("the platform admin reads no risk records; use a tenant's or an insurer's token")
    if principal.role == "insurer":
        if tenant is None:
            raise Forbidden("an insurer token must name the tenant whose record it reads: tenant=ID")
        services.risk.require_grant(tenant, principal.tenant)
    elif tenant not in (None, principal.tenant):
        raise Forbidden(f"token of tenant {principal.tenant!r} may not read tenant {tenant!r}'s risk records")
    return RiskRecordOut(record=services.risk.build(tenant or principal.tenant, from_, to, site=site))


@router.post("/risk-grants", status_code=201, responses=problems(404, 409, 422))
def grant(body: RiskGrantIn, services: ServicesDep, principal: PrincipalDep) -> RiskGrantOut:
    """Let an insurer organisation read the caller's tenant's risk records (tenant admin)."""
    principal.require("admin")
    tenant = principal.own_tenant()
    services.risk.grant(tenant, body.insurer)
    return RiskGrantOut(tenant=tenant, insurer=body.insurer)


@router.delete("/risk-grants/{insurer}", responses=problems(404))
def revoke(insurer: Id, services: ServicesDep, principal: PrincipalDep) -> RiskGrantOut:
    """Take an insurer's access back (tenant admin); answers the grant that was removed."""
    principal.require("admin")
    tenant = principal.own_tenant()
    services.risk.revoke(tenant, insurer)
    return RiskGrantOut(tenant=tenant, insurer=insurer)
