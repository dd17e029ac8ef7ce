"""Daily regulator digests (监管摘要): per tenant and plant day, the day-end tree, the consistency proof from
the previous day's tree and the counts a regulator needs, signed with the log key (docs/formats.md,
"Regulator digest").

A digest holds no raw and no personal data: no names, ids, certificate numbers, coordinates or payloads;
the tenant appears as a hash. The day's tree is the day-end checkpoint (``ledger.dayend``); the counted
events are the tenant's leaves from the previous day-end tree up to this one, labelled by
``services.tally``. A digest can be built once its day has ended; the daily job builds yesterday's at
``build_at`` plant time, an on-demand request (调取指令) builds any that are missing. Once stored a digest
never changes; its anchor receipts are looked up when it is served (``pending`` until they exist).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from evidence_api import db
from evidence_api.services.errors import Conflict, NotFound
from evidence_api.services.projector import Projector
from evidence_api.services.tally import COUNTED_KINDS, Label, label, load_permit_facts
from ledger.canonical import canonical
from ledger.checkpoint import SignedCheckpoint
from ledger.clock import Clock
from ledger.dayend import day_end, day_end_checkpoint, day_of
from ledger.errors import MalformedInput
from ledger.hashing import EMPTY_ROOT
from ledger.log import TransparencyLog
from ledger.sm import sm3

__all__ = ["DIGEST_TYPE", "MAX_RANGE_DAYS", "DigestView", "Digests", "require_plausible", "tenant_hash"]

DIGEST_TYPE = "tiezheng.digest/v1"
MAX_RANGE_DAYS = 31
_BACKLOG_DAYS = 31


_FIRST_DAY, _LAST_DAY = date(1970, 1, 2), date(9998, 12, 31)


def require_plausible(*days: date) -> None:
    """``MalformedInput`` for a day outside 1970-01-02 .. 9998-12-31 (no log holds one; its neighbours must
    exist as dates)."""
    for day in days:
        if not _FIRST_DAY <= day <= _LAST_DAY:
            raise MalformedInput(f"day {day} is outside {_FIRST_DAY} .. {_LAST_DAY}")


def tenant_hash(tenant: str) -> str:
    """How a digest names its tenant: hex SM3 of ``tiezheng.tenant/v1`` LF ``tenant``."""
    return sm3(b"tiezheng.tenant/v1\n" + tenant.encode()).hex()


@dataclass(frozen=True)
class DigestView:
    """A stored digest as served: the signed ``digest``, its SM3 ``digest_hash``, per anchor backend its
    ``status`` (``anchored`` with the receipt, ``pending``, ``missed`` or ``none`` for an empty tree), and
    the write of its hash to the EVM registry (``registry``: ``recorded`` with the receipt, ``pending``,
    ``failed`` or ``not_configured``)."""

    digest: dict[str, Any]
    digest_hash: str
    anchors: list[dict[str, Any]]
    registry: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The JSON the API serves and ``tiezheng digest verify`` reads."""
        return {"digest": self.digest, "digest_hash": self.digest_hash, "anchors": self.anchors,
                "registry": self.registry}


class Digests:
    """Builds, stores and serves digests of ``log``; ``projector`` is caught up to a day's tree before its
    counts are read; ``backends`` names the configured anchor backends; ``build_at`` is the plant time of
    the daily run; ``registry`` says whether digest hashes go to the EVM registry (``digest_registry``)."""

    def __init__(self, engine: Engine, log: TransparencyLog, projector: Projector, *, backends: list[str],
                 clock: Clock, build_at: time = time(2, 0), registry: bool = False) -> None:
        self._engine, self._log, self._projector = engine, log, projector
        self._backends, self._clock, self._build_at = backends, clock, build_at
        self._registry = registry

    # -- reading ---------------------------------------------------------------------------------
    def get(self, tenant: str, day: date) -> DigestView:
        """The digest of ``tenant`` for ``day``, built now if the day has ended and none is stored.

        Raises ``MalformedInput`` for a day that has not ended, ``NotFound`` for a day before the tenant
        existed, ``Conflict`` while the projection is behind the day's tree (retry)."""
        self._require_ended(day)
        row = self._stored(tenant, day) or self.build(tenant, day)
        return self._view(row)

    def between(self, tenant: str, first: date, last: date) -> list[DigestView]:
        """The digests of ``first`` .. ``last`` (inclusive, at most ``MAX_RANGE_DAYS``), built if missing;
        days before the tenant existed are left out. Raises like ``get``."""
        require_plausible(first, last)
        if last < first:
            raise MalformedInput(f"from {first} is after to {last}")
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise MalformedInput(f"a range covers at most {MAX_RANGE_DAYS} days; got {(last - first).days + 1}")
        self._require_ended(last)
        start = max(first, self._created_on(tenant))
        return [self.get(tenant, start + timedelta(days=i)) for i in range((last - start).days + 1)]

    # -- building --------------------------------------------------------------------------------
    def build(self, tenant: str, day: date) -> dict[str, Any]:
        """Build, sign and store the digest of ``tenant`` for ``day`` (an ended day); returns the stored row."""
        self._require_ended(day)
        if day < self._created_on(tenant):
            raise NotFound(f"tenant {tenant!r} did not exist on {day}: it was created on {self._created_on(tenant)}")
        body = self._body(tenant, day)
        text = canonical(body).decode()
        row = {"tenant": tenant, "day": day.isoformat(), "tree_size": body["log"]["tree_size"],
               "digest_hash": sm3(text.encode()).hex(), "body": text, "created_at": self._clock.stamp()}
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(db.digests).values(**row))
        except IntegrityError:  # built meanwhile by another request or the daily job: the stored one stands
            stored = self._stored(tenant, day)
            if stored is None:
                raise
            return stored
        return row

    def daily_once(self) -> int:
        """Build every tenant's missing digests of ended days (the last ``_BACKLOG_DAYS``), once ``build_at``
        has passed; returns how many were built. For the periodic job."""
        local = self._clock.local()
        latest = local.date() - timedelta(days=1 if local.time() >= self._build_at else 2)
        built = 0
        with self._engine.connect() as conn:
            tenants = conn.execute(select(db.tenants.c.id).order_by(db.tenants.c.id)).scalars().all()
        for tenant in tenants:
            day = max(self._created_on(tenant), self._next_unbuilt(tenant), latest - timedelta(days=_BACKLOG_DAYS))
            while day <= latest:
                if self._stored(tenant, day) is None:
                    self.build(tenant, day)
                    built += 1
                day += timedelta(days=1)
        return built

    def _body(self, tenant: str, day: date) -> dict[str, Any]:
        tz = self._clock.tz
        end = day_end_checkpoint(self._log, day, tz)
        start = day_end_checkpoint(self._log, day - timedelta(days=1), tz)
        size, first = _size(end), _size(start)
        self._catch_up(size)
        heads = self._log.event_heads(tenant, first, size, kinds=COUNTED_KINDS)
        facts = load_permit_facts(self._engine, tenant, heads)
        labels = [lab for h in heads if (lab := label(h, facts.get(h.permit or ""))) is not None]
        previous = self._stored(tenant, day - timedelta(days=1))
        body: dict[str, Any] = {
            "v": 1, "type": DIGEST_TYPE, "tenant": tenant_hash(tenant), "date": day.isoformat(),
            "timezone": getattr(tz, "key", str(tz)),
            "log": {"origin": self._log.origin, "tree_size": size,
                    "root_hash": (end.checkpoint.root_hash if end else EMPTY_ROOT).hex(),
                    "checkpoint": end.text if end else None},
            "previous": None if start is None else {
                "date": (day - timedelta(days=1)).isoformat(), "tree_size": first,
                "root_hash": start.checkpoint.root_hash.hex(),
                "digest_hash": previous["digest_hash"] if previous else None,
                "consistency_proof": [h.hex() for h in self._log.consistency_proof(first, size)]},
            "counts": {**_counts(labels), "events": self._log.event_count(tenant, first, size),
                       "certificate_lapses": self._lapses(tenant, day)},
            "key_id": self._log.signer.public.fingerprint(),
        }
        body["signature"] = self._log.signer.sign_b64(canonical(body))
        return body

    def _catch_up(self, size: int) -> None:
        if size and self._projector.catch_up(size - 1) < size - 1:
            raise Conflict(f"the permit projection has not yet folded the day's tree of {size} events; retry shortly")

    def _lapses(self, tenant: str, day: date) -> dict[str, int]:
        """Certificates whose validity (expiry) or review ended the day before ``day``: ``day`` is the first
        day they no longer count as valid."""
        c, before = db.certificates.c, (day - timedelta(days=1)).isoformat()
        with self._engine.connect() as conn:
            live = c.status.notin_(("revoked", "void"))
            expired = conn.execute(select(c.id).where(c.tenant == tenant, live, c.expires_on == before)).all()
            review = conn.execute(select(c.id).where(c.tenant == tenant, live, c.review_due_on == before,
                                                     c.review_due_on < c.expires_on)).all()
        return {"expired": len(expired), "review_overdue": len(review)}

    # -- plumbing --------------------------------------------------------------------------------
    def _require_ended(self, day: date) -> None:
        require_plausible(day)
        if self._clock.now() < day_end(day, self._clock.tz):
            raise MalformedInput(f"day {day} has not ended in the plant's time zone "
                                 f"({getattr(self._clock.tz, 'key', self._clock.tz)}); today is "
                                 f"{self._clock.today()}: ask for an earlier day")

    def _created_on(self, tenant: str) -> date:
        with self._engine.connect() as conn:
            stamp = conn.execute(select(db.tenants.c.created_at).where(db.tenants.c.id == tenant)).scalar()
        if stamp is None:
            raise NotFound(f"tenant {tenant!r} does not exist")
        return day_of(stamp, self._clock.tz)

    def _next_unbuilt(self, tenant: str) -> date:
        d = db.digests.c
        with self._engine.connect() as conn:
            last = conn.execute(select(d.day).where(d.tenant == tenant).order_by(d.day.desc()).limit(1)).scalar()
        return date.fromisoformat(last) + timedelta(days=1) if last else date.min

    def _stored(self, tenant: str, day: date) -> dict[str, Any] | None:
        d = db.digests.c
        with self._engine.connect() as conn:
            row = conn.execute(select(db.digests).where(d.tenant == tenant, d.day == day.isoformat())).first()
        return dict(row._mapping) if row is not None else None

    def _view(self, row: dict[str, Any]) -> DigestView:
        size = int(row["tree_size"])
        return DigestView(json.loads(row["body"]), row["digest_hash"], self._anchor_status(size),
                          _registry(row, configured=self._registry))

    def _anchor_status(self, size: int) -> list[dict[str, Any]]:
        if size == 0:
            return [{"backend": b, "status": "none"} for b in self._backends]
        exact, reached = self._log.anchor_receipts_at(size), self._log.anchored_sizes()
        out = []
        for backend in self._backends:
            if backend in exact:
                out.append({"backend": backend, "status": "anchored", "receipt": exact[backend]})
            else:
                missed = reached.get(backend, 0) > size
                out.append({"backend": backend, "status": "missed" if missed else "pending"})
        return out


def _registry(row: dict[str, Any], *, configured: bool) -> dict[str, Any]:
    if row.get("registry_receipt"):
        return {"status": "recorded", "receipt": json.loads(row["registry_receipt"])}
    if row.get("registry_error"):
        return {"status": "failed"}
    if row.get("registry_pending") or configured:
        return {"status": "pending"}
    return {"status": "not_configured"}


def _size(checkpoint: SignedCheckpoint | None) -> int:
    return checkpoint.checkpoint.tree_size if checkpoint is not None else 0


def _counts(labels: list[Label]) -> dict[str, Any]:
    by: Counter[tuple[str, str, str]] = Counter((lab.figure, lab.type, lab.level) for lab in labels)
    figures = Counter(lab.figure for lab in labels)

    def per_type(figure: str) -> list[dict[str, Any]]:
        return [{"type": t, "level": lv, "count": n} for (f, t, lv), n in sorted(by.items()) if f == figure]

    return {"permits_opened": per_type("opened"), "permits_closed": per_type("closed"),
            "suspensions": figures["suspension"], "gas_alarms": figures["gas_alarm"],
            "guardian_absences": figures["guardian_absence"]}
