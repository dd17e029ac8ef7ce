"""The safety rules a permit must pass, as pure functions over the permit and the facts they need.

Each check raises ``RuleViolation`` whose ``rule`` names the rule (``certificate.expired``,
``window.too_long`` ...) and whose message says what was found and what the rule wants, so an applicant
knows what to fix. The callers (``services.workflow``) load the facts; nothing here touches the database
or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from evidence_api.services.catalog import SUB_TYPES, certificate_state
from evidence_api.services.errors import RuleViolation
from evidence_api.services.geo import distance_m, inside_geofence
from evidence_api.services.permit_model import GasReadings, GasTest, PermitContent
from evidence_api.services.rules import GasRule, LevelRule, PhotoRequirement, Rules
from ledger.errors import MalformedInput

__all__ = [
    "NearbyPermit",
    "Photo",
    "check_certificates",
    "check_conflicts",
    "check_content",
    "check_daily_hours",
    "check_hot_work_level",
    "check_location",
    "check_photos",
    "check_violations",
    "check_window",
    "days_of",
    "gas_failures",
    "reading_failures",
    "required_operation",
    "upgrade_reasons",
]


@dataclass(frozen=True)
class NearbyPermit:
    """Another live permit, as far as conflicts are concerned."""

    id: str
    type: str
    area: str
    lat: float
    lon: float
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Photo:
    """A photo of the permit whose signed ``media.stored`` event is logged: its purpose and where it was taken."""

    media: str
    purpose: str | None
    lat: float | None
    lon: float | None


def check_photos(step: str, needs: Sequence[PhotoRequirement], photos: Sequence[Photo],
                 geofence: Mapping[str, Any] | None) -> None:
    """The permit has, for each requirement of ``step``, at least ``min_count`` photos of its purpose (taken
    inside ``geofence``, the permit's area, when the requirement says so); the refusal names every shortfall."""
    missing = []
    for need in needs:
        mine = [p for p in photos if p.purpose == need.purpose]
        inside = [p for p in mine if not need.within_geofence or (
            geofence is not None and p.lat is not None and p.lon is not None and inside_geofence(geofence, p.lat, p.lon))]
        if len(inside) < need.min_count:
            stray = len(mine) - len(inside)
            note = f" ({stray} more taken outside the area's geofence or without a location)" if stray else ""
            missing.append(f"{need.purpose} {len(inside)} of {need.min_count}{note}")
    if missing:
        raise RuleViolation("photos.missing", f"{step} needs on-site photos first: {'; '.join(missing)}; upload each "
                                              "with POST /v1/media (metadata permit and purpose) and log its signed "
                                              "media.stored event with the place it was taken")


def _height_level(height_m: float) -> str:
    """GB 30871 8.1: 2–5 m Ⅰ, 5–15 m Ⅱ, 15–30 m Ⅲ, above 30 m Ⅳ."""
    return "I" if height_m <= 5 else "II" if height_m <= 15 else "III" if height_m <= 30 else "IV"


def _lifting_level(load_t: float) -> str:
    """GB 30871 9.1: above 100 t 一级, 40–100 t 二级, below 40 t 三级."""
    return "1" if load_t > 100 else "2" if load_t >= 40 else "3"


_ORDER = {"height": ["I", "II", "III", "IV"], "lifting": ["3", "2", "1"]}


def check_content(content: PermitContent, rules: Rules, roles: Mapping[str, Sequence[str]], workers: Iterable[str]) -> LevelRule:
    """The permit is complete for its type and level: template risks and measures, emergency plan, JSA where
    required, the level fits the measured height or load, people exist with the right roles. Returns the
    level's rules."""
    work_type = rules.work_type(content.type)
    level = rules.level(content.type, content.level)
    measured = {"height": content.height_m and _height_level(content.height_m),
                "lifting": content.load_t and _lifting_level(content.load_t)}.get(content.type)
    if content.type in _ORDER and not measured:
        field = "height_m" if content.type == "height" else "load_t"
        raise RuleViolation("level.measure_missing", f"{work_type.name} needs {field} to check its level")
    if measured and _ORDER[content.type].index(str(content.level)) < _ORDER[content.type].index(measured):
        raise RuleViolation("level.too_low", f"level {content.level} is below {measured}, the level the measured "
                                             f"{'height' if content.type == 'height' else 'load'} requires")
    missing_risks = [r for r in work_type.risks if r not in content.risks]
    if missing_risks:
        raise RuleViolation("template.risks", f"the risk list of {work_type.name} must include {missing_risks}")
    missing = [m for m in work_type.measures if m not in {x.measure for x in content.measures}]
    if missing:
        raise RuleViolation("template.measures", f"every mandatory measure must be decided and confirmed; missing {missing}")
    if level.jsa_required and not content.jsa:
        raise RuleViolation("template.jsa", f"{work_type.name} level {content.level or '-'} requires a JSA (工作危害分析)")
    if content.type == "temp_power" and content.voltage_v is None:
        raise RuleViolation("template.voltage", "temporary power needs voltage_v to decide which electrician may work")
    _check_people(content, roles, set(workers))
    return level


def _check_people(content: PermitContent, roles: Mapping[str, Sequence[str]], workers: set[str]) -> None:
    needed: list[tuple[str, str | None]] = [(content.team_leader, "team_leader"), (content.guardian, "guardian")]
    needed += [(m.confirmer, None) for m in content.measures]
    for user, role in needed:
        if user not in roles:
            raise RuleViolation("people.unknown_user", f"user {user!r} is not registered")
        if role is not None and role not in roles[user]:
            raise RuleViolation("people.wrong_role", f"user {user!r} is not a {role} (roles {list(roles[user])})")
    unknown = [w.worker for w in content.workers if w.worker not in workers]
    if unknown:
        raise RuleViolation("people.unknown_worker", f"workers {unknown} are not registered")


_HOT_LEVELS = ["2", "1", "special"]


def upgrade_reasons(content: PermitContent, rules: Rules) -> list[str]:
    """Why hot work in this window must be one level higher (GB 30871 5.2.15): night, rest day, holiday,
    outdoor wind; empty when none applies. Times are read in the plant's local time."""
    upgrade, local = rules.hot_work_upgrade, timezone(timedelta(hours=rules.utc_offset_hours))
    start, end = content.starts_at.astimezone(local), content.ends_at.astimezone(local)
    days = days_of(start, end)
    reasons = []
    if upgrade.night_from_hour is not None:
        for day in [days[0] - timedelta(days=1), *days]:
            night = datetime.combine(day, time(upgrade.night_from_hour), tzinfo=local)
            morning = datetime.combine(day + timedelta(days=1), time(upgrade.night_to_hour), tzinfo=local)
            if night < end and start < morning:
                reasons.append(f"at night ({upgrade.night_from_hour}:00–{upgrade.night_to_hour}:00)")
                break
    if any(d.weekday() in upgrade.rest_days for d in days):
        reasons.append("on a rest day")
    if any(d in upgrade.holidays for d in days):
        reasons.append("on a holiday")
    if content.outdoor and content.wind_force is not None and content.wind_force >= upgrade.wind_force:
        reasons.append(f"outdoors in wind of force {content.wind_force}")
    return reasons


def check_hot_work_level(content: PermitContent, rules: Rules) -> None:
    """Hot work at night, on rest days or holidays, or outdoors in strong wind is declared one level above
    its ``base_level`` (the level its place requires)."""
    if content.type != "hot_work" or content.level not in _HOT_LEVELS:
        return
    base = content.base_level or content.level
    if base not in _HOT_LEVELS:
        raise MalformedInput(f"base_level must be one of {_HOT_LEVELS}, got {base!r}")
    reasons = upgrade_reasons(content, rules)
    want = _HOT_LEVELS[min(_HOT_LEVELS.index(base) + (1 if reasons else 0), len(_HOT_LEVELS) - 1)]
    if _HOT_LEVELS.index(content.level) < _HOT_LEVELS.index(want):
        raise RuleViolation("level.upgrade_required", f"hot work {' and '.join(reasons)} is handled one level above "
                                                      f"its base level {base}: declare level {want} with base_level {base}")


def check_window(content: PermitContent, level: LevelRule) -> None:
    """The window fits the validity of the type and level (GB 30871 表B.1)."""
    hours = (content.ends_at - content.starts_at).total_seconds() / 3600
    if level.max_hours is not None and hours > level.max_hours:
        raise RuleViolation("window.too_long", f"the window is {hours:g} h; {content.type} level "
                                               f"{content.level or '-'} permits are valid for at most {level.max_hours:g} h")


def required_operation(content: PermitContent, rules: Rules, operation: str | None) -> set[str]:
    """The certificate sub-types a worker with ``operation`` may hold for this permit (empty: none needed)."""
    operations = set(rules.work_type(content.type).operations)
    if content.type == "temp_power" and content.voltage_v is not None:
        operations = {"1.1"} if content.voltage_v >= rules.high_voltage_v else {"1.2"}
    if operation is None:
        return set()
    if operations and operation not in operations:
        allowed = ", ".join(f"{o} {SUB_TYPES.get(o, '')}" for o in sorted(operations))
        raise RuleViolation("certificate.wrong_type", f"operation {operation} does not fit this {content.type} "
                                                      f"permit; it needs one of: {allowed}")
    if operation not in SUB_TYPES:
        raise RuleViolation("certificate.wrong_type", f"operation {operation!r} is not in the certificate catalog")
    return {operation}


def check_certificates(content: PermitContent, rules: Rules, certificates: Mapping[str, Sequence[Mapping[str, Any]]],
                       on: Sequence[date]) -> None:
    """Every worker performing a special operation holds a certificate of that sub-type that is usable on
    every day in ``on`` (typically the first and last day of the window): not expired, review not overdue,
    not suspended, revoked or void."""
    needs_operation = bool(rules.work_type(content.type).operations)
    for entry in content.workers:
        if needs_operation and entry.operation is None:
            raise RuleViolation("certificate.operation_missing",
                                f"worker {entry.worker!r} needs an operation (certificate sub-type) on a {content.type} permit")
        wanted = required_operation(content, rules, entry.operation)
        if not wanted:
            continue
        held = [c for c in certificates.get(entry.worker, []) if c["sub_type"] in wanted]
        if not held:
            raise RuleViolation("certificate.missing", f"worker {entry.worker!r} holds no certificate for "
                                                       f"{entry.operation} {SUB_TYPES[entry.operation or '']}")
        _check_usable(entry.worker, held, on)


def _check_usable(worker: str, held: Sequence[Mapping[str, Any]], on: Sequence[date]) -> None:
    reasons = []
    for cert in held:
        states = {certificate_state(cert["status"], date.fromisoformat(cert["expires_on"]),
                                    date.fromisoformat(cert["review_due_on"]), day) for day in on}
        if states == {"valid"}:
            return
        bad = min(states - {"valid"})
        detail = (f"certificate {cert['number']} is {bad.replace('_', ' ')} within the permit's window "
                  f"(expires {cert['expires_on']}, review due {cert['review_due_on']})")
        reasons.append((bad, detail))
    rule, detail = reasons[0]
    raise RuleViolation(f"certificate.{rule}", f"worker {worker!r}: {detail}")


def check_violations(content: PermitContent, violations: Mapping[str, Sequence[str]], since: date, days: int) -> None:
    """No worker has a violation in the lookback window (``violations``: worker → dates, ISO)."""
    for entry in content.workers:
        recent = sorted(d for d in violations.get(entry.worker, []) if date.fromisoformat(d) >= since)
        if recent:
            raise RuleViolation("worker.recent_violation",
                                f"worker {entry.worker!r} has a violation on {recent[-1]}, within the last {days} days")


def days_of(start: datetime, end: datetime) -> list[date]:
    """The calendar days (in the window's own offset) that ``[start, end)`` touches."""
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _hours_on(day: date, start: datetime, end: datetime, per_day: float) -> float:
    day_start = datetime.combine(day, datetime.min.time(), tzinfo=start.tzinfo)
    overlap = min(end, day_start + timedelta(days=1)) - max(start, day_start)
    return min(per_day, max(overlap.total_seconds(), 0) / 3600)


def planned_hours(start: datetime, end: datetime, per_day: float) -> dict[date, float]:
    """Hours a worker is planned on each day of a permit's window."""
    return {day: _hours_on(day, start, end, per_day) for day in days_of(start, end)}


def check_daily_hours(content: PermitContent, other: Mapping[str, Sequence[tuple[datetime, datetime, float]]],
                      limit: float) -> None:
    """No worker is planned for more than ``limit`` hours on any day, counting their other live permits."""
    for entry in content.workers:
        total = planned_hours(content.starts_at, content.ends_at, entry.hours_per_day)
        for start, end, per_day in other.get(entry.worker, []):
            start = start.astimezone(content.starts_at.tzinfo)
            end = end.astimezone(content.starts_at.tzinfo)
            for day, hours in planned_hours(start, end, per_day).items():
                if day in total:
                    total[day] += hours
        over = {d: h for d, h in total.items() if h > limit}
        if over:
            day, hours = min(over.items())
            raise RuleViolation("worker.daily_hours", f"worker {entry.worker!r} would work {hours:g} h on "
                                                      f"{day.isoformat()}; the limit is {limit:g} h a day")


def check_conflicts(content: PermitContent, rules: Rules, others: Iterable[NearbyPermit]) -> None:
    """No live permit of a conflicting type overlaps in time in the same area or within the conflict radius."""
    pairs = {frozenset(pair) for pair in rules.conflicts}
    for other in others:
        if frozenset((content.type, other.type)) not in pairs:
            continue
        if other.ends_at <= content.starts_at or content.ends_at <= other.starts_at:
            continue
        apart = distance_m(content.location.lat, content.location.lon, other.lat, other.lon)
        if other.area == content.area or apart <= rules.conflict_radius_m:
            raise RuleViolation("conflict.nearby_work", f"{other.type} permit {other.id!r} overlaps in time "
                                                        f"{apart:.0f} m away (area {other.area}); {content.type} and "
                                                        f"{other.type} may not run together within {rules.conflict_radius_m:g} m")


def check_location(event: Mapping[str, Any], point: tuple[float, float], *, max_m: float, max_accuracy_m: float,
                   rule: str) -> float:
    """The event's location is present, precise enough and within ``max_m`` of ``point``; returns the distance."""
    location = event.get("location")
    if location is None:
        raise RuleViolation(f"{rule}.location_missing", "this action must carry the signer's location (event.location)")
    accuracy = float(location.get("accuracy_m", 0))
    if accuracy > max_accuracy_m:
        raise RuleViolation(f"{rule}.location_imprecise",
                            f"location accuracy is {accuracy:g} m; at most {max_accuracy_m:g} m is accepted")
    apart = distance_m(location["lat"], location["lon"], *point)
    if apart > max_m:
        raise RuleViolation(f"{rule}.too_far", f"signed {apart:.1f} m from the work point; the limit is {max_m:g} m")
    return apart


def gas_failures(test: GasTest, content: PermitContent, gas: GasRule | None, rules: Rules) -> list[str]:
    """What in a gas sample breaks the limits of this permit (empty: it passes).

    Combustible gas: ≤ 0.5 %vol when the medium's LEL ≥ 4 %, else ≤ 0.2 %vol (the stricter one when the
    permit names no LEL); oxygen within the level's range; each toxic gas within the tenant's limit.
    """
    return reading_failures(test.readings, content, gas, rules)


def reading_failures(readings: GasReadings, content: PermitContent, gas: GasRule | None, rules: Rules) -> list[str]:
    """What in the values of one sample breaks the limits of this permit (``gas_failures`` without the
    sample's time and place: the intake worker sends only the values of a detector reading)."""
    failures: list[str] = []
    lel = content.combustible_lel_pct
    limit = (rules.combustible_limit_high_lel_pct_vol if lel is not None and lel >= rules.combustible_lel_threshold_pct
             else rules.combustible_limit_low_lel_pct_vol)
    if readings.combustible_pct_vol is not None and readings.combustible_pct_vol > limit:
        failures.append(f"combustible {readings.combustible_pct_vol:g} %vol > {limit:g} %vol")
    o2 = readings.o2_pct_vol
    if o2 is not None and gas is not None:
        if gas.o2_min_pct is not None and o2 < gas.o2_min_pct:
            failures.append(f"oxygen {o2:g} %vol < {gas.o2_min_pct:g} %vol")
        if gas.o2_max_pct is not None and o2 > gas.o2_max_pct:
            failures.append(f"oxygen {o2:g} %vol > {gas.o2_max_pct:g} %vol")
    for name, value in sorted(readings.toxic_mg_m3.items()):
        toxic_limit = rules.toxic_limits_mg_m3.get(name)
        if toxic_limit is None:
            failures.append(f"no limit is configured for toxic gas {name!r}; set toxic_limits_mg_m3")
        elif value > toxic_limit:
            failures.append(f"{name} {value:g} mg/m³ > {toxic_limit:g} mg/m³")
    return failures
