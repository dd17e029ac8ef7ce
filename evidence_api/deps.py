"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evidence_api.services import Services
from evidence_api.services.auth import Principal
from ledger.errors import MalformedInput

__all__ = ["PrincipalDep", "ServicesDep", "refuse_unknown_query"]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


_BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="A token from POST /v1/tokens (or the platform admin's TIEZHENG_ADMIN_TOKEN)")


def _principal(services: ServicesDep,
               credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Principal:
    """The caller; declared through ``HTTPBearer`` so the OpenAPI document names the security scheme."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    return services.auth.principal(header)


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _query_names(dependant: Dependant) -> set[str]:
    return {p.alias for p in dependant.query_params} | {n for d in dependant.dependencies for n in _query_names(d)}


def refuse_unknown_query(request: Request) -> None:
    """Refuse (422) a query parameter the operation does not take, so a typo such as ``?stat=valid`` is told
    instead of silently answering the unfiltered list; an app-wide dependency."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = _query_names(route.dependant)
    unknown = sorted(set(request.query_params) - allowed)
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        raise MalformedInput(f"unknown query parameter(s) {unknown}; {request.method} {route.path} takes {takes}")
