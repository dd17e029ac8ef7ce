"""Regulator digests through the API: a day's counts, tree and anchors; the range request; every refusal."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from ledger.clock import ManualClock
from tests.api.digest_support import DAY, clock, day_api, day_client, digests, wait_anchored, worked_day
from tests.api.support import BOTH_DATABASES, Api, assert_problem

__all__ = ["clock", "day_api", "day_client"]  # fixtures


@BOTH_DATABASES
def test_digest_counts_the_days_permits_alarms_and_suspensions(day_api: Api, clock: ManualClock) -> None:
    worked_day(day_api, clock)
    size = day_api.tree_size
    clock.set(datetime.fromisoformat("2026-12-01T02:30:00+08:00"))

    resp = digests(day_api, date=DAY)

    assert resp.status_code == 200, resp.text
    view = resp.json()["digests"][0]
    digest = view["digest"]
    assert digest["date"] == DAY and digest["timezone"] == "Asia/Shanghai"
    assert digest["log"]["tree_size"] == size
    counts = digest["counts"]
    assert counts["permits_opened"] == [{"type": "hot_work", "level": "1", "count": 1}]
    assert counts["permits_closed"] == [{"type": "hot_work", "level": "1", "count": 1}]
    assert (counts["suspensions"], counts["gas_alarms"], counts["guardian_absences"]) == (1, 1, 0)
    assert digest["previous"] is None
    assert "acme" not in str(digest) and "welder" not in str(digest)


def test_digest_is_anchored_on_every_backend_at_its_own_tree(day_api: Api, clock: ManualClock) -> None:
    worked_day(day_api, clock)
    clock.set(datetime.fromisoformat("2026-12-01T02:30:00+08:00"))

    view = wait_anchored(day_api, DAY)

    [local] = view["anchors"]
    assert local["backend"] == "local" and local["receipt"]["tree_size"] == view["digest"]["log"]["tree_size"]


def test_digest_of_a_day_whose_checkpoint_is_not_anchored_yet_says_pending(day_api: Api, clock: ManualClock) -> None:
    services = day_api.client.app.state.services  # type: ignore[attr-defined]
    services.anchorer.close()  # the anchor worker stops: nothing new gets anchored
    worked_day(day_api, clock)
    clock.set(datetime.fromisoformat("2026-12-01T02:30:00+08:00"))

    view = digests(day_api, date=DAY).json()["digests"][0]

    assert view["anchors"] == [{"backend": "local", "status": "pending"}]


def test_digest_of_a_tenant_without_events_has_zero_counts(day_api: Api, clock: ManualClock) -> None:
    clock.set(datetime.fromisoformat("2026-12-01T02:30:00+08:00"))

    digest = digests(day_api, date=DAY).json()["digests"][0]["digest"]

    assert digest["counts"]["events"] == 0 and digest["counts"]["permits_opened"] == []


def test_digest_links_to_the_previous_days_digest(day_api: Api, clock: ManualClock) -> None:
    worked_day(day_api, clock)
    first = digests(day_api, date=DAY)
    assert first.status_code == 422  # the day has not ended yet
    clock.set(datetime.fromisoformat("2026-12-01T10:00:00+08:00"))
    day_api.post_events({"events": [_checkin(day_api)]})
    day_api.checkpoint(day_api.tree_size)
    clock.set(datetime.fromisoformat("2026-12-02T03:00:00+08:00"))

    views = digests(day_api, **{"from": DAY, "to": "2026-12-01"}).json()["digests"]

    one, two = (v["digest"] for v in views)
    assert two["previous"]["tree_size"] == one["log"]["tree_size"]
    assert two["previous"]["digest_hash"] == views[0]["digest_hash"]
    assert two["counts"]["events"] == 1


def _checkin(api: Api) -> dict[str, Any]:
    from tests.helpers import signed_item

    return signed_item(api.guardian, permit=None, kind="guardian.checkin")


@pytest.mark.parametrize(("params", "slug", "detail"), [
    ({"date": "2026-13-01"}, "malformed-input", "date"),
    ({"date": "yesterday"}, "malformed-input", "YYYY-MM-DD"),
    ({"date": "2026-12-01"}, "malformed-input", "day 2026-12-01 has not ended"),
    ({"date": "2030-01-01"}, "malformed-input", "has not ended"),
    ({"from": "2026-11-01"}, "malformed-input", "either date"),
    ({"date": "2026-11-29", "from": "2026-11-01", "to": "2026-11-02"}, "malformed-input", "either date"),
    ({"from": "2026-11-30", "to": "2026-11-01"}, "malformed-input", "is after"),
    ({"from": "2026-01-01", "to": "2026-11-30"}, "malformed-input", "at most 31 days"),
    ({}, "malformed-input", "either date"),
    ({"date": "0001-01-01"}, "malformed-input", "outside 1970-01-02"),
    ({"date": "9999-12-31"}, "malformed-input", "outside 1970-01-02"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "malformed-input", "outside 1970-01-02"),
])
def test_digest_refuses_bad_dates_with_422(day_api: Api, params: dict[str, str], slug: str, detail: str) -> None:
    assert_problem(digests(day_api, **params), 422, slug, detail)


def test_digest_of_a_day_before_the_tenant_existed_is_404(day_api: Api) -> None:
    assert_problem(digests(day_api, date="2020-01-01"), 404, "not-found", "did not exist")


def test_digest_is_not_for_other_roles(day_api: Api, clock: ManualClock) -> None:
    clock.set(datetime.fromisoformat("2026-12-01T02:30:00+08:00"))
    assert digests(day_api, token=day_api.admin, date=DAY).status_code == 200
    assert digests(day_api, token="nobody", date=DAY).status_code == 401


def test_daily_job_builds_yesterdays_digest_after_the_build_time(day_api: Api, clock: ManualClock) -> None:
    services = day_api.client.app.state.services  # type: ignore[attr-defined]
    services.digest_job.close()  # this test runs the job itself
    clock.set(datetime.fromisoformat("2026-12-01T01:59:00+08:00"))
    assert services.digests.daily_once() == 0
    clock.advance(timedelta(minutes=1))

    assert services.digests.daily_once() == 2  # both tenants
    assert services.digests.daily_once() == 0
