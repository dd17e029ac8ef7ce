"""The organisation of the caller's tenant: rules, sites, areas, contractors, users, workers, devices."""

from __future__ import annotations

import orjson
from fastapi import APIRouter

from evidence_api import db
from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.org import (
    Area,
    AreaCreate,
    AreaCreated,
    Contractor,
    ContractorCreate,
    Device,
    DeviceCreate,
    RulesOut,
    RulesUpdate,
    Site,
    SiteCreate,
    User,
    UserCreate,
    Violation,
    ViolationCreate,
    Worker,
    WorkerCreate,
    WorkerDetail,
)
from evidence_api.services.auth import READ_ROLES

router = APIRouter(prefix="/v1", tags=["organisation"], route_class=StrictRoute)

@router.get("/settings/rules")
def get_rules(services: ServicesDep, principal: PrincipalDep) -> RulesOut:
    """The tenant's effective rules and the overrides it set."""
    principal.require(*READ_ROLES)
    tenant = principal.own_tenant()
    return RulesOut(rules=services.org.rules(tenant), overrides=services.org.overrides(tenant))


@router.put("/settings/rules")
def set_rules(body: RulesUpdate, services: ServicesDep, principal: PrincipalDep) -> RulesOut:
    """Replace the tenant's rule overrides and webhook (admin); an invalid override changes nothing."""
    principal.require("admin")
    rules = services.org.set_overrides(principal.own_tenant(), body.overrides, body.webhook_url)
    return RulesOut(rules=rules, overrides=body.overrides)


@router.post("/sites", status_code=201, responses=problems(409))
def create_site(body: SiteCreate, services: ServicesDep, principal: PrincipalDep) -> Site:
    """Register a site (admin)."""
    principal.require("admin")
    return Site.model_validate(services.org.add_site(principal.own_tenant(), body.id, body.name))


@router.get("/sites")
def list_sites(services: ServicesDep, principal: PrincipalDep) -> list[Site]:
    """The tenant's sites."""
    principal.require(*READ_ROLES)
    return [Site.model_validate(r) for r in services.org.rows(db.sites, principal.own_tenant())]


@router.post("/areas", status_code=201, responses=problems(404, 409))
def create_area(body: AreaCreate, services: ServicesDep, principal: PrincipalDep) -> AreaCreated:
    """Register an area with its geofence (admin); the response carries the QR token, shown once."""
    principal.require("admin")
    _, token = services.org.add_area(principal.own_tenant(), body.id, site=body.site, name=body.name,
                                     geofence=body.geofence)
    return AreaCreated(id=body.id, site=body.site, name=body.name, geofence=body.geofence, qr_token=token)


@router.get("/areas")
def list_areas(services: ServicesDep, principal: PrincipalDep, site: str | None = None) -> list[Area]:
    """The tenant's areas (optionally of one site), without their QR token hashes."""
    principal.require(*READ_ROLES)
    rows = services.org.rows(db.areas, principal.own_tenant(), site=site)
    return [Area.model_validate(r | {"geofence": orjson.loads(r["geofence"])}) for r in rows]


@router.post("/contractors", status_code=201, responses=problems(409))
def create_contractor(body: ContractorCreate, services: ServicesDep, principal: PrincipalDep) -> Contractor:
    """Register a contractor (admin)."""
    principal.require("admin")
    return Contractor.model_validate(services.org.add_contractor(principal.own_tenant(), body.id, body.name))


@router.post("/users", status_code=201, responses=problems(404, 409))
def create_user(body: UserCreate, services: ServicesDep, principal: PrincipalDep) -> User:
    """Register a user with roles and public key (admin)."""
    principal.require("admin")
    return User.model_validate(services.org.add_user(principal.own_tenant(), body.id, name=body.name, roles=body.roles,
                                 key_id=body.key_id, public_key_pem=body.public_key_pem, contractor=body.contractor))


@router.get("/users")
def list_users(services: ServicesDep, principal: PrincipalDep) -> list[User]:
    """The tenant's users."""
    principal.require(*READ_ROLES)
    return [User.model_validate(r) for r in services.org.rows(db.users, principal.own_tenant())]


@router.post("/devices", status_code=201, responses=problems(404, 409))
def create_device(body: DeviceCreate, services: ServicesDep, principal: PrincipalDep) -> Device:
    """Register a device with its public key (admin); a detector a gateway relays may have none."""
    principal.require("admin")
    return Device.model_validate(services.org.add_device(principal.own_tenant(), body.id, kind=body.kind, key_id=body.key_id,
                                   public_key_pem=body.public_key_pem, area=body.area))


@router.post("/workers", status_code=201, responses=problems(404, 409))
def create_worker(body: WorkerCreate, services: ServicesDep, principal: PrincipalDep) -> Worker:
    """Register a worker (admin)."""
    principal.require("admin")
    return Worker.model_validate(services.org.add_worker(principal.own_tenant(), body.id, name=body.name, team=body.team,
                                   contractor=body.contractor, user_id=body.user_id))


@router.get("/workers")
def list_workers(services: ServicesDep, principal: PrincipalDep, team: str | None = None,
                 contractor: str | None = None) -> list[Worker]:
    """The tenant's workers, optionally of one team or contractor."""
    principal.require(*READ_ROLES)
    rows = services.org.rows(db.workers, principal.own_tenant(), team=team, contractor=contractor)
    return [Worker.model_validate(r) for r in rows]


@router.get("/workers/{worker_id}", responses=problems(404))
def get_worker(worker_id: str, services: ServicesDep, principal: PrincipalDep) -> WorkerDetail:
    """One worker with their violations."""
    principal.require(*READ_ROLES)
    tenant = principal.own_tenant()
    worker = services.org.get(db.workers, tenant, worker_id)
    violations = [Violation.model_validate(r) for r in services.org.rows(db.violations, tenant, worker=worker_id)]
    return WorkerDetail.model_validate(worker | {"violations": violations})


@router.post("/workers/{worker_id}/violations", status_code=201, responses=problems(404, 409))
def create_violation(worker_id: str, body: ViolationCreate, services: ServicesDep,
                     principal: PrincipalDep) -> Violation:
    """Record a violation of a worker (admin); it blocks their permits for the lookback window."""
    principal.require("admin")
    return Violation.model_validate(services.org.add_violation(principal.own_tenant(), body.id, worker=worker_id,
                                                               occurred_on=body.occurred_on,
                                                               description=body.description))
