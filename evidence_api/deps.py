"""FastAPI dependencies as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from evidence_api.services import Services
from evidence_api.services.auth import Principal

__all__ = ["PrincipalDep", "ServicesDep"]


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(_services)]


def _principal(services: ServicesDep, authorization: Annotated[str | None, Header()] = None) -> Principal:
    return services.auth.principal(authorization)


PrincipalDep = Annotated[Principal, Depends(_principal)]
