"""Request and response bodies of the organisation: sites, areas, contractors, users, workers, devices."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, model_validator
from pydantic.config import JsonDict

from evidence_api.schemas.ids import Id
from evidence_api.schemas.types import IsoDate
from evidence_api.services.people import USER_ROLES
from evidence_api.services.rules import Rules

__all__ = ["Area", "AreaCreate", "AreaCreated", "Contractor", "ContractorCreate", "Device", "DeviceCreate",
           "RulesOut", "RulesUpdate", "Site", "SiteCreate", "User", "UserCreate", "Violation", "ViolationCreate",
           "Worker", "WorkerCreate", "WorkerDetail"]

_LAT: JsonDict = {"type": "number", "minimum": -90, "maximum": 90}
_LON: JsonDict = {"type": "number", "minimum": -180, "maximum": 180}
_CIRCLE: JsonDict = {"type": "object", "required": ["circle"], "additionalProperties": False, "properties": {"circle": {
    "type": "object", "required": ["lat", "lon", "radius_m"], "additionalProperties": False,
    "properties": {"lat": _LAT, "lon": _LON, "radius_m": {"type": "number", "exclusiveMinimum": 0, "maximum": 50000}}}}}
_POLYGON: JsonDict = {"type": "object", "required": ["polygon"], "additionalProperties": False, "properties": {"polygon": {
    "type": "array", "minItems": 3, "items": {"type": "array", "prefixItems": [_LAT, _LON], "minItems": 2,
                                              "maxItems": 2}}}}


class SiteCreate(BaseModel):
    """A site (a plant) of the caller's tenant."""

    id: Id = Field(examples=["plant-1"])
    name: str = Field(min_length=1, max_length=200, examples=["一厂"])


class AreaCreate(BaseModel):
    """An area of a site, with its geofence."""

    id: Id = Field(examples=["unit-3"])
    site: Id
    name: str = Field(min_length=1, max_length=200, examples=["三号装置区"])
    geofence: dict[str, Any] = Field(examples=[{"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 150}}],
                                     json_schema_extra={"oneOf": [_CIRCLE, _POLYGON]})


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
    roles: list[Annotated[str, Field(json_schema_extra={"enum": list(USER_ROLES)})]] = Field(
        min_length=1, examples=[["guardian"]])
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
    """A detector, camera, phone or gateway with its SM2 public key. A detector whose readings a gateway relays
    signs nothing and may be registered without one (its id is what the readings name)."""

    id: Id
    kind: Literal["detector", "camera", "phone", "gateway"]
    key_id: Id | None = None
    public_key_pem: str | None = Field(None, min_length=1, max_length=4096)
    area: Id | None = None

    @model_validator(mode="after")
    def _key_unless_relayed_detector(self) -> DeviceCreate:
        if (self.key_id is None) != (self.public_key_pem is None):
            raise ValueError("key_id and public_key_pem go together: give both, or (a relayed detector) neither")
        if self.key_id is None and self.kind != "detector":
            raise ValueError(f"a {self.kind} signs what it sends: give its key_id and public_key_pem (only a "
                             "detector whose readings a gateway relays may have no key)")
        return self


class ViolationCreate(BaseModel):
    """A safety violation of a worker."""

    id: Id
    occurred_on: IsoDate
    description: str = Field(min_length=1, max_length=2000)


class RulesUpdate(BaseModel):
    """The tenant's overrides of the default rules (replacing earlier ones) and its notification webhook."""

    overrides: dict[str, Any] = Field(default_factory=dict, examples=[{"approver_max_distance_m": 8}])
    webhook_url: str | None = Field(None, pattern=r"^https?://", max_length=500)


# -- responses ---------------------------------------------------------------------------------------


class _Stored(BaseModel):
    """What every stored organisation record carries."""

    tenant: str
    id: str
    created_at: str = Field(description="RFC 3339, server clock")


class Site(_Stored):
    """A registered site."""

    name: str


class Area(_Stored):
    """A registered area with its geofence (its QR token is never shown again)."""

    site: str
    name: str
    geofence: dict[str, Any] = Field(examples=[{"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 150}}])


class Contractor(_Stored):
    """A registered contractor company."""

    name: str


class User(_Stored):
    """A registered user (their key is under ``key_id`` in the key registry)."""

    name: str
    roles: str = Field(examples=["guardian,worker"], description="the roles, comma-separated, sorted")
    contractor: str | None = None


class Worker(_Stored):
    """A registered worker."""

    name: str
    team: str
    contractor: str | None = None
    user_id: str | None = None


class Violation(_Stored):
    """A recorded safety violation of a worker."""

    worker: str
    occurred_on: date
    description: str


class WorkerDetail(Worker):
    """A worker with their violations."""

    violations: list[Violation]


class Device(_Stored):
    """A registered detector, camera or phone."""

    kind: Literal["detector", "camera", "phone", "gateway"]
    area: str | None = None


class RulesOut(BaseModel):
    """The tenant's effective rules (the GB 30871 defaults with its overrides) and the overrides it set."""

    rules: Rules
    overrides: dict[str, Any]
