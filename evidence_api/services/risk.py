"""Insurer risk records (docs/formats.md, "Insurer risk record"): per tenant, site and period, the figures an
underwriter asks for, each backed by the leaf hashes of the events it counts with inclusion proofs against
one checkpoint (the day-end checkpoint of the period's last day), signed with the log key.

What an insurer sees per counted event: its leaf index and leaf hash, the inclusion proof, the server time
it was logged, and its label (``services.tally``: figure, permit type and level, reason class). Never the
leaf bytes (they carry actor ids and coordinates), never a payload, a name or a certificate number. So
``tiezheng risk verify`` proves offline that every counted event is in the log and that the figures are
the recount of the labels; that a label is right is the service's signed statement, checkable against the
events themselves in an evidence pack the plant discloses on audit (the leaf hash is the key to it).

Access: an insurer organisation is a tenant of its own whose tokens have the ``insurer`` role; it reads the
records of the tenants that granted it (``risk_grants``), and nothing else.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from evidence_api import db
from evidence_api.services.digests import require_plausible, tenant_hash
from evidence_api.services.errors import Conflict, Forbidden, NotFound
from evidence_api.services.people import Organisation
from evidence_api.services.projector import Projector
from evidence_api.services.tally import ACTION_KINDS, COUNTED_KINDS, label, load_permit_facts
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.dayend import day_end, day_end_checkpoint
from ledger.errors import MalformedInput
from ledger.hashing import EMPTY_ROOT
from ledger.log import TransparencyLog
from ledger.reader import EventHead

__all__ = ["MAX_RISK_DAYS", "RISK_TYPE", "RiskRecords", "risk_figures"]

RISK_TYPE = "tiezheng.risk-record/v1"
MAX_RISK_DAYS = 92


def risk_figures(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of a record, recounted from its ``events`` entries alone (the verifier does the same)."""
    by = Counter((e["figure"], e["type"], e["level"]) for e in events)
    n = Counter(e["figure"] for e in events)
    at = {e["leaf_index"]: e["at"] for e in events}
    delays = sorted(max(0, _ms(at[e["answered_by"]]) - _ms(e["at"])) for e in events
                    if e["figure"] == "gas_alarm" and e["answered_by"] is not None)
    return {
        "high_risk_permits": [{"type": t, "level": lv, "count": c} for (f, t, lv), c in sorted(by.items())
                              if f == "opened"],
        "closed_permits": {"closed": n["closed"], "full_evidence": sum(1 for e in events if e["figure"] == "closed"
                                                                       and e["cls"] == "full")},
        "gas_alarms": {"count": n["gas_alarm"], "answered": len(delays),
                       "median_ms": delays[(len(delays) - 1) // 2] if delays else None,
                       "max_ms": delays[-1] if delays else None},
        "guardian_absences": n["guardian_absence"], "suspensions": n["suspension"], "accidents": n["accident"],
        "certificate_refusals": None,
    }


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


class RiskRecords:
    """Builds signed risk records from ``log`` and the projection; keeps the insurers' grants."""

    def __init__(self, engine: Engine, log: TransparencyLog, projector: Projector, org: Organisation, *,
                 clock: Clock) -> None:
        self._engine, self._log, self._projector, self._org, self._clock = engine, log, projector, org, clock

    # -- grants ----------------------------------------------------------------------------------
    def grant(self, tenant: str, insurer: str) -> None:
        """Let the insurer organisation (tenant id ``insurer``) read ``tenant``'s risk records."""
        if insurer == tenant:
            raise MalformedInput("a tenant reads its own risk records already; grant another organisation")
        with self._engine.connect() as conn:
            if conn.execute(select(db.tenants.c.id).where(db.tenants.c.id == insurer)).first() is None:
                raise NotFound(f"insurer organisation {insurer!r} is not a tenant of this service")
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(db.risk_grants).values(tenant=tenant, insurer=insurer,
                                                           created_at=self._clock.stamp()))
        except IntegrityError as exc:
            raise Conflict(f"{insurer!r} already has access to {tenant!r}'s risk records") from exc

    def revoke(self, tenant: str, insurer: str) -> None:
        """Take the grant back; ``NotFound`` if there was none."""
        g = db.risk_grants.c
        with self._engine.begin() as conn:
            if conn.execute(delete(db.risk_grants).where(g.tenant == tenant, g.insurer == insurer)).rowcount == 0:
                raise NotFound(f"{insurer!r} has no access to {tenant!r}'s risk records")

    def require_grant(self, tenant: str, insurer: str) -> None:
        """``Forbidden`` unless ``tenant`` granted ``insurer`` access."""
        g = db.risk_grants.c
        with self._engine.connect() as conn:
            found = conn.execute(select(g.tenant).where(g.tenant == tenant, g.insurer == insurer)).first()
        if found is None:
            raise Forbidden(f"tenant {tenant!r} has not granted {insurer!r} access to its risk records")

    # -- records ---------------------------------------------------------------------------------
    def build(self, tenant: str, first: date, last: date, *, site: str | None = None) -> dict[str, Any]:
        """The signed risk record of ``tenant`` (one ``site`` or all) for ``first`` .. ``last`` (ended days,
        at most ``MAX_RISK_DAYS``). Raises ``MalformedInput``, ``NotFound`` (unknown site) or ``Conflict``."""
        self._require_period(first, last)
        if site is not None:
            self._org.get(db.sites, tenant, site)
        tz = self._clock.tz
        start_cp, end_cp = day_end_checkpoint(self._log, first - timedelta(days=1), tz), \
            day_end_checkpoint(self._log, last, tz)
        start, size = (start_cp.checkpoint.tree_size if start_cp else 0), (end_cp.checkpoint.tree_size if end_cp else 0)
        if size and self._projector.catch_up(size - 1) < size - 1:
            raise Conflict(f"the permit projection has not yet folded the period's tree of {size} events; retry")
        events = self._entries(tenant, site, start, size)
        body: dict[str, Any] = {
            "v": 1, "type": RISK_TYPE, "tenant": tenant_hash(tenant), "site": site, "from": first.isoformat(),
            "to": last.isoformat(), "timezone": getattr(tz, "key", str(tz)),
            "log": {"origin": self._log.origin, "tree_size": size,
                    "root_hash": (end_cp.checkpoint.root_hash if end_cp else EMPTY_ROOT).hex(),
                    "checkpoint": end_cp.text if end_cp else None},
            "from_tree_size": start, "events": events, "figures": risk_figures(events),
            "key_id": self._log.signer.public.fingerprint(),
        }
        body["signature"] = self._log.signer.sign_b64(canonical(body))
        return body

    def _entries(self, tenant: str, site: str | None, start: int, size: int) -> list[dict[str, Any]]:
        heads = self._log.event_heads(tenant, start, size, kinds=COUNTED_KINDS | ACTION_KINDS)
        rules = self._org.rules(tenant)
        facts = load_permit_facts(self._engine, tenant, heads, lambda t, lv: _needs_gas(rules, t, lv))
        by_permit: dict[str, list[EventHead]] = defaultdict(list)
        for head in heads:
            if head.permit is not None:
                by_permit[head.permit].append(head)
        chosen: dict[int, dict[str, Any]] = {}
        for head in heads:
            permit = facts.get(head.permit or "")
            lab = label(head, permit)
            if lab is None or permit is None or (site is not None and permit.site != site):
                continue
            cls = ("full" if permit.full_evidence else "partial") if lab.figure == "closed" else lab.cls
            entry = _entry(head, lab.figure, lab.type, lab.level, cls)
            if lab.figure == "gas_alarm":
                action = _answer(head, by_permit[head.permit or ""])
                entry["answered_by"] = action.leaf_index if action is not None else None
                if action is not None and action.leaf_index not in chosen:
                    chosen[action.leaf_index] = _entry(action, "action", lab.type, lab.level, None)
            chosen[head.leaf_index] = chosen.get(head.leaf_index) or entry
        entries = [chosen[i] for i in sorted(chosen)]
        for entry in entries:
            entry["inclusion_proof"] = [h.hex() for h in self._log.inclusion_proof(entry["leaf_index"], size)]
        return entries

    def _require_period(self, first: date, last: date) -> None:
        require_plausible(first, last)
        if last < first:
            raise MalformedInput(f"from {first} is after to {last}")
        if (last - first).days + 1 > MAX_RISK_DAYS:
            raise MalformedInput(f"a risk record covers at most {MAX_RISK_DAYS} days; got {(last - first).days + 1}")
        if self._clock.now() < day_end(last, self._clock.tz):
            raise MalformedInput(f"day {last} has not ended in the plant's time zone; today is {self._clock.today()}")


def _needs_gas(rules: Any, permit_type: str, level: str | None) -> bool:
    try:
        return rules.level(permit_type, None if level in (None, "-") else level).gas is not None
    except MalformedInput:
        return False


def _entry(head: EventHead, figure: str, permit_type: str, level: str, cls: str | None) -> dict[str, Any]:
    return {"leaf_index": head.leaf_index, "leaf_hash": head.leaf_hash.hex(), "figure": figure, "type": permit_type,
            "level": level, "cls": cls, "at": head.received_at, "answered_by": None}


def _answer(alarm: EventHead, events: list[EventHead]) -> EventHead | None:
    """The event that acted on a gas alarm: the permit's first suspension, resumption, completion,
    cancellation, close or expiry from the leaf before the alarm on (the service logs the automatic
    suspension of an active permit together with, and just before, its alarm)."""
    for head in events:
        if head.leaf_index >= alarm.leaf_index - 1 and head.kind in ACTION_KINDS:
            return head
    return None
