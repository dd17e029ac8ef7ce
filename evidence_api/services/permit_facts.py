"""The facts a permit rule needs from outside the permit, loaded for one action: the people's roles, the
workers' certificates, violations and other planned hours, conflicting permits nearby, the area's geofence
and QR token. Only what the action's rules read is loaded.

``load_facts`` is the one the workflow runs: statements built once, and the rows that never change once
inserted (users, workers, areas: ``Organisation``'s caches) from memory, so a submission reads four small
queries instead of seven. ``reference_load_facts`` is the plain version it replaced, kept as the reference
(tests compare both on random plants)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import BindParameter, Connection, Engine, bindparam, select

from evidence_api import db, media_tables
from evidence_api.services.errors import NotFound
from evidence_api.services.people import Organisation
from evidence_api.services.permit_model import Permit, PermitContent
from evidence_api.services.permit_rules import NearbyPermit, Photo
from evidence_api.services.permits import LIVE, Facts
from ledger.clock import rfc3339

__all__ = ["load_facts", "reference_load_facts"]

# statements built once (building one costs more than running it)
_c, _v, _w, _p = db.certificates.c, db.violations.c, db.permit_workers.c, db.permits.c
_TENANT: BindParameter[str] = bindparam("b_tenant")
_WORKERS: BindParameter[list[str]] = bindparam("b_workers", expanding=True)
_CERTIFICATES = select(db.certificates).where(_c.tenant == _TENANT, _c.worker.in_(_WORKERS))
_VIOLATIONS = select(_v.worker, _v.occurred_on).where(_v.tenant == _TENANT, _v.worker.in_(_WORKERS))
_OTHER_HOURS = select(_w.worker, _w.starts_at, _w.ends_at, _w.hours_per_day).where(
    _w.tenant == _TENANT, _w.worker.in_(_WORKERS), _w.live == 1, _w.permit != bindparam("b_permit"))
_NEARBY = select(_p.id, _p.doc).where(
    _p.tenant == _TENANT, _p.id != bindparam("b_permit"), _p.state.in_(sorted(LIVE)),
    _p.type.in_(bindparam("b_kinds", expanding=True)), _p.starts_at < bindparam("b_ends"), _p.ends_at > bindparam("b_starts"))


def load_facts(engine: Engine, org: Organisation, tenant: str, permit: Permit, kind: str, today: date) -> Facts:
    """The facts ``kind``'s rules need about ``permit`` of ``tenant``; ``today`` is the plant's calendar day.
    The same facts as ``reference_load_facts`` (``workers`` in sorted order), the same ``NotFound``."""
    content = permit.content
    facts = Facts(today=today)
    if kind in ("permit.submitted", "permit.activated"):
        worker_ids = [w.worker for w in content.workers]
        if kind == "permit.submitted":  # the cached rows first: a missing area refuses before any query
            facts.geofence = orjson.loads(org.area(tenant, content.area)["geofence"])
            facts.roles = _roles(org, tenant, {content.team_leader, content.guardian} | {m.confirmer for m in content.measures})
            facts.workers = org.known_workers(tenant, worker_ids)
        with engine.connect() as conn:
            facts.certificates = _grouped(conn.execute(_CERTIFICATES, {"b_tenant": tenant, "b_workers": worker_ids}),
                                          lambda row: dict(row._mapping))
            if kind == "permit.submitted":
                _fast_submission_facts(conn, org, tenant, permit, facts, worker_ids)
    if kind in ("guardian.checkin", "guardian.handover"):
        facts.qr_token_hash = org.area(tenant, content.area)["qr_token_hash"]
    if org.rules(tenant).photo_steps.get(kind):
        facts.geofence = orjson.loads(org.area(tenant, content.area)["geofence"])
        with engine.connect() as conn:
            facts.photos = _photos(conn, tenant, permit.id)
    return facts


def _roles(org: Organisation, tenant: str, people: set[str]) -> dict[str, list[str]]:
    """The roles of those of ``people`` who are registered users (``Organisation.user``, cached)."""
    roles = {}
    for person in sorted(people):
        try:
            roles[person] = list(org.user(tenant, person).roles)
        except NotFound:
            continue
    return roles


def _grouped(rows: Iterable[Any], value: Callable[[Any], Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        found[row.worker].append(value(row))
    return found


def _fast_submission_facts(conn: Connection, org: Organisation, tenant: str, permit: Permit, facts: Facts,
                           worker_ids: list[str]) -> None:
    content = permit.content
    params = {"b_tenant": tenant, "b_workers": worker_ids, "b_permit": permit.id}
    facts.violations = _grouped(conn.execute(_VIOLATIONS, params), lambda row: row.occurred_on)
    facts.other_hours = _grouped(conn.execute(_OTHER_HOURS, params), lambda row: (
        datetime.fromisoformat(row.starts_at), datetime.fromisoformat(row.ends_at), row.hours_per_day))
    conflicts = org.rules(tenant).conflicts
    kinds = sorted({b for a, b in conflicts if a == content.type} | {a for a, b in conflicts if b == content.type})
    rows = conn.execute(_NEARBY, {"b_tenant": tenant, "b_permit": permit.id, "b_kinds": kinds,
                                  "b_ends": rfc3339(content.ends_at), "b_starts": rfc3339(content.starts_at)})
    facts.nearby = [_nearby_permit(row) for row in rows]


def _nearby_permit(row: Any) -> NearbyPermit:
    other = Permit.from_json(orjson.loads(row.doc)).content
    return NearbyPermit(row.id, other.type, other.area, other.location.lat, other.location.lon, other.starts_at,
                        other.ends_at)


def reference_load_facts(engine: Engine, org: Organisation, tenant: str, permit: Permit, kind: str, today: date) -> Facts:
    """The facts ``kind``'s rules need about ``permit`` of ``tenant``; ``today`` is the plant's calendar day."""
    content = permit.content
    facts = Facts(today=today)
    if kind in ("permit.submitted", "permit.activated"):
        worker_ids = [w.worker for w in content.workers]
        with engine.connect() as conn:
            facts.certificates = _certificates(conn, tenant, worker_ids)
            if kind == "permit.submitted":
                _submission_facts(conn, org, tenant, permit, facts)
    if kind in ("guardian.checkin", "guardian.handover"):
        facts.qr_token_hash = org.get(db.areas, tenant, content.area)["qr_token_hash"]
    if org.rules(tenant).photo_steps.get(kind):
        facts.geofence = orjson.loads(org.get(db.areas, tenant, content.area)["geofence"])
        with engine.connect() as conn:
            facts.photos = _photos(conn, tenant, permit.id)
    return facts


def _photos(conn: Connection, tenant: str, permit_id: str) -> list[Photo]:
    """The permit's photos whose ``media.stored`` event is logged, with the place the event claims."""
    m = media_tables.media.c
    rows = conn.execute(select(m.id, m.purpose, m.facts).where(
        m.tenant == tenant, m.permit == permit_id, m.event_id.is_not(None), m.content_type.like("image/%")))
    photos = []
    for row in rows:
        facts = orjson.loads(row.facts)
        if facts.get("kind") != "media.stored":
            continue
        where = facts.get("location") or {}
        photos.append(Photo(row.id, facts.get("purpose") or row.purpose, where.get("lat"), where.get("lon")))
    return photos


def _submission_facts(conn: Connection, org: Organisation, tenant: str, permit: Permit, facts: Facts) -> None:
    content = permit.content
    worker_ids = [w.worker for w in content.workers]
    people = {content.team_leader, content.guardian} | {m.confirmer for m in content.measures}
    u, w = db.users.c, db.workers.c
    facts.roles = {row.id: row.roles.split(",") for row in conn.execute(
        select(u.id, u.roles).where(u.tenant == tenant, u.id.in_(sorted(people))))}
    facts.workers = list(conn.execute(select(w.id).where(w.tenant == tenant, w.id.in_(worker_ids))).scalars())
    facts.violations = _violations(conn, tenant, worker_ids)
    facts.other_hours = _other_hours(conn, tenant, permit.id, worker_ids)
    facts.geofence = orjson.loads(org.get(db.areas, tenant, content.area)["geofence"])
    facts.nearby = _nearby(conn, tenant, permit.id, content, org.rules(tenant).conflicts)


def _certificates(conn: Connection, tenant: str, workers: list[str]) -> dict[str, list[dict[str, Any]]]:
    c = db.certificates.c
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in conn.execute(select(db.certificates).where(c.tenant == tenant, c.worker.in_(workers))):
        found[row.worker].append(dict(row._mapping))
    return found


def _violations(conn: Connection, tenant: str, workers: list[str]) -> dict[str, list[str]]:
    v = db.violations.c
    found: dict[str, list[str]] = defaultdict(list)
    for row in conn.execute(select(v.worker, v.occurred_on).where(v.tenant == tenant, v.worker.in_(workers))):
        found[row.worker].append(row.occurred_on)
    return found


def _other_hours(conn: Connection, tenant: str, permit_id: str,
                 workers: list[str]) -> dict[str, list[tuple[datetime, datetime, float]]]:
    w = db.permit_workers.c
    found: dict[str, list[tuple[datetime, datetime, float]]] = defaultdict(list)
    rows = conn.execute(select(w.worker, w.starts_at, w.ends_at, w.hours_per_day).where(
        w.tenant == tenant, w.worker.in_(workers), w.live == 1, w.permit != permit_id))
    for row in rows:
        found[row.worker].append((datetime.fromisoformat(row.starts_at), datetime.fromisoformat(row.ends_at),
                                  row.hours_per_day))
    return found


def _nearby(conn: Connection, tenant: str, permit_id: str, content: PermitContent,
            conflicts: Sequence[tuple[str, str]]) -> list[NearbyPermit]:
    """Live permits of a type that conflicts with this one and whose window overlaps it."""
    kinds = sorted({b for a, b in conflicts if a == content.type} | {a for a, b in conflicts if b == content.type})
    p = db.permits.c
    rows = conn.execute(select(p.id, p.doc).where(
        p.tenant == tenant, p.id != permit_id, p.state.in_(sorted(LIVE)), p.type.in_(kinds),
        p.starts_at < rfc3339(content.ends_at), p.ends_at > rfc3339(content.starts_at)))
    nearby = []
    for row in rows:
        other = Permit.from_json(orjson.loads(row.doc)).content
        nearby.append(NearbyPermit(row.id, other.type, other.area, other.location.lat, other.location.lon,
                                   other.starts_at, other.ends_at))
    return nearby
