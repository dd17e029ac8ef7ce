"""What people look at: permits by area and state (a map or heat view), one permit's document, and its
timeline with every event and how far each is proven (logged, in a checkpoint, anchored)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson
from sqlalchemy import Engine, func, select

from evidence_api import db
from evidence_api.services.geo import check_geofence
from ledger.log import TransparencyLog

__all__ = ["list_permits", "summary_by_area", "timeline"]


def list_permits(engine: Engine, tenant: str, *, state: str | None = None, area: str | None = None,
                 work_type: str | None = None) -> list[dict[str, Any]]:
    """Permits of ``tenant`` (newest window first), filtered by state, area and type."""
    p = db.permits.c
    query = select(p.id, p.type, p.level, p.state, p.area, p.starts_at, p.ends_at, p.version, p.updated_at).where(
        p.tenant == tenant, *(c == v for c, v in ((p.state, state), (p.area, area), (p.type, work_type)) if v is not None))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query.order_by(p.starts_at.desc(), p.id))]


def summary_by_area(engine: Engine, tenant: str) -> list[dict[str, Any]]:
    """For each area: where it is (its geofence) and how many permits it has in each state."""
    p, a = db.permits.c, db.areas.c
    with engine.connect() as conn:
        counts = conn.execute(select(p.area, p.state, func.count()).where(p.tenant == tenant).group_by(p.area, p.state)).all()
        areas = {r.id: r for r in conn.execute(select(a.id, a.name, a.site, a.geofence).where(a.tenant == tenant))}
    by_area: dict[str, Counter[str]] = {}
    for area, state, count in counts:
        by_area.setdefault(area, Counter())[state] = count
    return [{"area": area_id, "name": row.name, "site": row.site, "geofence": check_geofence(orjson.loads(row.geofence)),
             "states": dict(by_area.get(area_id, {})), "active": by_area.get(area_id, Counter())["active"]}
            for area_id, row in sorted(areas.items())]


def timeline(log: TransparencyLog, tenant: str, permit_id: str) -> list[dict[str, Any]]:
    """Every logged event of the permit in log order, with signer, times, ``prev`` link and proof status:
    ``logged`` (committed), ``checkpointed`` (a signed checkpoint covers it) or ``anchored`` (and the
    anchors covering it, by backend)."""
    rows = log.permit_events(tenant, permit_id)
    anchored = log.anchored_sizes()
    latest = log.latest_checkpoint()
    checkpointed = latest.checkpoint.tree_size if latest else 0
    out = []
    for row in rows:
        event = orjson.loads(row.leaf)
        backends = sorted(b for b, size in anchored.items() if size > row.leaf_index)
        status = "anchored" if backends else "checkpointed" if checkpointed > row.leaf_index else "logged"
        out.append({"leaf_index": row.leaf_index, "leaf_hash": row.leaf_hash.hex(), "event_id": event["event_id"],
                    "kind": event["kind"], "actor": event["actor"], "occurred_at": event["occurred_at"],
                    "received_at": event["received_at"], "prev": event["prev"], "location": event.get("location"),
                    "flags": list(row.flags), "proof": status, "anchors": backends})
    return out
