from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from ledger.clock import Clock, ManualClock, rfc3339, zone


def test_rfc3339_fixed_width_utc_milliseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=8)))
    assert rfc3339(moment) == "2026-01-01T19:04:05.678Z"
    assert len(rfc3339(datetime(2026, 1, 1, tzinfo=UTC))) == len("2026-01-01T00:00:00.000Z")


def test_rfc3339_naive_refused() -> None:
    with pytest.raises(ValueError, match="has no time zone"):
        rfc3339(datetime(2026, 1, 1))


def test_zone_unknown_named() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Mars/Olympus'"):
        zone("Mars/Olympus")


def test_manual_clock_today_is_the_plants_calendar_day() -> None:
    clock = ManualClock(datetime(2026, 6, 30, 15, 59, tzinfo=UTC))
    assert clock.today() == date(2026, 6, 30)
    assert clock.advance(timedelta(minutes=1)).today() == date(2026, 7, 1)
    assert ManualClock(clock.now(), tz="UTC").today() == date(2026, 6, 30)


def test_system_clock_is_aware_utc() -> None:
    assert Clock().now().utcoffset() == timedelta(0)
