"""The permit state machine: which signed action is allowed in which state, by whom, and what it changes.

draft → submitted → approving → approved → active ⇄ suspended → completed → closed, and rejected,
cancelled, expired. ``apply`` is a pure function: (permit document, signed action, facts, now) → (new
document, follow-ups). A follow-up is an event the service itself must sign in the same commit, e.g. a
gas reading out of limits suspends the permit and raises an alarm at once. The document is the permit's
projection; the log holds the signed events it was built from.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from evidence_api.services import permit_rules as checks
from evidence_api.services.errors import Forbidden, InvalidTransition, RuleViolation
from evidence_api.services.geo import inside_geofence
from evidence_api.services.permit_model import (
    Acceptance,
    Approval,
    Checks,
    GasTest,
    GuardianCheckin,
    Handover,
    Note,
    PermitContent,
    parse_payload,
)
from evidence_api.services.rules import GUARDIAN_CHECKS, Rules
from ledger.errors import MalformedInput
from ledger.sm import sm3

__all__ = ["ACTIONS", "LIVE", "SERVICE_KINDS", "TERMINAL", "WORKFLOW_KINDS", "Actor", "Facts", "FollowUp", "apply", "due_follow_ups", "parties"]

TERMINAL = frozenset({"closed", "rejected", "cancelled", "expired"})
LIVE = frozenset({"submitted", "approving", "approved", "active", "suspended"})  # holds people and place
_OPEN = frozenset({"draft"}) | LIVE
_FIELD = frozenset({"approved", "active", "suspended"})

FollowUp = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Actor:
    """Who signed the action: ``user`` with roles, or the ``service``."""

    type: str
    id: str
    roles: tuple[str, ...] = ()


@dataclass
class Facts:
    """What the rules need from outside the permit, loaded by the caller for the action at hand."""

    roles: Mapping[str, Sequence[str]] = field(default_factory=dict)          # user → roles
    workers: Sequence[str] = ()                                              # registered worker ids
    certificates: Mapping[str, Sequence[Mapping[str, Any]]] = field(default_factory=dict)  # worker → rows
    violations: Mapping[str, Sequence[str]] = field(default_factory=dict)     # worker → ISO dates
    other_hours: Mapping[str, Sequence[tuple[datetime, datetime, float]]] = field(default_factory=dict)
    nearby: Sequence[checks.NearbyPermit] = ()
    qr_token_hash: str | None = None
    geofence: Mapping[str, Any] | None = None                                 # the permit's area


@dataclass(frozen=True)
class _Action:
    kind: str
    event: Mapping[str, Any]
    payload: Any
    actor: Actor
    rules: Rules
    facts: Facts
    now: datetime


# kind → (states it is allowed in, roles that may sign it; () = decided by the handler)
ACTIONS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "permit.submitted": (frozenset({"draft"}), ("applicant",)),
    "permit.approved": (frozenset({"submitted", "approving"}), ()),
    "permit.rejected": (frozenset({"submitted", "approving"}), ()),
    "permit.cancelled": (frozenset({"draft", "submitted", "approving", "approved"}), ("applicant",)),
    "gas.analysed": (frozenset({"submitted", "approving"}) | _FIELD, ("gas_analyst",)),
    "guardian.checkin": (_FIELD, ("guardian",)),
    "guardian.checks_confirmed": (_FIELD, ("guardian",)),
    "guardian.heartbeat": (_FIELD, ("guardian",)),
    "guardian.handover": (_FIELD, ("guardian",)),
    "permit.activated": (frozenset({"approved"}), ("team_leader",)),
    "permit.suspended": (frozenset({"active"}), ("guardian", "team_leader", "safety_officer")),
    "permit.resumed": (frozenset({"suspended"}), ("team_leader",)),
    "permit.completed": (frozenset({"active", "suspended"}), ("team_leader",)),
    "permit.closed": (frozenset({"completed"}), ("workshop_head", "safety_officer")),
    "permit.expired": (_OPEN, ()),
    "alarm.raised": (_OPEN, ()),
    "detector.reading": (_FIELD, ()),
}
SERVICE_KINDS = frozenset({"permit.suspended", "permit.expired", "alarm.raised"})
WORKFLOW_KINDS = (frozenset(ACTIONS) | {"permit.drafted"}) - {"detector.reading"}
"""Kinds only the workflow may log for a permit it runs."""


def _t(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _content(doc: Mapping[str, Any]) -> PermitContent:
    return PermitContent.model_validate(doc["content"])


def _work_point(doc: Mapping[str, Any]) -> tuple[float, float]:
    location = doc["content"]["location"]
    return location["lat"], location["lon"]


def parties(doc: Mapping[str, Any]) -> list[str]:
    """Everyone to notify about the permit: applicant, team leader, guardians, approvers so far."""
    people = [doc["applicant"], doc["content"]["team_leader"], doc["content"]["guardian"], doc["guardian"]["user"]]
    people += [a["user"] for a in doc["approvals"]]
    return sorted({p for p in people if p})


def draft(event: Mapping[str, Any], payload: Any, actor: Actor, rules: Rules, facts: Facts) -> dict[str, Any]:
    """The document of a new permit from its ``permit.drafted`` event (signed by an applicant)."""
    if "applicant" not in actor.roles:
        raise Forbidden(f"user {actor.id!r} is not an applicant (roles {list(actor.roles)})")
    content = parse_payload(PermitContent, payload, "permit.drafted")
    level = rules.level(content.type, content.level)
    return {
        "id": event["subject"]["permit"], "state": "draft", "applicant": actor.id,
        "content": content.model_dump(mode="json"), "route": level.route, "approvals": [], "gas_tests": [],
        "guardian": {"user": None, "checked_in_at": None, "last_seen_at": None, "checks": None},
        "handovers": [], "suspensions": [], "alarms": [], "activated_at": None, "completed_at": None,
        "closed_at": None, "history": [_history(event, "permit.drafted", None, "draft")],
    }


def _history(event: Mapping[str, Any], kind: str, before: str | None, after: str) -> dict[str, Any]:
    return {"kind": kind, "event_id": event["event_id"], "by": event["actor"]["id"], "at": event["occurred_at"],
            "from": before, "to": after}


def apply(doc: Mapping[str, Any], kind: str, event: Mapping[str, Any], payload: Any, actor: Actor, rules: Rules,
          facts: Facts, now: datetime) -> tuple[dict[str, Any], list[FollowUp]]:
    """Apply one signed action to a permit; raises ``InvalidTransition``, ``Forbidden``, ``RuleViolation``
    or ``MalformedInput`` (nothing changes then). Returns the new document and the service's follow-ups."""
    if kind not in ACTIONS:
        raise MalformedInput(f"{kind!r} is not a permit action; one of {sorted(ACTIONS)}")
    states, roles = ACTIONS[kind]
    if doc["state"] not in states:
        raise InvalidTransition(f"permit {doc['id']!r} is {doc['state']}; {kind} is allowed only when "
                                f"{' or '.join(sorted(states))}")
    if actor.type == "service" and kind not in SERVICE_KINDS:
        raise Forbidden(f"{kind} must be signed by a person, not by the service")
    if actor.type != "service" and kind in SERVICE_KINDS - {"permit.suspended"}:
        raise Forbidden(f"{kind} is recorded by the service itself")
    if actor.type == "user" and roles and not set(roles) & set(actor.roles):
        raise Forbidden(f"user {actor.id!r} (roles {list(actor.roles)}) may not sign {kind}; needs one of {list(roles)}")
    new = copy.deepcopy(dict(doc))
    action = _Action(kind, event, payload, actor, rules, facts, now)
    before = new["state"]
    follow = _HANDLERS[kind](new, action)
    if new["state"] != before or kind.startswith("permit."):
        new["history"].append(_history(event, kind, before, new["state"]))
    return new, follow


def _submit(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    if a.actor.id != doc["applicant"]:
        raise Forbidden(f"only the applicant {doc['applicant']!r} may submit this permit")
    parse_payload(Note, a.payload, a.kind)
    content, facts, rules = _content(doc), a.facts, a.rules
    level = checks.check_content(content, rules, facts.roles, facts.workers)
    checks.check_window(content, level)
    checks.check_hot_work_level(content, rules)
    window = sorted({content.starts_at.date(), content.ends_at.date(), a.now.date()})
    checks.check_certificates(content, rules, facts.certificates, window)
    since = a.now.date() - timedelta(days=rules.violation_lookback_days)
    checks.check_violations(content, facts.violations, since, rules.violation_lookback_days)
    checks.check_daily_hours(content, facts.other_hours, rules.max_daily_hours)
    checks.check_conflicts(content, rules, facts.nearby)
    if facts.geofence is not None and not inside_geofence(facts.geofence, content.location.lat, content.location.lon):
        raise RuleViolation("place.outside_area", f"the work point {content.location.lat}, {content.location.lon} is "
                                                  f"outside the geofence of area {content.area!r}")
    if content.ends_at <= a.now:
        raise RuleViolation("window.past", f"the window ended at {content.ends_at.isoformat()}; draft a new permit")
    doc["state"] = "submitted"
    return []


def _current_step(doc: Mapping[str, Any]) -> tuple[int, set[str]]:
    """The first route step with roles still to sign, and those roles."""
    for number, step in enumerate(doc["route"]):
        signed = {a["role"] for a in doc["approvals"] if a["step"] == number}
        if set(step) - signed:
            return number, set(step) - signed
    return len(doc["route"]), set()


def _approve(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    body = parse_payload(Approval, a.payload, a.kind)
    number, waiting = _current_step(doc)
    if body.role not in waiting:
        raise RuleViolation("approval.out_of_order", f"step {number + 1} of the route waits for {sorted(waiting)}, "
                                                     f"not {body.role}; route: {doc['route']}")
    if body.role not in a.actor.roles:
        raise Forbidden(f"user {a.actor.id!r} is not a {body.role}")
    if a.actor.id == doc["applicant"] or any(x["user"] == a.actor.id for x in doc["approvals"]):
        raise RuleViolation("approval.same_person", f"user {a.actor.id!r} already signed this permit as applicant or "
                                                    "approver; every signature must be a different person")
    apart = checks.check_location(a.event, _work_point(doc), max_m=a.rules.approver_max_distance_m,
                                  max_accuracy_m=a.rules.max_location_accuracy_m, rule="approval")
    doc["approvals"].append({"step": number, "role": body.role, "user": a.actor.id, "opinion": body.opinion,
                             "at": a.now.isoformat(), "distance_m": round(apart, 2),
                             "accuracy_m": a.event["location"].get("accuracy_m"), "event_id": a.event["event_id"]})
    doc["state"] = "approved" if _current_step(doc)[0] == len(doc["route"]) else "approving"
    return []


def _reject(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    _, waiting = _current_step(doc)
    if not waiting & set(a.actor.roles):
        raise Forbidden(f"only an approver of the current step {sorted(waiting)} may reject")
    note = parse_payload(Note, a.payload, a.kind)
    if not note.note:
        raise MalformedInput("permit.rejected payload: note: a rejection must say why")
    doc["state"] = "rejected"
    return []


def _cancel(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    if a.actor.id != doc["applicant"]:
        raise Forbidden(f"only the applicant {doc['applicant']!r} may cancel this permit")
    parse_payload(Note, a.payload, a.kind)
    doc["state"] = "cancelled"
    return []


def _gas(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    test = parse_payload(GasTest, a.payload, "gas test")
    content = _content(doc)
    gas = a.rules.level(content.type, content.level).gas
    failures = checks.gas_failures(test, content, gas, a.rules)
    flags = []
    if test.sampled_at > a.now + timedelta(minutes=5):
        flags.append("sampled_in_future")
    if test.purpose == "pre_start" and doc["activated_at"] and test.sampled_at > _t(doc["activated_at"]):
        flags.append("sampled_after_start")
    doc["gas_tests"].append({"event_id": a.event["event_id"], "by": a.actor.id, "kind": a.kind,
                             "sampled_at": test.sampled_at.isoformat(), "purpose": test.purpose, "point": test.point,
                             "readings": test.readings.model_dump(mode="json"), "passed": not failures,
                             "failures": failures, "flags": flags, "at": a.now.isoformat()})
    if not failures:
        return []
    detail = f"gas test at {test.point} out of limits: {'; '.join(failures)}"
    return _alarm(doc, "gas.out_of_limits", detail, a.event["event_id"])


def _alarm(doc: Mapping[str, Any], reason: str, detail: str, trigger: str | None) -> list[FollowUp]:
    """An alarm to every party, and the suspension of an active permit, both signed by the service."""
    body = {"reason": reason, "detail": detail, "trigger_event": trigger}
    follow: list[FollowUp] = [("alarm.raised", body | {"parties": parties(doc)})]
    if doc["state"] == "active":
        follow.insert(0, ("permit.suspended", body))
    return follow


def _guardian_at_site(doc: Mapping[str, Any], a: _Action, token: str) -> float:
    if a.facts.qr_token_hash is None or sm3(token.encode()).hex() != a.facts.qr_token_hash:
        raise RuleViolation("guardian.qr_mismatch", f"the QR token is not the one posted in area {doc['content']['area']!r}")
    return checks.check_location(a.event, _work_point(doc), max_m=a.rules.guardian_max_distance_m,
                                 max_accuracy_m=a.rules.max_location_accuracy_m, rule="guardian")


def _checkin(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    body = parse_payload(GuardianCheckin, a.payload, a.kind)
    expected = doc["guardian"]["user"] or doc["content"]["guardian"]
    if a.actor.id != expected:
        raise Forbidden(f"the permit's guardian is {expected!r}; {a.actor.id!r} must take over with guardian.handover")
    _guardian_at_site(doc, a, body.qr_token)
    doc["guardian"] |= {"user": a.actor.id, "checked_in_at": a.now.isoformat(), "last_seen_at": a.now.isoformat()}
    return []


def _require_guardian(doc: Mapping[str, Any], a: _Action) -> None:
    if doc["guardian"]["user"] != a.actor.id or doc["guardian"]["checked_in_at"] is None:
        raise RuleViolation("guardian.not_checked_in", f"user {a.actor.id!r} is not the checked-in guardian of this permit")


def _confirm_checks(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    _require_guardian(doc, a)
    body = parse_payload(Checks, a.payload, a.kind)
    unconfirmed = [name for name in GUARDIAN_CHECKS if not getattr(body, name)]
    if unconfirmed:
        raise RuleViolation("guardian.checks_incomplete", f"work may start only when all five checks are confirmed; "
                                                          f"not confirmed: {unconfirmed}")
    doc["guardian"]["checks"] = {"confirmed_at": a.now.isoformat(), "event_id": a.event["event_id"]}
    return []


def _heartbeat(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    _require_guardian(doc, a)
    parse_payload(Note, a.payload, a.kind)
    try:
        checks.check_location(a.event, _work_point(doc), max_m=a.rules.guardian_max_distance_m,
                              max_accuracy_m=a.rules.max_location_accuracy_m, rule="guardian")
    except RuleViolation as exc:
        if exc.rule.endswith("location_missing"):
            raise
        return _alarm(doc, "guardian.away", f"guardian {a.actor.id!r} is away from the work point: {exc}",
                      a.event["event_id"])
    doc["guardian"]["last_seen_at"] = a.now.isoformat()
    return []


def _handover(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    body = parse_payload(Handover, a.payload, a.kind)
    if body.from_guardian != doc["guardian"]["user"]:
        raise RuleViolation("guardian.handover_from", f"the current guardian is {doc['guardian']['user']!r}, "
                                                      f"not {body.from_guardian!r}")
    if a.actor.id == body.from_guardian:
        raise RuleViolation("guardian.handover_self", "a guardian cannot hand over to themselves")
    _guardian_at_site(doc, a, body.qr_token)
    doc["handovers"].append({"from": body.from_guardian, "to": a.actor.id, "at": a.now.isoformat(),
                             "event_id": a.event["event_id"]})
    doc["guardian"] |= {"user": a.actor.id, "checked_in_at": a.now.isoformat(), "last_seen_at": a.now.isoformat()}
    return []


def _guardian_present(doc: Mapping[str, Any], rules: Rules, now: datetime) -> None:
    guardian = doc["guardian"]
    if guardian["checked_in_at"] is None:
        raise RuleViolation("guardian.not_checked_in", "the guardian has not checked in at the work point")
    silent = (now - _t(guardian["last_seen_at"])).total_seconds()
    if silent > rules.guardian_heartbeat_timeout_s:
        raise RuleViolation("guardian.absent", f"no guardian heartbeat for {silent:.0f} s "
                                               f"(limit {rules.guardian_heartbeat_timeout_s} s)")


def _fresh_passing_test(doc: Mapping[str, Any], rules: Rules, now: datetime, *, after: datetime | None) -> None:
    content = _content(doc)
    gas = rules.level(content.type, content.level).gas
    if gas is None:
        return
    tests = [t for t in doc["gas_tests"] if after is None or _t(t["sampled_at"]) > after]
    if not tests:
        raise RuleViolation("gas.no_test", "no gas analysis has been recorded" + (" since the pause" if after else ""))
    latest = max(tests, key=lambda t: t["sampled_at"])
    if not latest["passed"]:
        raise RuleViolation("gas.failed", f"the latest gas test failed: {'; '.join(latest['failures'])}")
    age = (now - _t(latest["sampled_at"])).total_seconds() / 60
    if age > gas.max_age_at_start_min:
        raise RuleViolation("gas.stale", f"the latest gas sample is {age:.0f} min old; work must start within "
                                         f"{gas.max_age_at_start_min} min of the analysis")


def _activate(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    content = _content(doc)
    if a.actor.id != content.team_leader:
        raise Forbidden(f"only the permit's team leader {content.team_leader!r} may start the work")
    parse_payload(Note, a.payload, a.kind)
    if not content.starts_at <= a.now <= content.ends_at:
        raise RuleViolation("window.outside", f"work may start only between {content.starts_at.isoformat()} and "
                                              f"{content.ends_at.isoformat()}")
    _guardian_present(doc, a.rules, a.now)
    if doc["guardian"]["checks"] is None:
        raise RuleViolation("guardian.checks_incomplete", "the guardian has not confirmed the five checks")
    _fresh_passing_test(doc, a.rules, a.now, after=None)
    checks.check_certificates(content, a.rules, a.facts.certificates, [a.now.date()])
    doc["state"], doc["activated_at"] = "active", a.now.isoformat()
    return []


def _suspend(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    reason = a.payload.get("reason", "manual") if isinstance(a.payload, dict) else "manual"
    if a.actor.type == "user":
        reason = "manual: " + parse_payload(Note, a.payload, a.kind).note
    doc["suspensions"].append({"at": a.now.isoformat(), "by": a.actor.id, "reason": reason,
                               "event_id": a.event["event_id"], "resumed_at": None})
    doc["state"] = "suspended"
    return []


def _resume(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    parse_payload(Note, a.payload, a.kind)
    last = doc["suspensions"][-1]
    paused_at = _t(last["at"])
    _guardian_present(doc, a.rules, a.now)
    content = _content(doc)
    gas = a.rules.level(content.type, content.level).gas
    pause_min = (a.now - paused_at).total_seconds() / 60
    retest = str(last["reason"]).startswith("gas.") or (
        gas is not None and gas.reanalyse_after_pause_min is not None and pause_min > gas.reanalyse_after_pause_min)
    if retest:
        _fresh_passing_test(doc, a.rules, a.now, after=paused_at)
    last["resumed_at"] = a.now.isoformat()
    doc["state"] = "active"
    return []


def _complete(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    parse_payload(Note, a.payload, a.kind)
    doc["state"], doc["completed_at"] = "completed", a.now.isoformat()
    return []


def _close(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    body = parse_payload(Acceptance, a.payload, a.kind)
    doc["state"], doc["closed_at"] = "closed", a.now.isoformat()
    doc["acceptance"] = {"by": a.actor.id, "remarks": body.remarks, "event_id": a.event["event_id"]}
    return []


def _expire(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    doc["state"] = "expired"
    return []


def _record_alarm(doc: dict[str, Any], a: _Action) -> list[FollowUp]:
    doc["alarms"].append({"at": a.now.isoformat(), "event_id": a.event["event_id"]} | dict(a.payload))
    return []


_HANDLERS: dict[str, Callable[[dict[str, Any], _Action], list[FollowUp]]] = {
    "permit.submitted": _submit, "permit.approved": _approve, "permit.rejected": _reject,
    "permit.cancelled": _cancel, "gas.analysed": _gas, "detector.reading": _gas, "guardian.checkin": _checkin,
    "guardian.checks_confirmed": _confirm_checks, "guardian.heartbeat": _heartbeat, "guardian.handover": _handover,
    "permit.activated": _activate, "permit.suspended": _suspend, "permit.resumed": _resume,
    "permit.completed": _complete, "permit.closed": _close, "permit.expired": _expire, "alarm.raised": _record_alarm,
}


def due_follow_ups(doc: Mapping[str, Any], rules: Rules, now: datetime) -> list[FollowUp]:
    """What the watchdog must record for a permit at ``now``: expiry at the end of the window; for active
    work, a guardian silent past the timeout or a re-analysis overdue suspends it and raises an alarm."""
    if doc["state"] in TERMINAL or doc["state"] == "completed":
        return []
    content = _content(doc)
    if now > content.ends_at:
        return [("permit.expired", {"reason": "window.ended", "detail": f"the window ended at {content.ends_at.isoformat()}"})]
    if doc["state"] != "active":
        return []
    silent = (now - _t(doc["guardian"]["last_seen_at"])).total_seconds()
    if silent > rules.guardian_heartbeat_timeout_s:
        return _alarm(doc, "guardian.absent", f"no guardian heartbeat for {silent:.0f} s "
                                              f"(limit {rules.guardian_heartbeat_timeout_s} s)", None)
    gas = rules.level(content.type, content.level).gas
    if gas is not None and gas.monitoring_gap_min is not None:
        heard = [_t(doc["activated_at"])] + ([_t(doc["detector"]["last_reading_at"])] if doc.get("detector") else [])
        silent_min = (now - max(heard)).total_seconds() / 60
        if silent_min > gas.monitoring_gap_min:
            return _alarm(doc, "gas.monitoring_gap", f"continuous monitoring: no detector reading for "
                                                     f"{silent_min:.0f} min (limit {gas.monitoring_gap_min} min)", None)
    if gas is not None and gas.interval_during_work_min is not None:
        passing = [_t(t["sampled_at"]) for t in doc["gas_tests"] if t["passed"]]
        if doc.get("detector"):
            passing.append(_t(doc["detector"]["last_reading_at"]))
        latest = max(passing, default=None)
        if latest is None or (now - latest).total_seconds() / 60 > gas.interval_during_work_min:
            return _alarm(doc, "gas.reanalysis_overdue", f"no passing gas test in the last "
                                                         f"{gas.interval_during_work_min} min", None)
    return []

