import logging

import pytest

from evidence_api.services.rules import DEFAULTS, encode_overrides, load_rules, rules_from_overrides
from ledger.errors import MalformedInput


def test_rules_from_overrides_misspelt_name_refused() -> None:
    with pytest.raises(MalformedInput, match="aprover_max_distance_m: Extra inputs are not permitted"):
        rules_from_overrides({"aprover_max_distance_m": 3})


def test_rules_from_overrides_misspelt_nested_name_refused() -> None:
    with pytest.raises(MalformedInput, match=r"hot_work_upgrade\.wind_forse: Extra inputs are not permitted"):
        encode_overrides({"hot_work_upgrade": {"wind_forse": 4}})


def test_rules_from_overrides_new_toxic_gas_allowed() -> None:
    assert rules_from_overrides({"toxic_limits_mg_m3": {"so2": 5.0}}).toxic_limits_mg_m3["so2"] == 5.0


def test_load_rules_stored_unknown_name_dropped_rest_kept(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR):
        rules = load_rules("t1", {"aprover_max_distance_m": 3, "guardian_max_distance_m": 40})
    assert rules.guardian_max_distance_m == 40
    assert rules.approver_max_distance_m == DEFAULTS["approver_max_distance_m"]
    assert "aprover_max_distance_m" in caplog.text
