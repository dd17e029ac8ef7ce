"""Retention and crypto-shredding of media, and legal holds that stop it.

Process video is deleted ``media_retention_days`` (tenant setting, 180 by default) after it was stored;
photos and keyframes are kept. Deleting is one transaction that logs a ``media.deleted`` event signed by
the service (payload: the media's SM3, size, type, why, and its ``media.stored`` event) and destroys the
object's wrapped data key; then the object itself is removed from the store. Without its key the object is
unreadable even if a copy survives (crypto-shredding); its SM3 stays in the log, so the hash of what was
deleted is still provable with the events' inclusion proofs. A store that still locks the object (S3
Object Lock) or is unreachable leaves a ciphertext nobody can open, and the run says so.

A legal hold (an accident under investigation) on a permit blocks the deletion of every media of that
permit until it is released. Placing and releasing are events signed by a user with role ``legal`` or
``safety_officer`` (``legal_hold.placed``, ``legal_hold.released``).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, insert, select, update

from evidence_api import db, media_tables
from evidence_api.schemas.media import HoldOut, RetentionOut
from evidence_api.services.errors import Conflict, Forbidden, NotFound
from evidence_api.services.media import MediaRow, MediaService
from evidence_api.services.people import Organisation
from evidence_api.services.recorder import Recorder
from evidence_api.services.workflow import check_item
from ingest.objectstore import ObjectNotFound, ObjectStoreError
from ledger.clock import Clock
from ledger.errors import MalformedInput
from ledger.records import Receipt

__all__ = ["HOLD_ROLES", "Retention"]

HOLD_ROLES = ("legal", "safety_officer")
_log = logging.getLogger(__name__)


class _Placed(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class _Released(_Placed):
    hold: str = Field(min_length=1, max_length=64)


class Retention:
    """Deletes media past retention unless a legal hold covers its permit; places and releases holds."""

    def __init__(self, engine: Engine, media: MediaService, recorder: Recorder, org: Organisation, *,
                 clock: Clock) -> None:
        self._engine, self._media, self._recorder, self._org, self.clock = engine, media, recorder, org, clock

    # -- retention --------------------------------------------------------------------------------
    def run_once(self, tenant: str | None = None) -> RetentionOut:
        """Delete every stored media (of ``tenant``, or of all) whose retention ended; list those a legal hold
        keeps."""
        m = media_tables.media.c
        query = select(m.tenant, m.id).where(
            m.state == "stored", m.retain_until.is_not(None), m.retain_until <= self.clock.stamp())
        if tenant is not None:
            query = query.where(m.tenant == tenant)
        with self._engine.connect() as conn:
            due = conn.execute(query.order_by(m.retain_until)).all()
        deleted, held = [], []
        for owner, media_id in due:
            hold = self.active_hold(owner, self._media.get(owner, media_id).permit)
            if hold is not None:
                held.append({"media": media_id, "hold": hold["id"], "reason": hold["reason"]})
                continue
            self.delete(owner, media_id, reason="retention")
            deleted.append(media_id)
        if deleted or held:
            _log.info("media retention: %d deleted, %d kept by legal holds", len(deleted), len(held))
        return RetentionOut(deleted=deleted, held=held)

    def delete(self, tenant: str, media_id: str, *, reason: str) -> Receipt:
        """Log ``media.deleted``, destroy the data key (one transaction), then remove the object.

        Raises ``Conflict`` if a legal hold covers the media's permit or it is not stored.
        """
        row = self._media.get(tenant, media_id)
        if row.state != "stored":
            raise Conflict(f"media {media_id} is {row.state}; only stored media can be deleted")
        hold = self.active_hold(tenant, row.permit)
        if hold is not None:
            raise Conflict(f"media {media_id} of permit {row.permit!r} is under legal hold {hold['id']} "
                           f"({hold['reason']}); it cannot be deleted until the hold is released")
        item = self._recorder.service_item(tenant, "media.deleted", _deleted_payload(row, reason),
                                           subject={"media": media_id} | ({"permit": row.permit} if row.permit else {}))
        submission = self._recorder.prepare(tenant, [item])
        hook = _shred_hook(tenant, media_id, item["event"]["event_id"], self.clock.stamp())
        receipt = self._recorder.append(_with_hook(submission, hook))[0]
        self._remove_object(row)
        return receipt

    def _remove_object(self, row: MediaRow) -> None:
        try:
            self._media.store.delete(row.object_key)
        except ObjectNotFound:
            pass
        except ObjectStoreError as exc:  # the key is gone already: what is left cannot be read
            _log.error("media %s: data key destroyed, but the object store kept the ciphertext %s: %s",
                       row.id, row.object_key, exc)

    # -- legal holds ------------------------------------------------------------------------------
    def active_hold(self, tenant: str, permit: str | None) -> dict[str, Any] | None:
        """The oldest active legal hold on ``permit`` (None without a permit or a hold)."""
        if permit is None:
            return None
        h = media_tables.legal_holds.c
        with self._engine.connect() as conn:
            row = conn.execute(select(media_tables.legal_holds).where(
                h.tenant == tenant, h.permit == permit, h.active == 1).order_by(h.placed_at)).first()
        return dict(row._mapping) if row is not None else None

    def holds(self, tenant: str, permit: str) -> list[HoldOut]:
        """Every hold ever placed on ``permit``, oldest first."""
        self._org.get(db.permits, tenant, permit)
        h = media_tables.legal_holds.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(media_tables.legal_holds).where(h.tenant == tenant, h.permit == permit)
                                .order_by(h.placed_at)).all()
        return [_hold_out(dict(r._mapping)) for r in rows]

    def place(self, tenant: str, permit: str, item: Any) -> HoldOut:
        """Log a signed ``legal_hold.placed`` for ``permit`` and hold its media; a retry answers the same hold."""
        event = self._checked(tenant, permit, item, "legal_hold.placed")
        payload = _parse(_Placed, item["payload"], event["kind"])
        if self._recorder.existing(tenant, item) is None:
            row = {"tenant": tenant, "id": event["event_id"], "permit": permit, "reason": payload.reason,
                   "placed_by": event["actor"]["id"], "placed_at": self.clock.stamp(),
                   "placed_event_id": event["event_id"], "active": 1}

            def hook(conn: Connection, receipts: list[Receipt]) -> None:
                conn.execute(insert(media_tables.legal_holds).values(**row))

            self._recorder.append(_with_hook(self._recorder.prepare(tenant, [item]), hook))
        return self._hold(tenant, event["event_id"])

    def release(self, tenant: str, permit: str, hold_id: str, item: Any) -> HoldOut:
        """Log a signed ``legal_hold.released`` of hold ``hold_id``; ``Conflict`` if it is already released."""
        event = self._checked(tenant, permit, item, "legal_hold.released")
        payload = _parse(_Released, item["payload"], event["kind"])
        if payload.hold != hold_id:
            raise MalformedInput(f"legal_hold.released payload names hold {payload.hold!r}, the URL {hold_id!r}")
        hold = self._hold(tenant, hold_id)
        if hold.permit != permit:
            raise NotFound(f"legal hold {hold_id!r} is not on permit {permit!r}")
        if self._recorder.existing(tenant, item) is not None:
            return hold
        if not hold.active:
            raise Conflict(f"legal hold {hold_id} was already released at {hold.released_at}")
        values = {"active": 0, "released_by": event["actor"]["id"], "released_at": self.clock.stamp(),
                  "released_event_id": event["event_id"]}

        def hook(conn: Connection, receipts: list[Receipt]) -> None:
            h = media_tables.legal_holds.c
            done = conn.execute(update(media_tables.legal_holds).where(
                h.tenant == tenant, h.id == hold_id, h.active == 1).values(**values))
            if done.rowcount != 1:
                raise Conflict(f"legal hold {hold_id} was released meanwhile")

        self._recorder.append(_with_hook(self._recorder.prepare(tenant, [item]), hook))
        return self._hold(tenant, hold_id)

    def _checked(self, tenant: str, permit: str, item: Any, kind: str) -> dict[str, Any]:
        event = check_item(tenant, item)
        if event["kind"] != kind:
            raise MalformedInput(f"this endpoint takes a signed {kind} item, got {event['kind']!r}")
        if event["subject"].get("permit") != permit:
            raise MalformedInput(f"{kind}: event.subject.permit must be {permit!r}")
        self._org.get(db.permits, tenant, permit)
        actor = event["actor"]
        if actor["type"] != "user":
            raise Forbidden(f"{kind} is signed by a person with role {' or '.join(HOLD_ROLES)}")
        roles = self._org.get(db.users, tenant, actor["id"])["roles"]
        roles = roles.split(",") if isinstance(roles, str) else roles
        if not set(roles) & set(HOLD_ROLES):
            raise Forbidden(f"user {actor['id']!r} (roles {list(roles)}) may not sign {kind}; needs one of "
                            f"{list(HOLD_ROLES)}")
        return event

    def _hold(self, tenant: str, hold_id: str) -> HoldOut:
        h = media_tables.legal_holds.c
        with self._engine.connect() as conn:
            row = conn.execute(select(media_tables.legal_holds).where(h.tenant == tenant, h.id == hold_id)).first()
        if row is None:
            raise NotFound(f"legal hold {hold_id!r} does not exist for tenant {tenant!r}")
        return _hold_out(dict(row._mapping))


def _deleted_payload(row: MediaRow, reason: str) -> dict[str, Any]:
    return {"media": row.id, "sm3": row.declared_sm3, "size": row.length, "content_type": row.content_type,
            "reason": reason, "stored_at": row.row["stored_at"], "retain_until": row.row["retain_until"],
            "stored_event": row.row["event_id"], "data_key": "destroyed"}


def _shred_hook(tenant: str, media_id: str, event_id: str, now: str) -> Any:
    def hook(conn: Connection, receipts: list[Receipt]) -> None:
        m = media_tables.media.c
        done = conn.execute(update(media_tables.media).where(
            m.tenant == tenant, m.id == media_id, m.state == "stored").values(
            state="deleted", wrapped_key=None, deleted_at=now, delete_event_id=event_id))
        if done.rowcount != 1:
            raise Conflict(f"media {media_id} was deleted meanwhile")
    return hook


def _with_hook(submission: Any, hook: Any) -> Any:
    return dataclasses.replace(submission, on_commit=hook)


def _parse(model: type[BaseModel], payload: Any, kind: str) -> Any:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MalformedInput(f"{kind} payload: {fields}") from exc


def _hold_out(row: dict[str, Any]) -> HoldOut:
    return HoldOut(id=row["id"], permit=row["permit"], reason=row["reason"], placed_by=row["placed_by"],
                   placed_at=row["placed_at"], placed_event_id=row["placed_event_id"], active=bool(row["active"]),
                   released_at=row["released_at"], released_event_id=row["released_event_id"])
