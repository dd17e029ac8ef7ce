"""One clock for the whole service: UTC instants, one RFC 3339 spelling, and the plant's own calendar.

Every part that needs the time takes a ``Clock`` (injected; tests pass a ``ManualClock``), never calls
``datetime.now`` or ``date.today`` itself. Instants are timezone-aware UTC. Stored and signed times use one
spelling, ``rfc3339()``: UTC, ``Z``, exactly three fractional digits (fixed width, so text order is time
order in every database). Calendar questions (a certificate's expiry day, a daily digest, "night") are
answered in the plant's time zone, which is explicit (default ``Asia/Shanghai``), never the host's.

>>> clock = ManualClock(datetime(2026, 12, 1, 16, 30, tzinfo=UTC))
>>> clock.stamp()
'2026-12-01T16:30:00.000Z'
>>> clock.today()  # already the next day in China
datetime.date(2026, 12, 2)
>>> clock.advance(timedelta(minutes=5)).stamp()
'2026-12-01T16:35:00.000Z'
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["DEFAULT_PLANT_TZ", "Clock", "ManualClock", "rfc3339", "zone"]

DEFAULT_PLANT_TZ = "Asia/Shanghai"


def rfc3339(moment: datetime) -> str:
    """``moment`` in the service's one RFC 3339 form: UTC, millisecond precision, ``Z``.

    Requires an aware datetime (a naive one has no defined instant); raises ``ValueError`` otherwise.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"time {moment!r} has no time zone; pass an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def zone(name: str) -> tzinfo:
    """The IANA time zone ``name`` (e.g. ``Asia/Shanghai``); ``ValueError`` naming it if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as {DEFAULT_PLANT_TZ!r}") from exc


class Clock:
    """The system clock, with the plant's time zone ``tz`` (an IANA name or a ``tzinfo``)."""

    def __init__(self, tz: str | tzinfo = DEFAULT_PLANT_TZ) -> None:
        self.tz = zone(tz) if isinstance(tz, str) else tz

    def now(self) -> datetime:
        """The current instant, aware, in UTC."""
        return datetime.now(UTC)

    def stamp(self) -> str:
        """The current instant as ``rfc3339()`` text."""
        return rfc3339(self.now())

    def local(self, moment: datetime | None = None) -> datetime:
        """``moment`` (default: now) in the plant's time zone."""
        return (moment or self.now()).astimezone(self.tz)

    def today(self) -> date:
        """Today's date in the plant's time zone."""
        return self.local().date()


class ManualClock(Clock):
    """A clock that moves only when told (tests, replays); starts at ``start`` (aware)."""

    def __init__(self, start: datetime, tz: str | tzinfo = DEFAULT_PLANT_TZ) -> None:
        super().__init__(tz)
        self.set(start)

    def now(self) -> datetime:
        """The instant last set."""
        return self._now

    def set(self, moment: datetime) -> ManualClock:
        """Jump to ``moment`` (aware); returns the clock."""
        rfc3339(moment)  # refuses a naive datetime
        self._now = moment.astimezone(UTC)
        return self

    def advance(self, delta: timedelta) -> ManualClock:
        """Move forward (or back, for a negative ``delta``); returns the clock."""
        return self.set(self._now + delta)
