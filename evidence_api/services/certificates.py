"""Special-operations certificates (特种作业操作证, 安监总局令第30号): registration, lookups by state, team and
work type, dashboard counts, the daily expiry/复审 warnings and registry verification.

Every change is an evidence event signed by the service (``certificate.registered``,
``certificate.expiry_warning``, ``certificate.verified``, ``certificate.verification_failed``,
``certificate.verification_unavailable``), and the rows it changes commit in the same transaction as the
event, folded by ``services.projector`` from the committed event (the call returns once it is): there is
never a certificate without its event, or a warning row without its event and notification. The calendar
day is the plant's (the injected ``Clock``).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, and_, select

from evidence_api import db
from evidence_api.services.catalog import CATEGORIES, SUB_TYPES, certificate_state, check_sub_type
from evidence_api.services.errors import Conflict, NotFound
from evidence_api.services.people import Organisation
from evidence_api.services.projector import Projector
from evidence_api.services.recorder import Recorder
from evidence_api.services.registry import CertificateRegistry, RegistryUnavailable, compare
from ledger.clock import Clock
from ledger.errors import MalformedInput, StorageError
from ledger.log import Receipt, Submission

__all__ = ["REVIEW_YEARS", "STATES", "VALID_YEARS", "CertificateInput", "Certificates", "Problem", "add_years", "check_fields"]

_log = logging.getLogger(__name__)

STATES = ("valid", "expired", "review_overdue", "suspended", "revoked", "void")
VALID_YEARS, REVIEW_YEARS = 6, 3             # 30号令 Art 19 and Art 21

Problem = tuple[str, str, type[Exception]]
"""What is wrong with a certificate: the field, the message, and the error kind an API call raises for it."""


def add_years(day: date, years: int) -> date:
    """``day`` plus ``years`` calendar years (29 February becomes 28 February).

    >>> add_years(date(2024, 2, 29), 3)
    datetime.date(2027, 2, 28)
    """
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@dataclass(frozen=True)
class CertificateInput:
    """A certificate to register; missing dates default to ``issued_on`` + 6 years (expiry) and + 3 (复审)."""

    worker: str
    category: str
    sub_type: str
    number: str
    holder_name: str
    issued_on: date
    authority: str
    expires_on: date | None = None
    review_due_on: date | None = None
    id: str | None = None

    def row(self, tenant: str, now: str) -> dict[str, Any]:
        """The ``certificates`` row this input becomes at ``now`` (a fresh id when none was given)."""
        return {"tenant": tenant, "id": self.id or f"cert-{uuid.uuid4().hex[:16]}", "worker": self.worker,
                "category": self.category, "sub_type": self.sub_type, "number": self.number,
                "holder_name": self.holder_name, "issued_on": self.issued_on.isoformat(),
                "expires_on": (self.expires_on or add_years(self.issued_on, VALID_YEARS)).isoformat(),
                "review_due_on": (self.review_due_on or add_years(self.issued_on, REVIEW_YEARS)).isoformat(),
                "authority": self.authority, "status": "valid", "created_at": now, "updated_at": now}


def _text_problem(data: CertificateInput) -> Problem | None:
    for name, limit in (("number", 64), ("holder_name", 200), ("authority", 200), ("worker", 64)):
        value = getattr(data, name)
        if not value.strip() or len(value) > limit or value != value.strip():
            return name, f"must be 1 to {limit} characters without surrounding spaces, got {value!r}", MalformedInput
    return None


def _date_problem(data: CertificateInput, on: date) -> Problem | None:
    expires = data.expires_on or add_years(data.issued_on, VALID_YEARS)
    review = data.review_due_on or add_years(data.issued_on, REVIEW_YEARS)
    if data.issued_on > on:
        return "issued_on", f"{data.issued_on} is in the future (today is {on})", MalformedInput
    if expires <= data.issued_on:
        return "expires_on", f"{expires} is not after issued_on {data.issued_on}", MalformedInput
    if not data.issued_on < review <= expires:
        return "review_due_on", f"{review} must be after issued_on {data.issued_on} and not after expires_on {expires}", \
            MalformedInput
    return None


def check_fields(data: CertificateInput, on: date) -> Problem | None:
    """The first problem of ``data`` that needs no database (catalog, text, dates), or None."""
    catalog = check_sub_type(data.category, data.sub_type)
    if catalog is not None:
        return ("category" if catalog.startswith("unknown category") else "sub_type"), catalog, MalformedInput
    return _text_problem(data) or _date_problem(data, on)


class Certificates:
    """Certificates of every tenant: writes go through the recorder, so each one is an evidence event.

    ``registry`` is the authority registry used by ``verify`` (None: not configured); ``max_batch`` is the
    intake's batch limit, by which larger groups of events are prepared in chunks and appended as one.
    """

    def __init__(self, engine: Engine, org: Organisation, recorder: Recorder, projector: Projector, *,
                 max_batch: int, registry: CertificateRegistry | None = None, clock: Clock | None = None) -> None:
        self._engine, self._org, self._recorder, self._max_batch = engine, org, recorder, max_batch
        self._projector, self.registry, self._clock = projector, registry, clock or Clock()  # certificate dates are calendar days of the plant (default Asia/Shanghai)
        self._lock = threading.Lock()  # serialises check-then-record, so the projection never hits a constraint
        self._last_day: date | None = None

    # -- writing -----------------------------------------------------------------------------------
    def _record(self, tenant: str, items: Sequence[dict[str, Any]]) -> list[Receipt]:
        """Append the service's signed ``items`` as one submission and wait until the projector has folded
        them (the rows they make exist then); ``StorageError`` if it could not."""
        chunks = [self._recorder.prepare(tenant, list(items[i:i + self._max_batch]))
                  for i in range(0, len(items), self._max_batch)]
        receipts = self._recorder.append(Submission(events=[e for c in chunks for e in c.events]))
        leaves = [r.leaf_index for r in receipts]
        self._projector.catch_up(until=max(leaves))
        failed = self._projector.failed(leaves)
        if failed:
            raise StorageError(f"logged, but the projection could not fold leaf {min(failed)}: {failed[min(failed)]}")
        return receipts

    def _item(self, tenant: str, kind: str, cert: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        return self._recorder.service_item(tenant, kind, payload,
                                           subject={"certificate": cert["id"], "worker": cert["worker"]})

    def _stored_problem(self, conn: Connection, tenant: str, data: CertificateInput) -> Problem | None:
        c, w = db.certificates.c, db.workers.c
        if conn.execute(select(w.id).where(w.tenant == tenant, w.id == data.worker)).first() is None:
            return "worker", f"no worker {data.worker!r} in tenant {tenant!r}; register the worker first", NotFound
        taken = conn.execute(select(c.id).where(c.tenant == tenant, c.number == data.number)).scalar()
        if taken is not None:
            return "number", f"certificate number {data.number!r} is already registered as {taken!r}", Conflict
        if data.id is not None and conn.execute(select(c.id).where(c.tenant == tenant, c.id == data.id)).first():
            return "id", f"certificate {data.id!r} already exists", Conflict
        return None

    def add_many(self, tenant: str, inputs: Sequence[CertificateInput], *,
                 on: date | None = None) -> list[dict[str, Any] | Problem]:
        """Register every acceptable certificate of ``inputs`` together, each with its ``certificate.registered``
        event, in one transaction; a refused one changes nothing. Returns, per input, the stored row or its
        ``Problem`` (a number repeated within ``inputs`` is refused after its first use)."""
        on = on or self._clock.today()
        results: list[dict[str, Any] | Problem] = []
        with self._lock:
            with self._engine.connect() as conn:
                seen: set[str] = set()
                for data in inputs:
                    problem = check_fields(data, on) or self._stored_problem(conn, tenant, data)
                    if problem is None and data.number in seen:
                        problem = "number", f"{data.number!r} appears twice; only its first row is registered", Conflict
                    seen.add(data.number)
                    results.append(problem or data.row(tenant, self._clock.stamp()))
            rows = [r for r in results if isinstance(r, dict)]
            if rows:
                items = [self._item(tenant, "certificate.registered", r, _public(r)) for r in rows]
                self._record(tenant, items)
        stored = self._stored(tenant, [r["id"] for r in rows])
        return [self.view(stored[r["id"]], on) if isinstance(r, dict) else r for r in results]

    def _stored(self, tenant: str, ids: list[str]) -> dict[str, dict[str, Any]]:
        c = db.certificates.c
        with self._engine.connect() as conn:
            return {r.id: dict(r._mapping) for r in conn.execute(select(db.certificates).where(
                c.tenant == tenant, c.id.in_(ids)))}

    def register(self, tenant: str, data: CertificateInput) -> dict[str, Any]:
        """Register one certificate with its event; raises ``MalformedInput`` (catalog, dates), ``NotFound``
        (worker) or ``Conflict`` (number or id taken), each naming the field."""
        result = self.add_many(tenant, [data])[0]
        if isinstance(result, tuple):
            field, message, kind = result
            raise kind(f"{field}: {message}")
        return result

    # -- reading -----------------------------------------------------------------------------------
    @staticmethod
    def view(row: dict[str, Any], on: date) -> dict[str, Any]:
        """``row`` with its ``state`` on day ``on`` and its sub-type's name."""
        state = certificate_state(row["status"], date.fromisoformat(row["expires_on"]),
                                  date.fromisoformat(row["review_due_on"]), on)
        return {**row, "sub_type_name": SUB_TYPES.get(row["sub_type"], ""), "state": state}

    def get(self, tenant: str, cert_id: str, *, on: date | None = None) -> dict[str, Any]:
        """The certificate ``cert_id`` with its state on ``on`` (today by default); raises ``NotFound``."""
        return self.view(self._org.get(db.certificates, tenant, cert_id), on or self._clock.today())

    def find(self, tenant: str, *, on: date | None = None, state: str | None = None, team: str | None = None,
             category: str | None = None, sub_type: str | None = None,
             work_type: str | None = None) -> list[dict[str, Any]]:
        """The tenant's certificates with their state and holder's team on ``on``, filtered by each argument
        given. ``work_type`` keeps the sub-types its rules require (``operations``; none for a work type that
        requires none); raises ``MalformedInput`` for an unknown state or work type."""
        if state is not None and state not in STATES:
            raise MalformedInput(f"state must be one of {list(STATES)}, got {state!r}")
        c, w = db.certificates.c, db.workers.c
        query = (select(db.certificates, w.team).join(db.workers, and_(w.tenant == c.tenant, w.id == c.worker))
                 .where(c.tenant == tenant).order_by(c.id))
        for column, value in ((c.category, category), (c.sub_type, sub_type), (w.team, team)):
            if value is not None:
                query = query.where(column == value)
        if work_type is not None:
            query = query.where(c.sub_type.in_(self._org.rules(tenant).work_type(work_type).operations))
        with self._engine.connect() as conn:
            views = [self.view(dict(r._mapping), on or self._clock.today()) for r in conn.execute(query)]
        return [v for v in views if state is None or v["state"] == state]

    def summary(self, tenant: str, *, on: date | None = None) -> dict[str, Any]:
        """Counts for a dashboard on ``on``: in total, by state, and by state within each team and category."""
        on = on or self._clock.today()
        views = self.find(tenant, on=on)
        by_team: dict[str, Counter[str]] = {}
        by_category: dict[str, Counter[str]] = {}
        for v in views:
            by_team.setdefault(v["team"], Counter())[v["state"]] += 1
            by_category.setdefault(v["category"], Counter())[v["state"]] += 1
        return {"on": on.isoformat(), "total": len(views), "by_state": _counts(Counter(v["state"] for v in views)),
                "by_team": {t: _counts(n) for t, n in sorted(by_team.items())},
                "by_category": {k: {"name": CATEGORIES.get(k, ""), **_counts(n)}
                                for k, n in sorted(by_category.items(), key=lambda kv: int(kv[0]))}}

    # -- expiry warnings -----------------------------------------------------------------------------
    def warn_expiring(self, tenant: str | None, on: date, *, today: date) -> list[dict[str, Any]]:
        """The daily job for ``tenant`` (None: every tenant) on day ``on``: one ``certificate.expiry_warning``
        event and one notification per certificate, due kind (expiry, review), due date and threshold of
        ``rules.certificate_warning_days`` whose window has been entered; only the nearest threshold is warned,
        and a re-run warns nothing twice. Returns the warnings made now.

        ``today`` is the plant's calendar day. ``on`` may be a past day (re-running a missed day), never a later
        one: each threshold warns once, so a run for a future day would use up the 90/30/7-day warnings before
        their day and the real ones would never go out. Raises ``MalformedInput`` for ``on`` after ``today``."""
        if on > today:
            raise MalformedInput(f"on={on.isoformat()} is after today ({today.isoformat()}, plant time): warnings go "
                                 "out on their day, and each threshold warns once, so a run for a future day would "
                                 "use them up early; to see what expires by then, GET /v1/certificates?on=<day>")
        with self._engine.connect() as conn:
            tenants = [tenant] if tenant is not None else list(conn.execute(select(db.tenants.c.id)).scalars())
        made: list[dict[str, Any]] = []
        with self._lock:
            for name in tenants:
                made.extend(self._warn_tenant(name, on))
        return made

    def _due(self, tenant: str, on: date) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        thresholds = sorted(set(self._org.rules(tenant).certificate_warning_days))
        c, cw = db.certificates.c, db.certificate_warnings.c
        with self._engine.connect() as conn:
            certs = [dict(r._mapping) for r in conn.execute(select(db.certificates).where(
                c.tenant == tenant, c.status == "valid").order_by(c.id))]
            done = {tuple(r) for r in conn.execute(select(cw.certificate, cw.due_kind, cw.due_on, cw.days_before)
                                                   .where(cw.tenant == tenant))}
        due = []
        for cert in certs:
            dates = [("expiry", cert["expires_on"])]
            if cert["review_due_on"] < cert["expires_on"]:  # a review on the expiry day is covered by the expiry
                dates.append(("review", cert["review_due_on"]))
            for kind, day in dates:
                left = (date.fromisoformat(day) - on).days
                days = next((t for t in thresholds if 0 <= left <= t), None)
                if days is not None and (cert["id"], kind, day, days) not in done:
                    due.append((cert, {"due_kind": kind, "due_on": day, "days_before": days, "days_left": left}))
        return due

    def _warn_tenant(self, tenant: str, on: date) -> list[dict[str, Any]]:
        due = self._due(tenant, on)
        if not due:
            return []
        payloads = [{"certificate": cert["id"], "number": cert["number"], "holder_name": cert["holder_name"],
                     "worker": cert["worker"], "sub_type": cert["sub_type"],
                     "sub_type_name": SUB_TYPES.get(cert["sub_type"], ""), **when, "on": on.isoformat()}
                    for cert, when in due]
        items = [self._item(tenant, "certificate.expiry_warning", cert, p) for (cert, _), p in zip(due, payloads, strict=True)]
        receipts = self._record(tenant, items)  # the projector writes the warning rows and notifications
        return [{**p, "event_id": r.event_id, "leaf_index": r.leaf_index} for p, r in zip(payloads, receipts, strict=True)]

    def daily_once(self) -> list[dict[str, Any]]:
        """The daily job, for a periodic runner: warns every tenant for today (China), once per new day;
        returns the warnings made (none when today was already done)."""
        day = self._clock.today()
        if day == self._last_day:
            return []
        made = self.warn_expiring(None, day, today=day)
        self._last_day = day
        _log.info("certificate warnings for %s: %d made", day, len(made))
        return made

    # -- registry verification -------------------------------------------------------------------------
    def verify(self, tenant: str, cert_id: str) -> dict[str, Any]:
        """Ask the registry about ``cert_id`` and record what happened as one event: ``certificate.verified``
        (it confirms), ``certificate.verification_failed`` (it disagrees; the payload lists how) or
        ``certificate.verification_unavailable`` (no registry, or it could not be asked; with the reason).
        Returns the outcome with the event id; raises ``NotFound``."""
        cert = self._org.get(db.certificates, tenant, cert_id)
        kind, outcome = self._ask(cert)
        payload = {"certificate": cert_id, "number": cert["number"], "holder_name": cert["holder_name"], **outcome}
        receipt = self._record(tenant, [self._item(tenant, kind, cert, payload)])[0]
        return {**payload, "kind": kind, "event_id": receipt.event_id, "leaf_index": receipt.leaf_index}

    def _ask(self, cert: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.registry is None:
            return "certificate.verification_unavailable", {"outcome": "unavailable",
                                                            "reason": "no certificate registry is configured"}
        try:
            answer = self.registry.lookup(cert["number"], cert["holder_name"])
        except RegistryUnavailable as exc:
            return "certificate.verification_unavailable", {"outcome": "unavailable", "reason": str(exc)}
        disagreements = compare(cert, answer)
        registry = {"found": answer.found, "record": answer.record}
        if disagreements:
            return "certificate.verification_failed", {"outcome": "failed", "disagreements": disagreements,
                                                       "registry": registry}
        return "certificate.verified", {"outcome": "verified", "registry": registry}


def _public(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in ("tenant", "created_at", "updated_at")}


def _counts(counter: Counter[str]) -> dict[str, int]:
    return {"total": sum(counter.values()), **{s: counter.get(s, 0) for s in STATES}}

