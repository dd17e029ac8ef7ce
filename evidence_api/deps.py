"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated, get_origin

import anyio.to_thread
from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evidence_api.services import Services
from evidence_api.services.auth import Principal
from ledger.errors import MalformedInput

__all__ = ["PrincipalDep", "ServicesDep", "refuse_unknown_query"]


async def _services(request: Request) -> Services:  # async: FastAPI runs a plain def in a thread, per request
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


_BEARER = HTTPBearer(auto_error=False, scheme_name="bearer",
                     description="A token from POST /v1/tokens (or the platform admin's TIEZHENG_ADMIN_TOKEN)")


async def _principal(services: ServicesDep,
                     credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> Principal:
    """The caller; declared through ``HTTPBearer`` so the OpenAPI document names the security scheme. A token
    seen before is answered from memory; a new one is looked up in a thread (a database read)."""
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    known = services.auth.cached(header)
    if known is not None:
        return known
    return await anyio.to_thread.run_sync(services.auth.principal, header)


PrincipalDep = Annotated[Principal, Depends(_principal)]


def _query_params(dependant: Dependant) -> dict[str, bool]:
    """Each query parameter of ``dependant`` and its sub-dependencies: may it be repeated (a list)?"""
    own = {p.alias: get_origin(p.field_info.annotation) in (list, tuple, set) for p in dependant.query_params}
    for sub in dependant.dependencies:
        own |= _query_params(sub)
    return own


_ALLOWED = "_tiezheng_query_params"
"""The attribute of a route where ``refuse_unknown_query`` keeps its ``_query_params`` (computed once: a route's
dependant does not change once it is routed; routes are unhashable, so no dict keyed by them)."""


async def refuse_unknown_query(request: Request) -> None:
    """Refuse (422) a query parameter the operation does not take, or a single-valued one given twice, so a
    typo such as ``?stat=valid`` is told instead of silently answering the unfiltered list; an app-wide
    dependency (async: it does no I/O, and a plain def would cost every request a thread hop)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed: dict[str, bool] | None = getattr(route, _ALLOWED, None)
    if allowed is None:
        allowed = _query_params(route.dependant)
        setattr(route, _ALLOWED, allowed)
    unknown = sorted(set(request.query_params) - set(allowed))
    if unknown:
        takes = ", ".join(sorted(allowed)) or "no query parameters"
        raise MalformedInput(f"unknown query parameter(s) {unknown}; {request.method} {route.path} takes {takes}")
    repeated = sorted(k for k in set(request.query_params)
                      if not allowed[k] and len(request.query_params.getlist(k)) > 1)
    if repeated:
        raise MalformedInput(f"query parameter(s) {repeated} given more than once; give each once")
