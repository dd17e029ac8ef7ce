"""Request and response bodies of the organisation: sites, areas, contractors, users, workers, devices."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from evidence_api.schemas.ids import Id

__all__ = ["AreaCreate", "AreaCreated", "ContractorCreate", "DeviceCreate", "RulesUpdate", "SiteCreate", "UserCreate",
           "ViolationCreate", "WorkerCreate"]


class SiteCreate(BaseModel):
    """A site (a plant) of the caller's tenant."""

    id: Id = Field(examples=["plant-1"])
    name: str = Field(min_length=1, max_length=200, examples=["一厂"])


class AreaCreate(BaseModel):
    """An area of a site, with its geofence."""

    id: Id = Field(examples=["unit-3"])
    site: Id
    name: str = Field(min_length=1, max_length=200, examples=["三号装置区"])
    geofence: dict[str, Any] = Field(examples=[{"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 150}}])


class AreaCreated(BaseModel):
    """The area, and the token for its QR code: shown only here, stored only as its SM3 hash."""

    id: str
    site: str
    name: str
    geofence: dict[str, Any]
    qr_token: str


class ContractorCreate(BaseModel):
    """A contractor company."""

    id: Id
    name: str = Field(min_length=1, max_length=200)


class UserCreate(BaseModel):
    """A person who signs, with roles and an SM2 public key (the private key stays on their phone)."""

    id: Id = Field(examples=["zhang.san"])
    name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, examples=[["guardian"]])
    key_id: Id
    public_key_pem: str = Field(min_length=1, max_length=4096)
    contractor: Id | None = None


class WorkerCreate(BaseModel):
    """A worker (own staff, or a contractor's)."""

    id: Id
    name: str = Field(min_length=1, max_length=200)
    team: str = Field(min_length=1, max_length=200)
    contractor: Id | None = None
    user_id: Id | None = None


class DeviceCreate(BaseModel):
    """A detector, camera or phone with its SM2 public key."""

    id: Id
    kind: Literal["detector", "camera", "phone"]
    key_id: Id
    public_key_pem: str = Field(min_length=1, max_length=4096)
    area: Id | None = None


class ViolationCreate(BaseModel):
    """A safety violation of a worker."""

    id: Id
    occurred_on: date
    description: str = Field(min_length=1, max_length=2000)


class RulesUpdate(BaseModel):
    """The tenant's overrides of the default rules (replacing earlier ones) and its notification webhook."""

    overrides: dict[str, Any] = Field(default_factory=dict, examples=[{"approver_max_distance_m": 8}])
    webhook_url: str | None = Field(None, pattern=r"^https?://", max_length=500)
