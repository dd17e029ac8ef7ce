"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from evidence_api.services import Services
from evidence_api.services.auth import Principal

__all__ = ["PrincipalDep", "ServicesDep"]


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
