"""What a logged event counts as in a regulator digest or an insurer risk record (docs/formats.md, "Figures").

Each event of a permit is given at most one ``Label`` from its kind and from the permit's projection (the
permit's type and level, which never change after the draft, and the reason of an alarm or a suspension,
which the projection keeps by event id). Labels carry only enumerations, times and the leaf hash: never a
name, an id, a certificate number, a coordinate or a payload.

- ``permit.activated`` → ``opened`` (work began under the permit), ``permit.closed`` → ``closed``;
- ``permit.suspended`` → ``suspension`` (reason class ``gas``, ``guardian``, ``manual`` or ``other``);
- ``alarm.raised`` with a ``gas.*`` reason → ``gas_alarm``; with ``guardian.absent`` or ``guardian.away``
  → ``guardian_absence``;
- ``accident.reported`` → ``accident`` (no part of the service logs it yet: the figure stays 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, select

from evidence_api import db
from ledger.reader import EventHead

__all__ = ["ACTION_KINDS", "COUNTED_KINDS", "Label", "PermitFacts", "full_evidence", "label", "load_permit_facts", "reason_class"]

ACTION_KINDS = frozenset({"permit.suspended", "permit.resumed", "permit.completed", "permit.cancelled",
                          "permit.closed", "permit.expired"})
"""Kinds that answer an alarm: the first of them after a gas alarm ends its time-to-action."""

COUNTED_KINDS = frozenset({"permit.activated", "permit.closed", "permit.suspended", "alarm.raised",
                           "accident.reported"})
"""The kinds that can get a label (every other event counts for nothing)."""

_CHUNK = 500
_GUARDIAN_ABSENT = frozenset({"guardian.absent", "guardian.away"})


@dataclass(frozen=True)
class PermitFacts:
    """What labels need of one permit: its type, level, site, and the reasons of its alarms and suspensions
    by event id."""

    type: str
    level: str
    site: str | None
    reasons: dict[str, str]
    full_evidence: bool = False


@dataclass(frozen=True)
class Label:
    """What one event counts as: ``figure`` (``opened``, ``closed``, ``suspension``, ``gas_alarm``,
    ``guardian_absence``, ``accident``), the permit's ``type`` and ``level``, and a reason ``cls``."""

    figure: str
    type: str
    level: str
    cls: str | None = None


def reason_class(reason: str) -> str:
    """The class of an alarm or suspension reason: ``gas``, ``guardian``, ``manual`` or ``other``."""
    head = reason.split(":", 1)[0].split(".", 1)[0]
    return head if head in ("gas", "guardian", "manual") else "other"


def label(head: EventHead, facts: PermitFacts | None) -> Label | None:
    """The label of ``head`` given its permit's ``facts`` (None: the event counts for nothing)."""
    if facts is None:
        return None
    simple = {"permit.activated": "opened", "permit.closed": "closed", "accident.reported": "accident"}
    if head.kind in simple:
        return Label(simple[head.kind], facts.type, facts.level)
    reason = facts.reasons.get(head.event_id, "")
    if head.kind == "permit.suspended":
        return Label("suspension", facts.type, facts.level, reason_class(reason))
    if head.kind == "alarm.raised" and reason.startswith("gas."):
        return Label("gas_alarm", facts.type, facts.level, "gas")
    if head.kind == "alarm.raised" and reason in _GUARDIAN_ABSENT:
        return Label("guardian_absence", facts.type, facts.level, "guardian")
    return None


def _no_gas(permit_type: str, level: str | None) -> bool:
    return False


def load_permit_facts(engine: Engine, tenant: str, heads: Iterable[EventHead],
                      needs_gas: Callable[[str, str | None], bool] = _no_gas) -> dict[str, PermitFacts]:
    """``PermitFacts`` of every permit the ``heads`` belong to that the projection knows, by permit id;
    ``needs_gas(type, level)`` says whether the tenant's rules require a gas test for it."""
    wanted = sorted({h.permit for h in heads if h.permit is not None})
    found: dict[str, PermitFacts] = {}
    p, a = db.permits.c, db.areas.c
    with engine.connect() as conn:
        sites = {row.id: row.site for row in conn.execute(select(a.id, a.site).where(a.tenant == tenant))}
        for chunk in _chunks(wanted):
            rows = conn.execute(select(p.id, p.type, p.level, p.area, p.doc).where(p.tenant == tenant, p.id.in_(chunk)))
            for row in rows:
                doc = orjson.loads(row.doc)
                found[row.id] = PermitFacts(row.type, row.level or "-", sites.get(row.area), _reasons(doc),
                                            full_evidence(doc, needs_gas(row.type, row.level)))
    return found


def full_evidence(doc: dict[str, Any], gas_required: bool) -> bool:
    """Whether a permit document holds the full electronic evidence of its work (docs/formats.md, "Insurer
    risk record"): every route step signed, the guardian checked in and confirmed the checks, a gas test
    where the type and level need one, started, completed and accepted at close-out."""
    route, approvals = doc.get("route", []), doc.get("approvals", [])
    steps = {a.get("step") for a in approvals}
    guardian = doc.get("guardian") or {}
    return (len(steps) >= len(route) > 0 and bool(guardian.get("checked_in_at")) and bool(guardian.get("checks"))
            and (bool(doc.get("gas_tests")) or not gas_required) and bool(doc.get("activated_at"))
            and bool(doc.get("completed_at")) and doc.get("acceptance") is not None)


def _reasons(doc: dict[str, Any]) -> dict[str, str]:
    records = [*doc.get("alarms", ()), *doc.get("suspensions", ())]
    return {r["event_id"]: str(r.get("reason", "")) for r in records}


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]
