"""The certificate catalog and the state of a certificate on a day (30号令: 6-year validity, 3-yearly 复审)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from evidence_api.services.catalog import CATEGORIES, SUB_TYPES, certificate_state, check_sub_type


def test_catalog_every_sub_type_under_a_known_category() -> None:
    assert all(code.split(".")[0] in CATEGORIES for code in SUB_TYPES)
    assert len([c for c in SUB_TYPES if c.startswith("9.")]) == 16  # 15 hazardous processes + instrumentation


@pytest.mark.parametrize(("category", "sub_type"), [("1", "1.1"), ("2", "2.3"), ("9", "9.16"), ("11", "11.1")])
def test_check_sub_type_allowed(category: str, sub_type: str) -> None:
    assert check_sub_type(category, sub_type) is None


@pytest.mark.parametrize(("category", "sub_type", "want"), [
    ("12", "1.1", r"unknown category '12'"),
    ("1", "1.9", r"unknown sub-type '1.9'; see GET /v1/certificates/catalog"),
    ("2", "1.1", r"sub-type '1.1' \(高压电工作业\) belongs to category '1', not '2'"),
    ("1", "", "unknown sub-type ''"),
])
def test_check_sub_type_refused(category: str, sub_type: str, want: str) -> None:
    error = check_sub_type(category, sub_type)
    assert error is not None and re.search(want, error), error


@pytest.mark.parametrize(("on", "want"), [
    (date(2026, 1, 1), "valid"),
    (date(2027, 1, 1), "valid"),             # the 复审 day itself is still fine
    (date(2027, 1, 2), "review_overdue"),
    (date(2030, 1, 1), "review_overdue"),    # expiry day: not yet expired, but the review is overdue
    (date(2030, 1, 2), "expired"),
])
def test_certificate_state_by_day(on: date, want: str) -> None:
    assert certificate_state("valid", date(2030, 1, 1), date(2027, 1, 1), on) == want


@pytest.mark.parametrize("status", ["suspended", "revoked", "void"])
def test_certificate_state_stored_status_wins(status: str) -> None:
    assert certificate_state(status, date(2030, 1, 1), date(2027, 1, 1), date(2026, 1, 1)) == status
