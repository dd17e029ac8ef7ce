"""The state change of each permit action (``evolve``): the new ``Permit`` from the old one and a logged event.

Every function here is pure and deterministic: it reads only the permit, the event (its signer, location,
``occurred_at`` and ``received_at``), its payload and the tenant's rules (the approval route of the type and
level, gas limits, the guardian's radius), never a clock or a database, so replaying the log from leaf 0
rebuilds the same documents. The checks that decide whether an action may happen live in ``permits``; by the
time an event reaches ``evolve`` it has passed them, so nothing here refuses anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from evidence_api.services import permit_rules as checks
from evidence_api.services.errors import RuleViolation
from evidence_api.services.geo import distance_m
from evidence_api.services.permit_model import (
    Acceptance,
    AcceptanceRecord,
    AlarmRecord,
    Approval,
    ApprovalRecord,
    ChecksRecord,
    DetectorStamp,
    GasRecord,
    GasTest,
    Handover,
    HandoverRecord,
    Note,
    Permit,
    PermitContent,
    SuspensionRecord,
    parse_payload,
)
from evidence_api.services.rules import Rules
from ledger.errors import MalformedInput

__all__ = ["Act", "Actor", "current_step", "evolve_draft", "gas_verdict", "parse_time", "work_point"]

_FUTURE_SAMPLE = timedelta(minutes=5)


@dataclass(frozen=True)
class Actor:
    """Who signed the action: ``user`` with roles, a ``device``, or the ``service``."""

    type: str
    id: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True)
class Act:
    """One permit action as ``decide`` and ``evolve`` see it: the signed event, its payload, its signer, and
    the server's ``received_at`` (the time every record of the document takes)."""

    kind: str
    event: Mapping[str, Any]
    payload: Any
    actor: Actor
    received_at: str


def parse_time(value: str) -> datetime:
    """An RFC 3339 time of the document as an aware datetime."""
    return datetime.fromisoformat(value)


def work_point(permit: Permit) -> tuple[float, float]:
    """(lat, lon) of the permit's work point."""
    return permit.content.location.lat, permit.content.location.lon


def current_step(permit: Permit) -> tuple[int, set[str]]:
    """The first route step with roles still to sign, and those roles."""
    for number, step in enumerate(permit.route):
        signed = {a.role for a in permit.approvals if a.step == number}
        if set(step) - signed:
            return number, set(step) - signed
    return len(permit.route), set()


def gas_verdict(test: GasTest, content: PermitContent, rules: Rules) -> list[str]:
    """The failures of ``test`` against the limits of the permit's type and level (empty: it passes)."""
    return checks.gas_failures(test, content, rules.level(content.type, content.level).gas, rules)


def evolve_draft(act: Act, rules: Rules) -> Permit:
    """The permit a ``permit.drafted`` event creates (its route from the type and level's rules)."""
    content = parse_payload(PermitContent, act.payload, "permit.drafted")
    route = rules.level(content.type, content.level).route
    return Permit(id=act.event["subject"]["permit"], state="draft", applicant=act.actor.id, content=content,
                  route=tuple(tuple(step) for step in route))


def evolve_submit(p: Permit, act: Act, rules: Rules) -> Permit:
    """draft → submitted."""
    return p.model_copy(update={"state": "submitted"})


def evolve_approve(p: Permit, act: Act, rules: Rules) -> Permit:
    """Record the signature on the current step; approved once every step is signed."""
    body = parse_payload(Approval, act.payload, act.kind)
    number, _ = current_step(p)
    location = act.event.get("location") or {}
    apart = distance_m(location["lat"], location["lon"], *work_point(p))
    record = ApprovalRecord(step=number, role=body.role, user=act.actor.id, opinion=body.opinion, at=act.received_at,
                            distance_m=round(apart, 2), accuracy_m=location.get("accuracy_m"),
                            event_id=act.event["event_id"])
    signed = p.model_copy(update={"approvals": (*p.approvals, record)})
    state = "approved" if current_step(signed)[0] == len(p.route) else "approving"
    return signed.model_copy(update={"state": state})


def _to(state: str) -> Any:
    def evolve(p: Permit, act: Act, rules: Rules) -> Permit:
        return p.model_copy(update={"state": state})
    evolve.__doc__ = f"→ {state}."
    return evolve


evolve_reject, evolve_cancel, evolve_expire = _to("rejected"), _to("cancelled"), _to("expired")


def evolve_gas(p: Permit, act: Act, rules: Rules) -> Permit:
    """Keep the gas test with its verdict and flags; a passing detector reading only stamps the document, and
    one that is not a gas test (a device's own format) changes nothing: observations are not checked before
    they are logged, so the fold must take any of them."""
    try:
        test = parse_payload(GasTest, act.payload, "gas test")
    except MalformedInput:
        if act.kind == "detector.reading":
            return p
        raise
    failures = gas_verdict(test, p.content, rules)
    received = parse_time(act.received_at)
    if act.kind == "detector.reading" and not failures:
        return p.model_copy(update={"detector": DetectorStamp(last_reading_at=act.received_at,
                                                              event_id=act.event["event_id"])})
    flags = []
    if test.sampled_at > received + _FUTURE_SAMPLE:
        flags.append("sampled_in_future")
    if test.purpose == "pre_start" and p.activated_at and test.sampled_at > parse_time(p.activated_at):
        flags.append("sampled_after_start")
    record = GasRecord(event_id=act.event["event_id"], by=act.actor.id, kind=act.kind,
                       sampled_at=test.sampled_at.isoformat(), purpose=test.purpose, point=test.point,
                       readings=test.readings, passed=not failures, failures=tuple(failures), flags=tuple(flags),
                       at=act.received_at, detector=test.detector.id if test.detector else None)
    return p.model_copy(update={"gas_tests": (*p.gas_tests, record)})


def evolve_checkin(p: Permit, act: Act, rules: Rules) -> Permit:
    """The guardian is on watch from now."""
    at = act.received_at
    guardian = p.guardian.model_copy(update={"user": act.actor.id, "checked_in_at": at, "last_seen_at": at})
    return p.model_copy(update={"guardian": guardian})


def evolve_checks(p: Permit, act: Act, rules: Rules) -> Permit:
    """The five checks are confirmed."""
    record = ChecksRecord(confirmed_at=act.received_at, event_id=act.event["event_id"])
    return p.model_copy(update={"guardian": p.guardian.model_copy(update={"checks": record})})


def evolve_heartbeat(p: Permit, act: Act, rules: Rules) -> Permit:
    """A heartbeat at the work point counts as seen; one from away (its alarm follows in the log) does not."""
    try:
        checks.check_location(act.event, work_point(p), max_m=rules.guardian_max_distance_m,
                              max_accuracy_m=rules.max_location_accuracy_m, rule="guardian")
    except RuleViolation:
        return p
    return p.model_copy(update={"guardian": p.guardian.model_copy(update={"last_seen_at": act.received_at})})


def evolve_handover(p: Permit, act: Act, rules: Rules) -> Permit:
    """The incoming guardian takes the watch."""
    body = parse_payload(Handover, act.payload, act.kind)
    at = act.received_at
    record = HandoverRecord(**{"from": body.from_guardian}, to=act.actor.id, at=at, event_id=act.event["event_id"])
    guardian = p.guardian.model_copy(update={"user": act.actor.id, "checked_in_at": at, "last_seen_at": at})
    return p.model_copy(update={"handovers": (*p.handovers, record), "guardian": guardian})


def evolve_activate(p: Permit, act: Act, rules: Rules) -> Permit:
    """approved → active."""
    return p.model_copy(update={"state": "active", "activated_at": act.received_at})


def evolve_suspend(p: Permit, act: Act, rules: Rules) -> Permit:
    """→ suspended, with the reason: the service's (``gas.out_of_limits`` ...) or a person's note."""
    if act.actor.type == "user":
        reason = "manual: " + parse_payload(Note, act.payload, act.kind).note
    else:
        reason = str(act.payload.get("reason", "manual")) if isinstance(act.payload, dict) else "manual"
    record = SuspensionRecord(at=act.received_at, by=act.actor.id, reason=reason, event_id=act.event["event_id"])
    return p.model_copy(update={"state": "suspended", "suspensions": (*p.suspensions, record)})


def evolve_resume(p: Permit, act: Act, rules: Rules) -> Permit:
    """suspended → active; the pause is closed."""
    last = p.suspensions[-1].model_copy(update={"resumed_at": act.received_at})
    return p.model_copy(update={"state": "active", "suspensions": (*p.suspensions[:-1], last)})


def evolve_complete(p: Permit, act: Act, rules: Rules) -> Permit:
    """→ completed."""
    return p.model_copy(update={"state": "completed", "completed_at": act.received_at})


def evolve_close(p: Permit, act: Act, rules: Rules) -> Permit:
    """completed → closed, with the acceptance signature."""
    body = parse_payload(Acceptance, act.payload, act.kind)
    acceptance = AcceptanceRecord(by=act.actor.id, remarks=body.remarks, event_id=act.event["event_id"])
    return p.model_copy(update={"state": "closed", "closed_at": act.received_at, "acceptance": acceptance})


def evolve_alarm(p: Permit, act: Act, rules: Rules) -> Permit:
    """Keep the alarm the service raised."""
    body = act.payload
    record = AlarmRecord(at=act.received_at, event_id=act.event["event_id"], reason=body["reason"],
                         detail=body["detail"], trigger_event=body.get("trigger_event"),
                         parties=tuple(body.get("parties", ())))
    return p.model_copy(update={"alarms": (*p.alarms, record)})
