"""The organisation of the caller's tenant: rules, sites, areas, contractors, users, workers, devices."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter

from evidence_api import db
from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.org import (
    AreaCreate,
    AreaCreated,
    ContractorCreate,
    DeviceCreate,
    RulesUpdate,
    SiteCreate,
    UserCreate,
    ViolationCreate,
    WorkerCreate,
)
from evidence_api.services.auth import READ_ROLES

router = APIRouter(prefix="/v1", tags=["organisation"], route_class=StrictRoute)



@router.get("/settings/rules")
def get_rules(services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """The tenant's effective rules and the overrides it set."""
    principal.require(*READ_ROLES)
    tenant = principal.own_tenant()
    return {"rules": services.org.rules(tenant).model_dump(), "overrides": services.org.overrides(tenant)}


@router.put("/settings/rules")
def set_rules(body: RulesUpdate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Replace the tenant's rule overrides and webhook (admin); an invalid override changes nothing."""
    principal.require("admin")
    rules = services.org.set_overrides(principal.own_tenant(), body.overrides, body.webhook_url)
    return {"rules": rules.model_dump(), "overrides": body.overrides}


@router.post("/sites", status_code=201)
def create_site(body: SiteCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a site (admin)."""
    principal.require("admin")
    return services.org.add_site(principal.own_tenant(), body.id, body.name)


@router.get("/sites")
def list_sites(services: ServicesDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The tenant's sites."""
    principal.require(*READ_ROLES)
    return services.org.rows(db.sites, principal.own_tenant())


@router.post("/areas", status_code=201)
def create_area(body: AreaCreate, services: ServicesDep, principal: PrincipalDep) -> AreaCreated:
    """Register an area with its geofence (admin); the response carries the QR token, shown once."""
    principal.require("admin")
    _, token = services.org.add_area(principal.own_tenant(), body.id, site=body.site, name=body.name,
                                     geofence=body.geofence)
    return AreaCreated(id=body.id, site=body.site, name=body.name, geofence=body.geofence, qr_token=token)


@router.get("/areas")
def list_areas(services: ServicesDep, principal: PrincipalDep, site: str | None = None) -> list[dict[str, Any]]:
    """The tenant's areas (optionally of one site), without their QR token hashes."""
    principal.require(*READ_ROLES)
    rows = services.org.rows(db.areas, principal.own_tenant(), site=site)
    return [{k: orjson.loads(v) if k == "geofence" else v for k, v in r.items() if k != "qr_token_hash"} for r in rows]


@router.post("/contractors", status_code=201)
def create_contractor(body: ContractorCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a contractor (admin)."""
    principal.require("admin")
    return services.org.add_contractor(principal.own_tenant(), body.id, body.name)


@router.post("/users", status_code=201)
def create_user(body: UserCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a user with roles and public key (admin)."""
    principal.require("admin")
    return services.org.add_user(principal.own_tenant(), body.id, name=body.name, roles=body.roles,
                                 key_id=body.key_id, public_key_pem=body.public_key_pem, contractor=body.contractor)


@router.get("/users")
def list_users(services: ServicesDep, principal: PrincipalDep) -> list[dict[str, Any]]:
    """The tenant's users."""
    principal.require(*READ_ROLES)
    return services.org.rows(db.users, principal.own_tenant())


@router.post("/devices", status_code=201)
def create_device(body: DeviceCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a device with its public key (admin)."""
    principal.require("admin")
    return services.org.add_device(principal.own_tenant(), body.id, kind=body.kind, key_id=body.key_id,
                                   public_key_pem=body.public_key_pem, area=body.area)


@router.post("/workers", status_code=201)
def create_worker(body: WorkerCreate, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """Register a worker (admin)."""
    principal.require("admin")
    return services.org.add_worker(principal.own_tenant(), body.id, name=body.name, team=body.team,
                                   contractor=body.contractor, user_id=body.user_id)


@router.get("/workers")
def list_workers(services: ServicesDep, principal: PrincipalDep, team: str | None = None,
                 contractor: str | None = None) -> list[dict[str, Any]]:
    """The tenant's workers, optionally of one team or contractor."""
    principal.require(*READ_ROLES)
    return services.org.rows(db.workers, principal.own_tenant(), team=team, contractor=contractor)


@router.get("/workers/{worker_id}")
def get_worker(worker_id: str, services: ServicesDep, principal: PrincipalDep) -> dict[str, Any]:
    """One worker with their violations."""
    principal.require(*READ_ROLES)
    tenant = principal.own_tenant()
    worker = services.org.get(db.workers, tenant, worker_id)
    return worker | {"violations": services.org.rows(db.violations, tenant, worker=worker_id)}


@router.post("/workers/{worker_id}/violations", status_code=201)
def create_violation(worker_id: str, body: ViolationCreate, services: ServicesDep,
                     principal: PrincipalDep) -> dict[str, Any]:
    """Record a violation of a worker (admin); it blocks their permits for the lookback window."""
    principal.require("admin")
    return services.org.add_violation(principal.own_tenant(), body.id, worker=worker_id,
                                      occurred_on=body.occurred_on, description=body.description)
