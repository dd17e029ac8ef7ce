"""Request and response bodies of tenants, tokens and keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from evidence_api.schemas.ids import Id

__all__ = ["KeyCreate", "KeyPublic", "TenantCreate", "TenantPublic", "TokenCreate", "TokenIssued"]


class TenantCreate(BaseModel):
    """A new tenant (an enterprise)."""

    id: Id = Field(examples=["acme-chem"])
    name: str = Field(min_length=1, max_length=200, examples=["Acme Chemical Co."])


class TenantPublic(TenantCreate):
    """A created tenant."""


class TokenCreate(BaseModel):
    """A token to issue for a tenant."""

    tenant: Id
    role: Literal["admin", "ingest", "reader", "regulator", "insurer"]
    label: str = Field(min_length=1, max_length=200, examples=["gas detectors, unit 3"])


class TokenIssued(BaseModel):
    """The issued token: the secret is shown only here."""

    tenant: str
    role: str
    token: str


class KeyCreate(BaseModel):
    """An actor's SM2 public key to register."""

    tenant: Id
    key_id: Id
    actor_type: Literal["user", "device", "service"]
    actor_id: Id
    public_key_pem: str = Field(min_length=1, max_length=4096)


class KeyPublic(BaseModel):
    """A registered key."""

    tenant: str
    key_id: str
    actor_type: str
    actor_id: str
    fingerprint: str
