"""The permit state machine: one table of actions, each with the states it is allowed in, who may sign it,
its rule check (``decide``) and its state change (``evolve``).

draft → submitted → approving → approved → active ⇄ suspended → completed → closed, and rejected,
cancelled, expired. ``decide`` runs before an action is logged: (permit, action, rules, facts, now) → the
follow-ups the service must sign with it (a gas reading out of limits suspends the permit and raises an
alarm at once), or an error and nothing is logged. ``evolve`` runs after: (permit, logged action, rules) →
the new permit, pure and replayable (``permit_fold``). The document is the permit's projection; the log
holds the signed events it is built from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from evidence_api.services import permit_fold as fold
from evidence_api.services import permit_rules as checks
from evidence_api.services.errors import Forbidden, InvalidTransition, RuleViolation
from evidence_api.services.geo import inside_geofence
from evidence_api.services.permit_fold import Act, Actor, current_step, parse_time, work_point
from evidence_api.services.permit_model import (
    Acceptance,
    Approval,
    Checks,
    GasTest,
    GuardianCheckin,
    Handover,
    HistoryEntry,
    Note,
    Permit,
    PermitContent,
    parse_payload,
)
from evidence_api.services.rules import GUARDIAN_CHECKS, Rules
from ledger.errors import MalformedInput
from ledger.sm import sm3

__all__ = ["ACTIONS", "LIVE", "SERVICE_KINDS", "TERMINAL", "WORKFLOW_KINDS", "Act", "Action", "Actor", "Facts",
           "FollowUp", "decide", "decide_draft", "due_follow_ups", "evolve", "parties"]

TERMINAL = frozenset({"closed", "rejected", "cancelled", "expired"})
LIVE = frozenset({"submitted", "approving", "approved", "active", "suspended"})  # holds people and place
_OPEN = frozenset({"draft"}) | LIVE
_FIELD = frozenset({"approved", "active", "suspended"})

FollowUp = tuple[str, dict[str, Any]]


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
    photos: Sequence[checks.Photo] = ()                                       # logged photos of the permit
    today: date | None = None                                                 # the plant's calendar day


@dataclass(frozen=True)
class _Decision:
    """What ``decide`` sees of one proposed action."""

    act: Act
    rules: Rules
    facts: Facts
    now: datetime


Decide = Callable[[Permit, _Decision], list[FollowUp]]
Evolve = Callable[[Permit, Act, Rules], Permit]


@dataclass(frozen=True)
class Action:
    """One kind of permit action: allowed ``states``; who may sign it (``signers``: user, device, service) and,
    for users, one of ``roles`` (``()``: decided by ``decide``); ``decide`` checks it, ``evolve`` applies it."""

    states: frozenset[str]
    roles: tuple[str, ...]
    decide: Decide
    evolve: Evolve
    signers: frozenset[str] = frozenset({"user"})


def parties(permit: Permit) -> list[str]:
    """Everyone to notify about the permit: applicant, team leader, guardians, approvers so far."""
    people = [permit.applicant, permit.content.team_leader, permit.content.guardian, permit.guardian.user]
    people += [a.user for a in permit.approvals]
    return sorted({p for p in people if p})


def decide_draft(act: Act, rules: Rules) -> None:
    """Check a ``permit.drafted`` action (signed by an applicant, content valid for its type and level)."""
    if "applicant" not in act.actor.roles:
        raise Forbidden(f"user {act.actor.id!r} is not an applicant (roles {list(act.actor.roles)})")
    content = parse_payload(PermitContent, act.payload, "permit.drafted")
    rules.level(content.type, content.level)


def _spec(permit: Permit, act: Act) -> Action:
    """The action's table row after the state and signer checks (common to ``decide``)."""
    if act.kind not in ACTIONS:
        raise MalformedInput(f"{act.kind!r} is not a permit action; one of {sorted(ACTIONS)}")
    spec = ACTIONS[act.kind]
    if permit.state not in spec.states:
        raise InvalidTransition(f"permit {permit.id!r} is {permit.state}; {act.kind} is allowed only when "
                                f"{' or '.join(sorted(spec.states))}")
    actor = act.actor
    if actor.type == "service" and "service" not in spec.signers:
        raise Forbidden(f"{act.kind} must be signed by a person, not by the service")
    if actor.type != "service" and spec.signers == {"service"}:
        raise Forbidden(f"{act.kind} is recorded by the service itself")
    if actor.type == "user" and spec.roles and not set(spec.roles) & set(actor.roles):
        raise Forbidden(f"user {actor.id!r} (roles {list(actor.roles)}) may not sign {act.kind}; needs one of "
                        f"{list(spec.roles)}")
    return spec


def decide(permit: Permit, act: Act, rules: Rules, facts: Facts, now: datetime) -> list[FollowUp]:
    """May ``act`` happen to ``permit`` at ``now``? Raises ``InvalidTransition``, ``Forbidden``,
    ``RuleViolation`` or ``MalformedInput`` (nothing is logged then); returns the service's follow-ups."""
    follow = _spec(permit, act).decide(permit, _Decision(act, rules, facts, now))
    needs = rules.photo_steps.get(act.kind)
    if needs:
        checks.check_photos(act.kind, needs, facts.photos, facts.geofence)
    return follow


def evolve(permit: Permit, act: Act, rules: Rules) -> Permit:
    """The permit after the logged action ``act`` (pure; the action passed ``decide`` before it was logged).
    A ``permit.*`` event or a change of state is added to the history; ``version`` counts the events."""
    new = ACTIONS[act.kind].evolve(permit, act, rules)
    if new.state != permit.state or act.kind.startswith("permit."):
        entry = HistoryEntry(kind=act.kind, event_id=act.event["event_id"], by=act.event["actor"]["id"],
                             at=act.event["occurred_at"], **{"from": permit.state}, to=new.state)
        new = new.model_copy(update={"history": (*new.history, entry)})
    return new.model_copy(update={"version": permit.version + 1})


def draft(act: Act, rules: Rules) -> Permit:
    """The permit a logged ``permit.drafted`` creates, with its first history entry."""
    new = fold.evolve_draft(act, rules)
    entry = HistoryEntry(kind=act.kind, event_id=act.event["event_id"], by=act.event["actor"]["id"],
                         at=act.event["occurred_at"], **{"from": None}, to="draft")
    return new.model_copy(update={"history": (entry,), "version": 1})


# -- the rule checks ----------------------------------------------------------------------------------

def _none(permit: Permit, d: _Decision) -> list[FollowUp]:
    return []


def _note(permit: Permit, d: _Decision) -> list[FollowUp]:
    parse_payload(Note, d.act.payload, d.act.kind)
    return []


def _submit(permit: Permit, d: _Decision) -> list[FollowUp]:
    if d.act.actor.id != permit.applicant:
        raise Forbidden(f"only the applicant {permit.applicant!r} may submit this permit")
    parse_payload(Note, d.act.payload, d.act.kind)
    content, facts, rules, now = permit.content, d.facts, d.rules, d.now
    level = checks.check_content(content, rules, facts.roles, facts.workers)
    checks.check_window(content, level)
    checks.check_hot_work_level(content, rules)
    today = facts.today or now.date()
    window = sorted({content.starts_at.date(), content.ends_at.date(), today})
    checks.check_certificates(content, rules, facts.certificates, window)
    since = today - timedelta(days=rules.violation_lookback_days)
    checks.check_violations(content, facts.violations, since, rules.violation_lookback_days)
    checks.check_daily_hours(content, facts.other_hours, rules.max_daily_hours)
    checks.check_conflicts(content, rules, facts.nearby)
    point = content.location
    if facts.geofence is not None and not inside_geofence(facts.geofence, point.lat, point.lon):
        raise RuleViolation("place.outside_area", f"the work point {point.lat}, {point.lon} is "
                                                  f"outside the geofence of area {content.area!r}")
    if content.ends_at <= now:
        raise RuleViolation("window.past", f"the window ended at {content.ends_at.isoformat()}; draft a new permit")
    return []


def _approve(permit: Permit, d: _Decision) -> list[FollowUp]:
    body, actor = parse_payload(Approval, d.act.payload, d.act.kind), d.act.actor
    number, waiting = current_step(permit)
    if body.role not in waiting:
        route = [list(step) for step in permit.route]
        raise RuleViolation("approval.out_of_order", f"step {number + 1} of the route waits for {sorted(waiting)}, "
                                                     f"not {body.role}; route: {route}")
    if body.role not in actor.roles:
        raise Forbidden(f"user {actor.id!r} is not a {body.role}")
    if actor.id == permit.applicant or any(x.user == actor.id for x in permit.approvals):
        raise RuleViolation("approval.same_person", f"user {actor.id!r} already signed this permit as applicant or "
                                                    "approver; every signature must be a different person")
    checks.check_location(d.act.event, work_point(permit), max_m=d.rules.approver_max_distance_m,
                          max_accuracy_m=d.rules.max_location_accuracy_m, rule="approval")
    return []


def _reject(permit: Permit, d: _Decision) -> list[FollowUp]:
    _, waiting = current_step(permit)
    if not waiting & set(d.act.actor.roles):
        raise Forbidden(f"only an approver of the current step {sorted(waiting)} may reject")
    if not parse_payload(Note, d.act.payload, d.act.kind).note:
        raise MalformedInput("permit.rejected payload: note: a rejection must say why")
    return []


def _cancel(permit: Permit, d: _Decision) -> list[FollowUp]:
    if d.act.actor.id != permit.applicant:
        raise Forbidden(f"only the applicant {permit.applicant!r} may cancel this permit")
    return _note(permit, d)


def _gas(permit: Permit, d: _Decision) -> list[FollowUp]:
    test = parse_payload(GasTest, d.act.payload, "gas test")
    failures = fold.gas_verdict(test, permit.content, d.rules)
    if not failures:
        return []
    detail = f"gas test at {test.point} out of limits: {'; '.join(failures)}"
    return _alarm(permit, "gas.out_of_limits", detail, d.act.event["event_id"])


def _alarm(permit: Permit, reason: str, detail: str, trigger: str | None) -> list[FollowUp]:
    """An alarm to every party, and the suspension of an active permit, both signed by the service."""
    body = {"reason": reason, "detail": detail, "trigger_event": trigger}
    follow: list[FollowUp] = [("alarm.raised", body | {"parties": parties(permit)})]
    if permit.state == "active":
        follow.insert(0, ("permit.suspended", body))
    return follow


def _guardian_at_site(permit: Permit, d: _Decision, token: str) -> None:
    if d.facts.qr_token_hash is None or sm3(token.encode()).hex() != d.facts.qr_token_hash:
        raise RuleViolation("guardian.qr_mismatch", f"the QR token is not the one posted in area {permit.content.area!r}")
    checks.check_location(d.act.event, work_point(permit), max_m=d.rules.guardian_max_distance_m,
                          max_accuracy_m=d.rules.max_location_accuracy_m, rule="guardian")


def _checkin(permit: Permit, d: _Decision) -> list[FollowUp]:
    body = parse_payload(GuardianCheckin, d.act.payload, d.act.kind)
    expected = permit.guardian.user or permit.content.guardian
    if d.act.actor.id != expected:
        raise Forbidden(f"the permit's guardian is {expected!r}; {d.act.actor.id!r} must take over with guardian.handover")
    _guardian_at_site(permit, d, body.qr_token)
    return []


def _require_guardian(permit: Permit, d: _Decision) -> None:
    if permit.guardian.user != d.act.actor.id or permit.guardian.checked_in_at is None:
        raise RuleViolation("guardian.not_checked_in", f"user {d.act.actor.id!r} is not the checked-in guardian of "
                                                       "this permit")


def _confirm_checks(permit: Permit, d: _Decision) -> list[FollowUp]:
    _require_guardian(permit, d)
    body = parse_payload(Checks, d.act.payload, d.act.kind)
    unconfirmed = [name for name in GUARDIAN_CHECKS if not getattr(body, name)]
    if unconfirmed:
        raise RuleViolation("guardian.checks_incomplete", f"work may start only when all five checks are confirmed; "
                                                          f"not confirmed: {unconfirmed}")
    return []


def _heartbeat(permit: Permit, d: _Decision) -> list[FollowUp]:
    _require_guardian(permit, d)
    parse_payload(Note, d.act.payload, d.act.kind)
    try:
        checks.check_location(d.act.event, work_point(permit), max_m=d.rules.guardian_max_distance_m,
                              max_accuracy_m=d.rules.max_location_accuracy_m, rule="guardian")
    except RuleViolation as exc:
        if exc.rule.endswith("location_missing"):
            raise
        return _alarm(permit, "guardian.away", f"guardian {d.act.actor.id!r} is away from the work point: {exc}",
                      d.act.event["event_id"])
    return []


def _handover(permit: Permit, d: _Decision) -> list[FollowUp]:
    body = parse_payload(Handover, d.act.payload, d.act.kind)
    current = permit.guardian.user
    if body.from_guardian != current:
        raise RuleViolation("guardian.handover_from", f"the current guardian is {current!r}, not {body.from_guardian!r}")
    if d.act.actor.id == body.from_guardian:
        raise RuleViolation("guardian.handover_self", "a guardian cannot hand over to themselves")
    _guardian_at_site(permit, d, body.qr_token)
    return []


def _guardian_present(permit: Permit, rules: Rules, now: datetime) -> None:
    guardian = permit.guardian
    if guardian.checked_in_at is None or guardian.last_seen_at is None:
        raise RuleViolation("guardian.not_checked_in", "the guardian has not checked in at the work point")
    silent = (now - parse_time(guardian.last_seen_at)).total_seconds()
    if silent > rules.guardian_heartbeat_timeout_s:
        raise RuleViolation("guardian.absent", f"no guardian heartbeat for {silent:.0f} s "
                                               f"(limit {rules.guardian_heartbeat_timeout_s} s)")


def _fresh_passing_test(permit: Permit, rules: Rules, now: datetime, *, after: datetime | None) -> None:
    gas = rules.level(permit.content.type, permit.content.level).gas
    if gas is None:
        return
    tests = [t for t in permit.gas_tests if after is None or parse_time(t.sampled_at) > after]
    if not tests:
        raise RuleViolation("gas.no_test", "no gas analysis has been recorded" + (" since the pause" if after else ""))
    latest = max(tests, key=lambda t: t.sampled_at)
    if not latest.passed:
        raise RuleViolation("gas.failed", f"the latest gas test failed: {'; '.join(latest.failures)}")
    age = (now - parse_time(latest.sampled_at)).total_seconds() / 60
    if age > gas.max_age_at_start_min:
        raise RuleViolation("gas.stale", f"the latest gas sample is {age:.0f} min old; work must start within "
                                         f"{gas.max_age_at_start_min} min of the analysis")


def _activate(permit: Permit, d: _Decision) -> list[FollowUp]:
    content, now = permit.content, d.now
    if d.act.actor.id != content.team_leader:
        raise Forbidden(f"only the permit's team leader {content.team_leader!r} may start the work")
    parse_payload(Note, d.act.payload, d.act.kind)
    if not content.starts_at <= now <= content.ends_at:
        raise RuleViolation("window.outside", f"work may start only between {content.starts_at.isoformat()} and "
                                              f"{content.ends_at.isoformat()}")
    _guardian_present(permit, d.rules, now)
    if permit.guardian.checks is None:
        raise RuleViolation("guardian.checks_incomplete", "the guardian has not confirmed the five checks")
    _fresh_passing_test(permit, d.rules, now, after=None)
    checks.check_certificates(content, d.rules, d.facts.certificates, [d.facts.today or now.date()])
    return []


def _suspend(permit: Permit, d: _Decision) -> list[FollowUp]:
    return _note(permit, d) if d.act.actor.type == "user" else []


def _resume(permit: Permit, d: _Decision) -> list[FollowUp]:
    parse_payload(Note, d.act.payload, d.act.kind)
    last = permit.suspensions[-1]
    paused_at = parse_time(last.at)
    _guardian_present(permit, d.rules, d.now)
    gas = d.rules.level(permit.content.type, permit.content.level).gas
    pause_min = (d.now - paused_at).total_seconds() / 60
    retest = last.reason.startswith("gas.") or (
        gas is not None and gas.reanalyse_after_pause_min is not None and pause_min > gas.reanalyse_after_pause_min)
    if retest:
        _fresh_passing_test(permit, d.rules, d.now, after=paused_at)
    return []


def _close(permit: Permit, d: _Decision) -> list[FollowUp]:
    parse_payload(Acceptance, d.act.payload, d.act.kind)
    return []


_SERVICE = frozenset({"service"})
ACTIONS: dict[str, Action] = {
    "permit.submitted": Action(frozenset({"draft"}), ("applicant",), _submit, fold.evolve_submit),
    "permit.approved": Action(frozenset({"submitted", "approving"}), (), _approve, fold.evolve_approve),
    "permit.rejected": Action(frozenset({"submitted", "approving"}), (), _reject, fold.evolve_reject),
    "permit.cancelled": Action(frozenset({"draft", "submitted", "approving", "approved"}), ("applicant",), _cancel,
                               fold.evolve_cancel),
    "gas.analysed": Action(frozenset({"submitted", "approving"}) | _FIELD, ("gas_analyst",), _gas, fold.evolve_gas),
    "guardian.checkin": Action(_FIELD, ("guardian",), _checkin, fold.evolve_checkin),
    "guardian.checks_confirmed": Action(_FIELD, ("guardian",), _confirm_checks, fold.evolve_checks),
    "guardian.heartbeat": Action(_FIELD, ("guardian",), _heartbeat, fold.evolve_heartbeat),
    "guardian.handover": Action(_FIELD, ("guardian",), _handover, fold.evolve_handover),
    "permit.activated": Action(frozenset({"approved"}), ("team_leader",), _activate, fold.evolve_activate),
    "permit.suspended": Action(frozenset({"active"}), ("guardian", "team_leader", "safety_officer"), _suspend,
                               fold.evolve_suspend, frozenset({"user", "service"})),
    "permit.resumed": Action(frozenset({"suspended"}), ("team_leader",), _resume, fold.evolve_resume),
    "permit.completed": Action(frozenset({"active", "suspended"}), ("team_leader",), _note, fold.evolve_complete),
    "permit.closed": Action(frozenset({"completed"}), ("workshop_head", "safety_officer"), _close, fold.evolve_close),
    "permit.expired": Action(_OPEN, (), _none, fold.evolve_expire, _SERVICE),
    "alarm.raised": Action(_OPEN, (), _none, fold.evolve_alarm, _SERVICE),
    "detector.reading": Action(_FIELD, (), _gas, fold.evolve_gas, frozenset({"user", "device"})),
}
SERVICE_KINDS = frozenset(k for k, a in ACTIONS.items() if "service" in a.signers)
WORKFLOW_KINDS = (frozenset(ACTIONS) | {"permit.drafted"}) - {"detector.reading"}
"""Kinds only the workflow may log for a permit it runs."""


def due_follow_ups(permit: Permit, rules: Rules, now: datetime) -> list[FollowUp]:
    """What the watchdog must record for a permit at ``now``: expiry at the end of the window; for active
    work, a guardian silent past the timeout or a re-analysis overdue suspends it and raises an alarm."""
    if permit.state in TERMINAL or permit.state == "completed":
        return []
    content = permit.content
    if now > content.ends_at:
        return [("permit.expired", {"reason": "window.ended", "detail": f"the window ended at {content.ends_at.isoformat()}"})]
    if permit.state != "active" or permit.activated_at is None:
        return []
    seen = permit.guardian.last_seen_at
    silent = (now - parse_time(seen)).total_seconds() if seen else float("inf")
    if silent > rules.guardian_heartbeat_timeout_s:
        return _alarm(permit, "guardian.absent", f"no guardian heartbeat for {silent:.0f} s "
                                                 f"(limit {rules.guardian_heartbeat_timeout_s} s)", None)
    return _gas_overdue(permit, rules, now)


def _gas_overdue(permit: Permit, rules: Rules, now: datetime) -> list[FollowUp]:
    gas = rules.level(permit.content.type, permit.content.level).gas
    detector = [parse_time(permit.detector.last_reading_at)] if permit.detector else []
    if gas is not None and gas.monitoring_gap_min is not None and permit.activated_at is not None:
        silent_min = (now - max([parse_time(permit.activated_at), *detector])).total_seconds() / 60
        if silent_min > gas.monitoring_gap_min:
            return _alarm(permit, "gas.monitoring_gap", f"continuous monitoring: no detector reading for "
                                                        f"{silent_min:.0f} min (limit {gas.monitoring_gap_min} min)", None)
    if gas is not None and gas.interval_during_work_min is not None:
        latest = max([parse_time(t.sampled_at) for t in permit.gas_tests if t.passed] + detector, default=None)
        if latest is None or (now - latest).total_seconds() / 60 > gas.interval_during_work_min:
            return _alarm(permit, "gas.reanalysis_overdue", f"no passing gas test in the last "
                                                            f"{gas.interval_during_work_min} min", None)
    return []
