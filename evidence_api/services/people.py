"""The organisation of a tenant: sites, areas with geofences and QR tokens, contractors, users with roles and
keys, workers, devices, violations, and the tenant's rule overrides.

Users and devices sign their own events; registering one stores its SM2 public key in the same transaction,
so there is never a user without a key or a key without its user. The server never sees a private key.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from evidence_api import db
from evidence_api.services.errors import Conflict, NotFound
from evidence_api.services.geo import check_geofence
from evidence_api.services.keys import KeyRegistry
from evidence_api.services.rules import Rules, encode_overrides, load_rules
from ledger.clock import Clock
from ledger.errors import MalformedInput
from ledger.sm import SM2PublicKey, sm3

__all__ = ["DEVICE_KINDS", "USER_ROLES", "Organisation", "User", "find_row"]

USER_ROLES = ("applicant", "team_leader", "workshop_head", "safety_officer", "production_manager", "guardian",
              "gas_analyst", "worker", "legal", "regulator", "insurer", "admin")
DEVICE_KINDS = ("detector", "camera", "phone", "gateway")  # gateway: relays detectors' readings (outbox)


@dataclass(frozen=True)
class User:
    """A person who signs: id, name and roles."""

    id: str
    name: str
    roles: tuple[str, ...]


_WORKERS = select(db.workers.c.id).where(db.workers.c.tenant == bindparam("b_tenant"),
                                         db.workers.c.id.in_(bindparam("b_ids", expanding=True)))


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


def find_row(engine: Engine, table: Table, tenant: str, item_id: str) -> dict[str, Any]:
    """The row ``item_id`` of ``table`` for ``tenant``; raises ``NotFound`` naming the collection
    (``permit 'HW-1' does not exist for tenant 'acme'``)."""
    with engine.connect() as conn:
        row = conn.execute(select(table).where(table.c.tenant == tenant, table.c.id == item_id)).first()
    if row is None:
        raise NotFound(f"{table.name[:-1]} {item_id!r} does not exist for tenant {tenant!r}")
    return _row(row)


class Organisation:
    """Reads and writes the organisation tables of every tenant."""

    def __init__(self, engine: Engine, keys: KeyRegistry, *, clock: Clock | None = None) -> None:
        self._engine, self._keys, self._clock = engine, keys, clock or Clock()
        self._rules: dict[str, Rules] = {}
        self._users: dict[tuple[str, str], User] = {}  # found users (see ``user``)
        self._areas: dict[tuple[str, str], dict[str, Any]] = {}  # found areas (see ``area``)
        self._workers: set[tuple[str, str]] = set()  # found workers (see ``known_workers``)

    # -- generic ---------------------------------------------------------------------------------
    def _insert(self, table: Table, row: dict[str, Any], conn: Connection | None = None) -> dict[str, Any]:
        row = {"created_at": self._clock.stamp(), **row}
        try:
            if conn is not None:
                conn.execute(insert(table).values(**row))
            else:
                with self._engine.begin() as own:
                    own.execute(insert(table).values(**row))
        except IntegrityError as exc:
            raise Conflict(f"{table.name[:-1]} {row.get('id')!r} already exists for tenant {row['tenant']!r} "
                           "(or names something that does not exist)") from exc
        return row

    def get(self, table: Table, tenant: str, item_id: str) -> dict[str, Any]:
        """The row ``item_id`` of ``table`` for ``tenant``; raises ``NotFound`` naming the collection."""
        return find_row(self._engine, table, tenant, item_id)

    def rows(self, table: Table, tenant: str, **equal: Any) -> list[dict[str, Any]]:
        """Rows of ``table`` for ``tenant`` whose columns equal ``equal`` (None values ignored), by id."""
        query = select(table).where(table.c.tenant == tenant, *(table.c[k] == v for k, v in equal.items() if v is not None))
        with self._engine.connect() as conn:
            return [_row(r) for r in conn.execute(query.order_by(table.c.id))]

    def _require(self, conn: Connection, table: Table, tenant: str, ids: Iterable[str | None]) -> None:
        for item_id in ids:
            if item_id is not None and conn.execute(select(table.c.id).where(
                    table.c.tenant == tenant, table.c.id == item_id)).first() is None:
                raise NotFound(f"{table.name[:-1]} {item_id!r} does not exist for tenant {tenant!r}; create it first")

    # -- places ----------------------------------------------------------------------------------
    def add_site(self, tenant: str, site_id: str, name: str) -> dict[str, Any]:
        """Register a site (a plant)."""
        return self._insert(db.sites, {"tenant": tenant, "id": site_id, "name": name})

    def add_area(self, tenant: str, area_id: str, *, site: str, name: str, geofence: Any) -> tuple[dict[str, Any], str]:
        """Register an area of ``site`` with its geofence; returns the row and the QR token to print (shown once)."""
        fence = check_geofence(geofence)
        token = secrets.token_urlsafe(18)
        with self._engine.begin() as conn:
            self._require(conn, db.sites, tenant, [site])
            row = self._insert(db.areas, {"tenant": tenant, "id": area_id, "site": site, "name": name,
                                          "geofence": orjson.dumps(fence).decode(),
                                          "qr_token_hash": sm3(token.encode()).hex()}, conn)
        return row, token

    # -- people and devices ----------------------------------------------------------------------
    def add_contractor(self, tenant: str, contractor_id: str, name: str) -> dict[str, Any]:
        """Register a contractor company."""
        return self._insert(db.contractors, {"tenant": tenant, "id": contractor_id, "name": name})

    def add_user(self, tenant: str, user_id: str, *, name: str, roles: list[str], key_id: str,
                 public_key_pem: str, contractor: str | None = None) -> dict[str, Any]:
        """Register a user with roles and their SM2 public key (under ``key_id``)."""
        unknown: list[str] = sorted(set(roles) - set(USER_ROLES))
        if not roles or unknown:
            raise MalformedInput(f"roles must be a non-empty subset of {list(USER_ROLES)}; unknown {unknown}")
        SM2PublicKey.from_pem(public_key_pem)  # refuse a bad key before anything is written
        with self._engine.begin() as conn:
            self._require(conn, db.contractors, tenant, [contractor])
            row = self._insert(db.users, {"tenant": tenant, "id": user_id, "name": name,
                                          "roles": ",".join(sorted(set(roles))), "contractor": contractor}, conn)
            self._keys.register(tenant, key_id, "user", user_id, public_key_pem, conn=conn)
        return row

    def user(self, tenant: str, user_id: str) -> User:
        """The user ``user_id``; raises ``NotFound``. Kept in memory once found (every permit action reads its
        signer): a user's row is only ever inserted (``add_user``), never updated or deleted, so a user found
        stays exactly as found; one not found is asked again. Anything that comes to change a user's row or
        roles must go through here and drop the entry (``_users``) in the same step."""
        key = (tenant, user_id)
        found = self._users.get(key)
        if found is None:
            row = self.get(db.users, tenant, user_id)
            found = self._users[key] = User(row["id"], row["name"], tuple(row["roles"].split(",")))
        return found

    def area(self, tenant: str, area_id: str) -> dict[str, Any]:
        """The row of area ``area_id`` (as ``get(db.areas, ...)``, a copy); raises ``NotFound``. Kept in memory once
        found (every check-in and submission reads its permit's area): an area's row is only ever inserted
        (``add_area``), never updated or deleted, so one found stays exactly as found, in this process and in any
        other; one not found is asked again. Anything that comes to change an area's row must drop ``_areas``."""
        key = (tenant, area_id)
        found = self._areas.get(key)
        if found is None:
            found = self._areas[key] = self.get(db.areas, tenant, area_id)
        return dict(found)

    def known_workers(self, tenant: str, worker_ids: Iterable[str]) -> list[str]:
        """Which of ``worker_ids`` are registered workers of ``tenant`` (each once, in sorted order). Found ones are
        kept in memory: a worker's row is only ever inserted (``add_worker``), never deleted; ids not found are
        asked again (one query for all of them)."""
        wanted = sorted(set(worker_ids))
        missing = [w for w in wanted if (tenant, w) not in self._workers]
        if missing:
            with self._engine.connect() as conn:
                found = conn.execute(_WORKERS, {"b_tenant": tenant, "b_ids": missing}).scalars().all()
            self._workers.update((tenant, worker_id) for worker_id in found)
        return [w for w in wanted if (tenant, w) in self._workers]

    def add_worker(self, tenant: str, worker_id: str, *, name: str, team: str, contractor: str | None = None,
                   user_id: str | None = None) -> dict[str, Any]:
        """Register a worker (own staff, or a contractor's when ``contractor`` is given)."""
        with self._engine.begin() as conn:
            self._require(conn, db.contractors, tenant, [contractor])
            self._require(conn, db.users, tenant, [user_id])
            return self._insert(db.workers, {"tenant": tenant, "id": worker_id, "name": name, "team": team,
                                             "contractor": contractor, "user_id": user_id}, conn)

    def add_device(self, tenant: str, device_id: str, *, kind: str, key_id: str | None, public_key_pem: str | None,
                   area: str | None = None) -> dict[str, Any]:
        """Register a detector, camera, phone or gateway with its SM2 public key; a detector whose readings a
        gateway relays signs nothing and may have none (``key_id`` and ``public_key_pem`` None)."""
        if kind not in DEVICE_KINDS:
            raise MalformedInput(f"device kind must be one of {list(DEVICE_KINDS)}, got {kind!r}")
        if (key_id is None) != (public_key_pem is None) or (key_id is None and kind != "detector"):
            raise MalformedInput(f"a {kind} needs key_id and public_key_pem (only a relayed detector may have no key)")
        if public_key_pem is not None:
            SM2PublicKey.from_pem(public_key_pem)
        with self._engine.begin() as conn:
            self._require(conn, db.areas, tenant, [area])
            row = self._insert(db.devices, {"tenant": tenant, "id": device_id, "kind": kind, "area": area}, conn)
            if key_id is not None and public_key_pem is not None:
                self._keys.register(tenant, key_id, "device", device_id, public_key_pem, conn=conn)
        return row

    def add_violation(self, tenant: str, violation_id: str, *, worker: str, occurred_on: date,
                      description: str) -> dict[str, Any]:
        """Record a safety violation of ``worker`` (it blocks permits for the lookback window)."""
        with self._engine.begin() as conn:
            self._require(conn, db.workers, tenant, [worker])
            return self._insert(db.violations, {"tenant": tenant, "id": violation_id, "worker": worker,
                                                "occurred_on": occurred_on.isoformat(), "description": description}, conn)

    # -- rules -----------------------------------------------------------------------------------
    def rules(self, tenant: str) -> Rules:
        """The tenant's rules: the defaults with its overrides (cached)."""
        rules = self._rules.get(tenant)
        if rules is None:
            rules = self._rules[tenant] = load_rules(tenant, self.overrides(tenant))
        return rules

    def overrides(self, tenant: str) -> dict[str, Any]:
        """The tenant's stored overrides (``{}`` if none)."""
        with self._engine.connect() as conn:
            stored = conn.execute(select(db.tenant_settings.c.rules).where(db.tenant_settings.c.tenant == tenant)).scalar()
        result: dict[str, Any] = orjson.loads(stored) if stored else {}
        return result

    def set_overrides(self, tenant: str, overrides: dict[str, Any], webhook_url: str | None = None) -> Rules:
        """Replace the tenant's overrides (validated first: a bad one changes nothing) and its webhook."""
        stored, rules = encode_overrides(overrides)
        values = {"rules": stored, "webhook_url": webhook_url, "updated_at": self._clock.stamp()}
        with self._engine.begin() as conn:
            changed = conn.execute(update(db.tenant_settings).where(db.tenant_settings.c.tenant == tenant).values(**values))
            if changed.rowcount == 0:
                conn.execute(insert(db.tenant_settings).values(tenant=tenant, **values))
        self._rules[tenant] = rules
        return rules

    def webhook_url(self, tenant: str) -> str | None:
        """Where the tenant's notifications are posted (None: not configured)."""
        with self._engine.connect() as conn:
            url: str | None = conn.execute(select(db.tenant_settings.c.webhook_url)
                                           .where(db.tenant_settings.c.tenant == tenant)).scalar()
        return url
