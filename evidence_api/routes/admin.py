"""Tenants, tokens and actor keys (admin only)."""

from __future__ import annotations

from fastapi import APIRouter

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.admin import (
    KeyCreate,
    KeyPublic,
    TenantCreate,
    TenantPublic,
    TokenCreate,
    TokenIssued,
)

router = APIRouter(prefix="/v1", tags=["admin"], route_class=StrictRoute)


@router.post("/tenants", status_code=201, responses=problems(409))
def create_tenant(body: TenantCreate, services: ServicesDep, principal: PrincipalDep) -> TenantPublic:
    """Create a tenant (platform admin)."""
    principal.require("platform-admin")
    services.auth.create_tenant(body.id, body.name)
    return TenantPublic(id=body.id, name=body.name)


@router.post("/tokens", status_code=201, responses=problems(404))
def issue_token(body: TokenCreate, services: ServicesDep, principal: PrincipalDep) -> TokenIssued:
    """Issue a bearer token for a tenant (platform admin, or the tenant's admin)."""
    principal.require("admin", tenant=body.tenant)
    token = services.auth.issue_token(body.tenant, body.role, body.label)
    return TokenIssued(tenant=body.tenant, role=body.role, token=token)


@router.post("/keys", status_code=201, responses=problems(404, 409))
def register_key(body: KeyCreate, services: ServicesDep, principal: PrincipalDep) -> KeyPublic:
    """Register an actor's SM2 public key (admin of the tenant)."""
    principal.require("admin", tenant=body.tenant)
    key = services.keys.register(body.tenant, body.key_id, body.actor_type, body.actor_id, body.public_key_pem)
    return KeyPublic(tenant=key.tenant, key_id=key.key_id, actor_type=key.actor_type, actor_id=key.actor_id,
                     fingerprint=key.public.fingerprint())
