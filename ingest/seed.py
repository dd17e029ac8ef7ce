"""Registering a plant through the API, once for everyone: the demo, the benchmarks and the tests.

A ``PlantPlan`` says what the plant has (a site, areas with geofences, people with roles, workers with
certificates, devices, rule overrides); ``seed_plant`` registers it with a tenant's admin client, generating
each person's and device's SM2 key, and returns the actors and the areas' QR tokens. ``open_tenant`` creates
the tenant itself with the bootstrap token and hands back a client per role.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ingest.client import ApiClient
from ingest.signing import Actor
from ledger.sm import Signer, SM2PrivateKey

__all__ = ["AreaPlan", "CertificatePlan", "Plant", "PlantPlan", "TenantAccess", "WorkerPlan", "new_actor",
           "open_tenant", "register_worker", "seed_plant"]


def new_actor(actor_id: str, kind: str = "user") -> Actor:
    """An actor with a fresh SM2 key, registered (by ``seed_plant``) under the key id ``<id>#1``."""
    return Actor(kind, actor_id, f"{actor_id}#1", Signer.from_private_key(SM2PrivateKey.generate()))


@dataclass(frozen=True)
class TenantAccess:
    """A new tenant and one client per role (``admin``, ``ingest``, ``reader``) over the same connections."""

    tenant: str
    clients: Mapping[str, ApiClient]
    tokens: Mapping[str, str]

    @property
    def admin(self) -> ApiClient:
        """The tenant admin's client."""
        return self.clients["admin"]


def open_tenant(root: ApiClient, tenant: str, name: str, *,
                roles: Sequence[str] = ("admin", "ingest", "reader")) -> TenantAccess:
    """Create ``tenant`` with the bootstrap token of ``root``; issue its admin token, then (as that admin) a
    token for each other role in ``roles``."""
    root.create_tenant(tenant, name)
    tokens = {"admin": root.issue_token(tenant, "admin", "admin").token}
    admin = root.with_token(tokens["admin"])
    tokens |= {role: admin.issue_token(tenant, role, role).token for role in roles if role != "admin"}
    return TenantAccess(tenant, {role: root.with_token(token) for role, token in tokens.items()}, tokens)


@dataclass(frozen=True)
class AreaPlan:
    """An area of the plan's site: a circular geofence of ``radius_m`` around (``lat``, ``lon``)."""

    id: str
    name: str
    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True)
class CertificatePlan:
    """One certificate of a worker; the id and number are derived from the worker when not given."""

    sub_type: str
    issued_on: date
    expires_on: date | None = None
    review_due_on: date | None = None
    number: str | None = None
    id: str | None = None
    authority: str = "上海市应急管理局"


@dataclass(frozen=True)
class WorkerPlan:
    """A worker of ``team`` with certificates."""

    id: str
    name: str
    certificates: Sequence[CertificatePlan] = ()
    team: str = "维修一班"


@dataclass(frozen=True)
class PlantPlan:
    """What to register: ``people`` maps user id → roles, ``devices`` device id → (kind, area or None)."""

    site: str
    site_name: str
    areas: Sequence[AreaPlan]
    people: Mapping[str, Sequence[str]]
    workers: Sequence[WorkerPlan] = ()
    devices: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    overrides: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Plant:
    """A registered plant: people and devices (id → Actor holding its private key), QR token per area."""

    tenant: str
    people: Mapping[str, Actor]
    devices: Mapping[str, Actor]
    qr: Mapping[str, str]


def seed_plant(admin: ApiClient, tenant: str, plan: PlantPlan, *,
               make_actor: Callable[[str, str], Actor] = new_actor) -> Plant:
    """Register ``plan`` for ``tenant`` through ``admin`` (a tenant admin's client); raises ``ApiError``
    naming the first refusal. ``make_actor(id, kind)`` creates each person's and device's key."""
    if plan.overrides is not None:
        admin.set_rules(plan.overrides)
    admin.create_site(plan.site, plan.site_name)
    qr = {area.id: _area(admin, plan.site, area) for area in plan.areas}
    people = {}
    for user, roles in plan.people.items():
        people[user] = make_actor(user, "user")
        admin.create_user(people[user], name=user, roles=roles)
    for worker in plan.workers:
        register_worker(admin, worker)
    devices = {}
    for device, (kind, area) in plan.devices.items():
        devices[device] = make_actor(device, "device")
        admin.create_device(devices[device], kind=kind, area=area)
    return Plant(tenant, people, devices, qr)


def _area(admin: ApiClient, site: str, area: AreaPlan) -> str:
    fence = {"circle": {"lat": area.lat, "lon": area.lon, "radius_m": area.radius_m}}
    token = admin.create_area(area.id, site=site, name=area.name, geofence=fence).qr_token
    assert token is not None, "POST /v1/areas answers the area's QR token"
    return token


def register_worker(admin: ApiClient, worker: WorkerPlan) -> None:
    """Register ``worker`` and its certificates through ``admin``."""
    admin.create_worker(worker.id, name=worker.name, team=worker.team)
    for n, cert in enumerate(worker.certificates):
        admin.register_certificate(
            certificate=cert.id or f"{worker.id}-c{n}", worker=worker.id, sub_type=cert.sub_type,
            number=cert.number or f"T{worker.id}{n}", holder_name=worker.name, issued_on=cert.issued_on,
            expires_on=cert.expires_on, review_due_on=cert.review_due_on, authority=cert.authority)
