"""The permit projection's rows: the ``permits`` document, its ``permit_workers`` (for the daily-hours rule)
and the notifications a permit event causes. Times in the columns are ``ledger.clock.rfc3339`` text (fixed
width, so the window queries compare by string order)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, Update, bindparam, delete, insert, select, update

from evidence_api import db
from evidence_api.services import permits
from evidence_api.services.notify import enqueue
from evidence_api.services.permit_model import Permit
from ledger.clock import rfc3339
from ledger.errors import StorageError

__all__ = ["NOTIFY", "changed_columns", "load_permit", "load_permits", "notice", "permit_row", "store_permit"]

NOTIFY = frozenset({"permit.suspended", "permit.expired", "alarm.raised", "permit.rejected", "permit.approved"})
"""Permit event kinds that notify the permit's parties."""


_p = db.permits.c
_ONE = select(_p.doc, _p.version).where(_p.tenant == bindparam("b_tenant"), _p.id == bindparam("b_id"))
_SOME = select(_p.id, _p.doc, _p.version).where(_p.tenant == bindparam("b_tenant"),
                                               _p.id.in_(bindparam("b_ids", expanding=True)))
_COLUMNS = ("type", "level", "state", "area", "starts_at", "ends_at", "doc", "version", "updated_at")
_ALWAYS = ("doc", "version", "updated_at")  # an event of the permit changes these; the others (indexed) seldom
_UPDATES: dict[tuple[str, ...], Update] = {}
# statements built once: building them costs more than running them (the writer runs these per action)


def _update(columns: tuple[str, ...]) -> Update:
    """The versioned UPDATE of ``columns`` of a permit row (built once per set of columns)."""
    statement = _UPDATES.get(columns)
    if statement is None:
        statement = _UPDATES[columns] = update(db.permits).where(
            _p.tenant == bindparam("b_tenant"), _p.id == bindparam("b_id"), _p.version == bindparam("b_previous")
        ).values({name: bindparam(f"b_{name}") for name in columns})
    return statement


def _placed(permit: Permit) -> dict[str, Any]:
    """The indexed columns of ``permit``'s row (``permit_row`` without doc, version and time)."""
    content = permit.content
    return {"type": content.type, "level": content.level, "state": permit.state, "area": content.area,
            "starts_at": rfc3339(content.starts_at), "ends_at": rfc3339(content.ends_at)}


def changed_columns(old: Permit, row: dict[str, Any]) -> tuple[str, ...]:
    """The columns of ``old``'s row that its next ``row`` (a ``permit_row``) must write: doc, version and time,
    and those of the others that differ (an UPDATE that sets an indexed column rewrites its index entry even
    when the value stays, on SQLite: one more page in the commit)."""
    placed = _placed(old)
    return tuple(name for name in _COLUMNS if name in _ALWAYS or placed[name] != row[name])


def load_permit(engine: Engine | Connection, tenant: str, permit_id: str) -> Permit | None:
    """The projected permit, or None."""
    params = {"b_tenant": tenant, "b_id": permit_id}
    if isinstance(engine, Connection):
        row = engine.execute(_ONE, params).first()
    else:
        with engine.connect() as conn:
            row = conn.execute(_ONE, params).first()
    if row is None:
        return None
    return Permit.from_json(orjson.loads(row.doc) | {"version": row.version})


def load_permits(conn: Connection, tenant: str, permit_ids: Iterable[str]) -> dict[str, Permit]:
    """The projected permits of ``tenant`` among ``permit_ids`` (absent ones are left out), in one query per
    500 ids."""
    ids, found = sorted(set(permit_ids)), {}
    for start in range(0, len(ids), 500):
        rows = conn.execute(_SOME, {"b_tenant": tenant, "b_ids": ids[start:start + 500]})
        for row in rows:
            found[row.id] = Permit.from_json(orjson.loads(row.doc) | {"version": row.version})
    return found


def permit_row(permit: Permit, updated_at: str) -> dict[str, Any]:
    """The ``permits`` row of ``permit`` (without its keys), as ``store_permit`` writes it."""
    return _placed(permit) | {
        "doc": orjson.dumps({k: v for k, v in permit.to_json().items() if k != "version"}).decode(),
        "version": permit.version, "updated_at": updated_at}


def store_permit(conn: Connection, tenant: str, permit: Permit, previous_version: int, updated_at: str, *,
                 workers: bool = True, row: dict[str, Any] | None = None,
                 columns: tuple[str, ...] = _COLUMNS) -> None:
    """Write ``permit`` over the row at ``previous_version`` (0: a new permit); ``StorageError`` if the row
    moved meanwhile. Its workers' planned hours are rewritten with it unless ``workers`` is false (the
    caller knows the permit stayed as live as it was). ``row``: its ``permit_row``, if the caller has it;
    ``columns``: only those are written over the old row (``changed_columns``: the others hold the same)."""
    content = permit.content
    row = row or permit_row(permit, updated_at)
    if previous_version == 0:
        conn.execute(insert(db.permits).values(tenant=tenant, id=permit.id, **row))
    else:
        done = conn.execute(_update(columns), {"b_tenant": tenant, "b_id": permit.id, "b_previous": previous_version,
                                               **{f"b_{name}": row[name] for name in columns}})
        if done.rowcount != 1:
            raise StorageError(f"permit {permit.id} changed under its lock; retry the action")
    if not workers:
        return
    w = db.permit_workers.c
    conn.execute(delete(db.permit_workers).where(w.tenant == tenant, w.permit == permit.id))
    live = int(permit.state in permits.LIVE)
    conn.execute(insert(db.permit_workers), [
        {"tenant": tenant, "permit": permit.id, "worker": worker.worker, "hours_per_day": worker.hours_per_day,
         "starts_at": row["starts_at"], "ends_at": row["ends_at"], "live": live} for worker in content.workers])


def notice(conn: Connection, tenant: str, permit: Permit, kind: str, event_ids: list[str], at: str) -> None:
    """Queue the notification of a permit event of ``kind`` (if that kind notifies)."""
    if kind not in NOTIFY:
        return
    body: dict[str, Any] = {"permit": permit.id, "state": permit.state, "kind": kind, "parties": permits.parties(permit),
                            "at": at, "event_ids": event_ids}
    enqueue(conn, tenant, kind, body, created_at=at)
