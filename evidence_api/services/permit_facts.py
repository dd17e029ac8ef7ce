"""The facts a permit rule needs from outside the permit, loaded for one action: the people's roles, the
workers' certificates, violations and other planned hours, conflicting permits nearby, the area's geofence
and QR token. Only what the action's rules read is loaded."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select

from evidence_api import db, media_tables
from evidence_api.services.people import Organisation
from evidence_api.services.permit_model import Permit, PermitContent
from evidence_api.services.permit_rules import NearbyPermit, Photo
from evidence_api.services.permits import LIVE, Facts
from ledger.clock import rfc3339

__all__ = ["load_facts"]


def load_facts(engine: Engine, org: Organisation, tenant: str, permit: Permit, kind: str, today: date) -> Facts:
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
