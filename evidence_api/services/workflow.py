"""``Workflow``: runs signed permit actions through the rules and into the log, one permit at a time.

For each action: (1) a retry of an already logged event returns its receipt and changes nothing; (2) the
item is checked like any intake item (shape, registered key, SM2 signature, payload commitment); (3) the
signer must be a registered user; (4) under the permit's lock, the facts the rules need are loaded and
``permits.apply`` decides; (5) the event, any follow-up events the service signs (suspension, alarm), the
new permit projection and the notifications are committed in one transaction. A refused action writes
nothing at all. The lock is per process: one service process owns a database (as the log writer does).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, insert, select, update

from evidence_api import db
from evidence_api.services import permits
from evidence_api.services.errors import Conflict, Forbidden, NotFound
from evidence_api.services.notify import enqueue
from evidence_api.services.people import Organisation
from evidence_api.services.permit_model import PermitContent
from evidence_api.services.permit_rules import NearbyPermit
from evidence_api.services.recorder import Recorder
from ledger.errors import MalformedInput, StorageError
from ledger.events import check_claim
from ledger.keystore import DataKeyWrapper, open_sealed
from ledger.log import PreparedEvent, Receipt, Submission, utc_now

__all__ = ["Workflow", "check_item", "draft_id"]

_log = logging.getLogger(__name__)
_NOTIFY = frozenset({"permit.suspended", "permit.expired", "alarm.raised", "permit.rejected", "permit.approved"})


def _utc(moment: datetime) -> str:
    """Comparable text of a time: UTC, fixed width (the permits table is queried by string order)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _doc_json(doc: Mapping[str, Any]) -> str:
    """The permit document as stored (its version lives in its own column)."""
    return orjson.dumps({k: v for k, v in doc.items() if k != "version"}).decode()


def check_item(tenant: str, item: Any) -> dict[str, Any]:
    """The event of a signed permit item after its shape check (before any lookup that trusts its fields);
    raises ``MalformedInput`` naming what is wrong."""
    if not isinstance(item, dict) or set(item) != {"event", "payload", "salt"} or not isinstance(item["event"], dict):
        raise MalformedInput("body must be one signed item: an object with exactly event, payload and salt")
    check_claim(item["event"], tenant=tenant)
    event: dict[str, Any] = item["event"]
    return event


def draft_id(tenant: str, item: Any) -> str:
    """The id of the permit a ``permit.drafted`` item creates; raises ``MalformedInput`` for another kind."""
    event = check_item(tenant, item)
    permit_id = event["subject"].get("permit")
    if event["kind"] != "permit.drafted":
        raise MalformedInput(f"POST /v1/permits takes a permit.drafted event, got {event['kind']!r}; "
                             "other actions go to POST /v1/permits/{id}/actions")
    if permit_id is None:
        raise MalformedInput("a draft is a signed item whose event.subject.permit names the new permit")
    return str(permit_id)


class Workflow:
    """Permit actions, detector observations and the watchdog of one service."""

    def __init__(self, engine: Engine, org: Organisation, recorder: Recorder, wrapper: DataKeyWrapper, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine, self._org, self._recorder, self.clock = engine, org, recorder, clock
        self._wrapper = wrapper
        self._locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()

    @contextmanager
    def _locked(self, tenant: str, permit_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[(tenant, permit_id)]
        with lock:
            yield

    # -- reading ---------------------------------------------------------------------------------
    def load(self, tenant: str, permit_id: str) -> dict[str, Any] | None:
        """The permit's document with its version, or None."""
        p = db.permits.c
        with self._engine.connect() as conn:
            row = conn.execute(select(p.doc, p.version).where(p.tenant == tenant, p.id == permit_id)).first()
        if row is None:
            return None
        doc: dict[str, Any] = orjson.loads(row.doc)
        doc["version"] = row.version
        return doc

    def get(self, tenant: str, permit_id: str) -> dict[str, Any]:
        """The permit's document; raises ``NotFound``."""
        doc = self.load(tenant, permit_id)
        if doc is None:
            raise NotFound(f"permit {permit_id!r} does not exist for tenant {tenant!r}")
        return doc

    # -- acting ----------------------------------------------------------------------------------
    def act(self, tenant: str, permit_id: str, item: Any) -> dict[str, Any]:
        """Apply a signed action item ``{"event", "payload", "salt"}`` to permit ``permit_id``.

        Returns ``{"permit": document, "receipts": [...]}`` (the action's receipt first, then follow-ups').
        Raises what the intake checks and ``permits.apply`` raise; nothing is written then.
        """
        check_item(tenant, item)
        retry = self._recorder.existing(tenant, item)
        if retry is not None:
            return {"permit": self.get(tenant, permit_id), "receipts": [retry.to_json()]}
        submission = self._recorder.prepare(tenant, [item])  # shape, key, signature, commitment
        event = item["event"]
        if event["subject"].get("permit") != permit_id:
            raise MalformedInput(f"event.subject.permit must be {permit_id!r}, got {event['subject'].get('permit')!r}")
        if event["actor"]["type"] != "user":
            raise Forbidden(f"permit actions are signed by users; got a {event['actor']['type']} key")
        user = self._org.user(tenant, event["actor"]["id"])
        actor = permits.Actor("user", user.id, user.roles)
        with self._locked(tenant, permit_id):
            doc = self.load(tenant, permit_id)
            rules, now = self._org.rules(tenant), self.clock()
            if event["kind"] == "permit.drafted":
                if doc is not None:
                    raise Conflict(f"permit {permit_id!r} already exists; choose a new permit id")
                new = permits.draft(event, item["payload"], actor, rules, permits.Facts())
                follow: list[permits.FollowUp] = []
            else:
                if doc is None:
                    raise NotFound(f"permit {permit_id!r} does not exist for tenant {tenant!r}; draft it first")
                facts = self._facts(tenant, doc, event["kind"])
                new, follow = permits.apply(doc, event["kind"], event, item["payload"], actor, rules, facts, now)
            receipts, new = self._commit(tenant, doc, new, submission, follow, now)
        return {"permit": new, "receipts": [r.to_json() for r in receipts]}

    def _commit(self, tenant: str, old: Mapping[str, Any] | None, new: dict[str, Any], submission: Submission,
                follow: Sequence[permits.FollowUp], now: datetime) -> tuple[list[Receipt], dict[str, Any]]:
        """Sign the follow-ups, apply them, and append everything with the projection in one commit."""
        items = [self._recorder.service_item(tenant, kind, payload, subject={"permit": new["id"]}) for kind, payload in follow]
        service = permits.Actor("service", "tiezheng")
        rules = self._org.rules(tenant)
        for item in items:
            new, _ = permits.apply(new, item["event"]["kind"], item["event"], item["payload"], service, rules,
                                   permits.Facts(), now)
        if items:
            extra = self._recorder.prepare(tenant, items)
            submission = Submission([*submission.events, *extra.events])
        kinds = [p.kind for p in submission.events]
        version = (old or {}).get("version", 0)
        new["version"] = version + len(kinds)
        hook = self._projection_hook(tenant, new, version, kinds, now)
        return self._recorder.append(submission, on_commit=hook), new

    def _projection_hook(self, tenant: str, doc: dict[str, Any], version: int, kinds: list[str],
                         now: datetime) -> Callable[[Connection, list[Receipt]], None]:
        content = PermitContent.model_validate(doc["content"])
        row = {"type": content.type, "level": content.level, "state": doc["state"], "area": content.area,
               "starts_at": _utc(content.starts_at), "ends_at": _utc(content.ends_at),
               "doc": _doc_json(doc),
               "version": doc["version"], "updated_at": _utc(now)}
        live = int(doc["state"] in permits.LIVE)
        workers = [{"tenant": tenant, "permit": doc["id"], "worker": w.worker, "hours_per_day": w.hours_per_day,
                    "starts_at": row["starts_at"], "ends_at": row["ends_at"], "live": live} for w in content.workers]
        notices = [(kind, {"permit": doc["id"], "state": doc["state"], "kind": kind, "parties": permits.parties(doc),
                           "at": _utc(now)}) for kind in kinds if kind in _NOTIFY]

        def hook(conn: Connection, receipts: list[Receipt]) -> None:
            p = db.permits.c
            if version == 0:
                conn.execute(insert(db.permits).values(tenant=tenant, id=doc["id"], **row))
            else:
                done = conn.execute(update(db.permits).where(p.tenant == tenant, p.id == doc["id"], p.version == version)
                                    .values(**row))
                if done.rowcount != 1:
                    raise StorageError(f"permit {doc['id']} changed under its lock; retry the action")
            conn.execute(delete(db.permit_workers).where(db.permit_workers.c.tenant == tenant,
                                                         db.permit_workers.c.permit == doc["id"]))
            conn.execute(insert(db.permit_workers), workers)
            for topic, body in notices:
                enqueue(conn, tenant, topic, body | {"event_ids": [r.event_id for r in receipts]})

        return hook

    # -- facts -----------------------------------------------------------------------------------
    def _facts(self, tenant: str, doc: Mapping[str, Any], kind: str) -> permits.Facts:
        content = PermitContent.model_validate(doc["content"])
        facts = permits.Facts()
        if kind in ("permit.submitted", "permit.activated"):
            worker_ids = [w.worker for w in content.workers]
            with self._engine.connect() as conn:
                facts.certificates = self._certificates(conn, tenant, worker_ids)
                if kind == "permit.submitted":
                    people = {content.team_leader, content.guardian} | {m.confirmer for m in content.measures}
                    u, w = db.users.c, db.workers.c
                    facts.roles = {row.id: row.roles.split(",") for row in conn.execute(
                        select(u.id, u.roles).where(u.tenant == tenant, u.id.in_(sorted(people))))}
                    facts.workers = list(conn.execute(
                        select(w.id).where(w.tenant == tenant, w.id.in_(worker_ids))).scalars())
                    facts.violations = self._violations(conn, tenant, worker_ids)
                    facts.other_hours = self._other_hours(conn, tenant, doc["id"], worker_ids)
                    area = self._org.get(db.areas, tenant, content.area)
                    facts.geofence = orjson.loads(area["geofence"])
                    facts.nearby = self._nearby(conn, tenant, doc["id"], content, self._org.rules(tenant).conflicts)
        if kind in ("guardian.checkin", "guardian.handover"):
            area = self._org.get(db.areas, tenant, content.area)
            facts.qr_token_hash = area["qr_token_hash"]
        return facts

    @staticmethod
    def _certificates(conn: Connection, tenant: str, workers: list[str]) -> dict[str, list[dict[str, Any]]]:
        c = db.certificates.c
        found: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in conn.execute(select(db.certificates).where(c.tenant == tenant, c.worker.in_(workers))):
            found[row.worker].append(dict(row._mapping))
        return found

    @staticmethod
    def _violations(conn: Connection, tenant: str, workers: list[str]) -> dict[str, list[str]]:
        v = db.violations.c
        found: dict[str, list[str]] = defaultdict(list)
        for row in conn.execute(select(v.worker, v.occurred_on).where(v.tenant == tenant, v.worker.in_(workers))):
            found[row.worker].append(row.occurred_on)
        return found

    @staticmethod
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

    @staticmethod
    def _nearby(conn: Connection, tenant: str, permit_id: str, content: PermitContent,
                conflicts: Sequence[tuple[str, str]]) -> list[NearbyPermit]:
        """Live permits of a type that conflicts with this one and whose window overlaps it."""
        kinds = sorted({b for a, b in conflicts if a == content.type} | {a for a, b in conflicts if b == content.type})
        p = db.permits.c
        rows = conn.execute(select(p.id, p.doc).where(
            p.tenant == tenant, p.id != permit_id, p.state.in_(sorted(permits.LIVE)), p.type.in_(kinds),
            p.starts_at < _utc(content.ends_at), p.ends_at > _utc(content.starts_at)))
        nearby = []
        for row in rows:
            other = orjson.loads(row.doc)["content"]
            nearby.append(NearbyPermit(row.id, other["type"], other["area"], other["location"]["lat"],
                                       other["location"]["lon"], datetime.fromisoformat(other["starts_at"]),
                                       datetime.fromisoformat(other["ends_at"])))
        return nearby

    # -- the service's own actions ---------------------------------------------------------------
    def watch_once(self, now: datetime | None = None) -> int:
        """Expire permits past their window and suspend active ones whose guardian went silent or whose gas
        re-analysis is overdue; returns how many permits got events. Run by the watchdog thread."""
        moment = now or self.clock()
        p = db.permits.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(p.tenant, p.id).where(p.state.not_in(sorted(permits.TERMINAL | {"completed"})))).all()
        acted = 0
        for tenant, permit_id in rows:
            try:
                acted += self._watch(tenant, permit_id, moment)
            except Exception as exc:  # noqa: BLE001 - one bad permit must not stop the watchdog for the others
                _log.error("watchdog: permit %s/%s: %s", tenant, permit_id, exc)
        return acted

    def _watch(self, tenant: str, permit_id: str, now: datetime) -> int:
        with self._locked(tenant, permit_id):
            doc = self.load(tenant, permit_id)
            if doc is None:
                return 0
            follow = permits.due_follow_ups(doc, self._org.rules(tenant), now)
            if not follow:
                return 0
            self._commit(tenant, doc, dict(doc), Submission([]), follow, now)
            _log.warning("permit %s/%s: %s", tenant, permit_id, ", ".join(kind for kind, _ in follow))
            return 1

    def refuse_bypass(self, tenant: str, events: Sequence[PreparedEvent]) -> None:
        """Raise ``Conflict`` if a ``POST /v1/events`` batch carries a workflow action (an approval, a
        check-in ...) for a permit the workflow runs: those must pass the rules at
        ``POST /v1/permits/{id}/actions``. Observations (detector readings, media) are welcome."""
        wanted = {p.permit: p.kind for p in events if p.permit is not None and p.kind in permits.WORKFLOW_KINDS}
        if not wanted:
            return
        p = db.permits.c
        with self._engine.connect() as conn:
            managed = conn.execute(select(p.id).where(p.tenant == tenant, p.id.in_(sorted(wanted)))).scalars().first()
        if managed is not None:
            raise Conflict(f"permit {managed!r} is run by the permit workflow: send {wanted[managed]} to "
                           f"POST /v1/permits/{managed}/actions, where the rules check it")

    def observe_logged(self, tenant: str, logged: Sequence[PreparedEvent]) -> None:
        """Evaluate the detector readings among events just logged by ``POST /v1/events``, per permit."""
        by_permit: dict[str, list[tuple[dict[str, Any], Any]]] = defaultdict(list)
        for p in logged:
            if p.kind == "detector.reading" and p.permit is not None:
                context = f"{tenant}|{p.event_id}".encode()
                opened = orjson.loads(open_sealed(self._wrapper, tenant, p.payload_sealed, p.payload_key, context=context))
                by_permit[p.permit].append((orjson.loads(p.leaf.fill(None)), opened["payload"]))
        for permit_id, readings in by_permit.items():
            self.observe(tenant, permit_id, readings)

    def observe(self, tenant: str, permit_id: str, readings: Sequence[tuple[dict[str, Any], Any]]) -> None:
        """Evaluate detector readings already in the log for ``permit_id`` (``(event, payload)`` pairs): a
        reading out of limits suspends an active permit and raises an alarm at once."""
        with self._locked(tenant, permit_id):
            doc = self.load(tenant, permit_id)
            if doc is None or doc["state"] not in ("approved", "active", "suspended"):
                return
            rules, now = self._org.rules(tenant), self.clock()
            device = permits.Actor("device", readings[0][0]["actor"]["id"])
            for event, payload in readings:
                try:
                    new, follow = permits.apply(doc, "detector.reading", event, payload, device, rules,
                                                permits.Facts(), now)
                except MalformedInput as exc:
                    _log.warning("detector reading %s on permit %s not evaluated: %s", event["event_id"], permit_id, exc)
                    continue
                if follow:
                    self._commit(tenant, doc, new, Submission([]), follow, now)
                    return
            stamp = {"last_reading_at": now.isoformat(), "event_id": readings[-1][0]["event_id"]}
            self._store_detector_stamp(tenant, doc, stamp)

    def _store_detector_stamp(self, tenant: str, doc: dict[str, Any], stamp: dict[str, Any]) -> None:
        """Passing readings are not copied into the document (continuous monitoring would bloat it); the last
        one is noted so the re-analysis interval counts it."""
        doc = dict(doc) | {"detector": stamp}
        p = db.permits.c
        with self._engine.begin() as conn:
            conn.execute(update(db.permits).where(p.tenant == tenant, p.id == doc["id"])
                         .values(doc=_doc_json(doc), updated_at=utc_now()))
