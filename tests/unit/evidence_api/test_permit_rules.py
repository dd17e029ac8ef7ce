"""The pure permit rules and geometry, at their edges (the API tests cover each rule end to end)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from evidence_api.services import permit_rules as rules_
from evidence_api.services.errors import RuleViolation
from evidence_api.services.geo import check_geofence, distance_m, inside_geofence
from evidence_api.services.permit_model import GasTest, PermitContent
from evidence_api.services.rules import DEFAULTS, rules_from_overrides
from ledger.errors import MalformedInput

RULES = rules_from_overrides({})
T0 = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)


def content(**overrides: Any) -> PermitContent:
    template = DEFAULTS["work_types"]["hot_work"]
    base = {"type": "hot_work", "level": "1", "area": "a", "location": {"lat": 31.2, "lon": 121.5},
            "starts_at": T0, "ends_at": T0 + timedelta(hours=8), "content": "c", "work_unit": "u",
            "team_leader": "l", "guardian": "g", "workers": [{"worker": "w", "operation": "2.1", "hours_per_day": 6}],
            "risks": template["risks"], "emergency_plan": "e",
            "measures": [{"measure": m, "applies": True, "confirmer": "l"} for m in template["measures"]]}
    return PermitContent.model_validate(base | overrides)


def sample(**readings: float) -> GasTest:
    return GasTest.model_validate({"sampled_at": T0, "point": "p", "readings": readings})


@pytest.mark.parametrize(("height", "level"), [(2, "I"), (5, "I"), (5.1, "II"), (15, "II"), (15.5, "III"),
                                               (30, "III"), (31, "IV")])
def test_height_level_boundaries_gb30871(height: float, level: str) -> None:
    assert rules_._height_level(height) == level


@pytest.mark.parametrize(("load", "level"), [(39.9, "3"), (40, "2"), (100, "2"), (100.1, "1")])
def test_lifting_level_boundaries_gb30871(load: float, level: str) -> None:
    assert rules_._lifting_level(load) == level


def test_planned_hours_split_across_midnight() -> None:
    hours = rules_.planned_hours(T0, T0 + timedelta(hours=8), per_day=8)
    assert hours == {date(2026, 11, 23): 4.0, date(2026, 11, 24): 4.0}


def test_daily_hours_counts_only_overlapping_days() -> None:
    permit = content(workers=[{"worker": "w", "operation": "2.1", "hours_per_day": 4}])
    next_week = (T0 + timedelta(days=7), T0 + timedelta(days=7, hours=8), 8.0)
    rules_.check_daily_hours(permit, {"w": [next_week]}, limit=8)
    same_night = (T0 + timedelta(hours=1), T0 + timedelta(hours=3), 8.0)  # +2 h on the 23rd: 4 + 2 = 6
    rules_.check_daily_hours(permit, {"w": [same_night]}, limit=8)
    with pytest.raises(RuleViolation, match="would work 10 h on 2026-11-23"):
        rules_.check_daily_hours(permit, {"w": [same_night, same_night, same_night]}, limit=8)


def test_conflict_adjacent_windows_do_not_overlap() -> None:
    other = rules_.NearbyPermit("CS", "confined_space", "a", 31.2, 121.5, T0 + timedelta(hours=8), T0 + timedelta(hours=9))
    rules_.check_conflicts(content(), RULES, [other])
    overlapping = rules_.NearbyPermit("CS", "confined_space", "b", 31.2002, 121.5, T0, T0 + timedelta(hours=1))
    with pytest.raises(RuleViolation, match="22 m away"):
        rules_.check_conflicts(content(), RULES, [overlapping])


def test_conflict_ignores_pairs_not_in_rules() -> None:
    other = rules_.NearbyPermit("H2", "hot_work", "a", 31.2, 121.5, T0, T0 + timedelta(hours=1))
    rules_.check_conflicts(content(), RULES, [other])


def test_gas_combustible_limit_by_lel_class_and_unknown_lel_is_strict() -> None:
    gas = RULES.level("hot_work", "1").gas
    assert rules_.gas_failures(sample(combustible_pct_vol=0.5), content(combustible_lel_pct=4.0), gas, RULES) == []
    assert rules_.gas_failures(sample(combustible_pct_vol=0.21), content(combustible_lel_pct=3.9), gas, RULES) == [
        "combustible 0.21 %vol > 0.2 %vol"]
    assert rules_.gas_failures(sample(combustible_pct_vol=0.3), content(), gas, RULES) == [
        "combustible 0.3 %vol > 0.2 %vol"]


def test_gas_toxic_without_configured_limit_fails_and_says_so() -> None:
    failures = rules_.gas_failures(GasTest.model_validate({"sampled_at": T0, "point": "p", "readings": {
        "toxic_mg_m3": {"phosgene": 0.1}}}), content(), None, RULES)
    assert failures == ["no limit is configured for toxic gas 'phosgene'; set toxic_limits_mg_m3"]


def test_location_rules_name_what_is_wrong() -> None:
    point = (31.2, 121.5)
    event = {"location": {"lat": 31.2 + 4.9 / 111_195, "lon": 121.5, "accuracy_m": 5}}
    assert rules_.check_location(event, point, max_m=5, max_accuracy_m=20, rule="r") == pytest.approx(4.9, abs=0.05)
    with pytest.raises(RuleViolation, match="accuracy is 25 m"):
        rules_.check_location({"location": {"lat": 31.2, "lon": 121.5, "accuracy_m": 25}}, point, max_m=5,
                              max_accuracy_m=20, rule="r")
    with pytest.raises(RuleViolation, match="must carry the signer's location"):
        rules_.check_location({}, point, max_m=5, max_accuracy_m=20, rule="r")


def test_geofence_polygon_inside_and_outside() -> None:
    fence = check_geofence({"polygon": [[31.20, 121.50], [31.20, 121.51], [31.21, 121.51], [31.21, 121.50]]})
    assert inside_geofence(fence, 31.205, 121.505)
    assert not inside_geofence(fence, 31.215, 121.505)
    circle = check_geofence({"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 100}})
    assert inside_geofence(circle, 31.2 + 99 / 111_195, 121.5)
    assert not inside_geofence(circle, 31.2 + 101 / 111_195, 121.5)


def test_geofence_malformed_refused() -> None:
    with pytest.raises(MalformedInput, match="radius_m must be in"):
        check_geofence({"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 0}})
    with pytest.raises(MalformedInput, match="must be \\[lat, lon\\]"):
        check_geofence({"polygon": [[31.2], [31.3, 121.5], [31.2, 121.6]]})


def test_distance_one_degree_of_latitude() -> None:
    assert distance_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-4)


def test_rule_overrides_invalid_type_refused() -> None:
    with pytest.raises(MalformedInput, match="conflict_radius_m"):
        rules_from_overrides({"conflict_radius_m": "far"})
    overridden = rules_from_overrides({"work_types": {"lifting": {"levels": {"3": {"max_hours": 48}}}}})
    assert overridden.level("lifting", "3").max_hours == 48
    assert overridden.level("lifting", "3").route == [["workshop_head"], ["safety_officer"]]
