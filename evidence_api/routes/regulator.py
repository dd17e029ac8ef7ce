"""Regulator digests (监管摘要): one day's digest, or a range on demand (调取指令), for the caller's tenant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.regulator import DigestOut, DigestsOut
from evidence_api.schemas.types import IsoDate
from evidence_api.services.auth import DIGEST_ROLES
from ledger.errors import MalformedInput

router = APIRouter(prefix="/v1/regulator", tags=["regulator"], route_class=StrictRoute)


@router.get("/digests", responses=problems(404, 409, 422))
def digests(services: ServicesDep, principal: PrincipalDep, date: Annotated[IsoDate | None, Query()] = None,
            from_: Annotated[IsoDate | None, Query(alias="from")] = None,
            to: Annotated[IsoDate | None, Query()] = None) -> DigestsOut:
    """The signed daily digest of ``date``, or of every day ``from`` .. ``to`` (inclusive, at most 31 days),
    of the caller's tenant; built now if a day has ended and its digest is missing. 422 for a day that
    has not ended or a bad range, 404 for days before the tenant existed, 409 while the projection is
    behind (retry)."""
    principal.require(*DIGEST_ROLES)
    tenant = principal.own_tenant()
    if date is not None and from_ is None and to is None:
        views = [services.digests.get(tenant, date)]
    elif date is None and from_ is not None and to is not None:
        views = services.digests.between(tenant, from_, to)
    else:
        raise MalformedInput("give either date=YYYY-MM-DD or both from=YYYY-MM-DD and to=YYYY-MM-DD")
    return DigestsOut(digests=[DigestOut(**v.to_json()) for v in views])
