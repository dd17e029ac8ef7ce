"""Day-end checkpoints: which checkpoint closes a calendar day of the plant (docs/formats.md, "Day-end checkpoint").

The checkpoint of day D is the last checkpoint cut before 00:00 of day D+1 in the plant's time zone: the
tree as it was published when the day ended. It is fixed the moment the day ends (a checkpoint's
``created_at`` is stamped by the log's clock when it is cut) and never changes afterwards. Events committed
in the last checkpoint interval before midnight are in the next day's tree.

``DayEndMilestones`` makes every anchor backend anchor each day-end checkpoint on its way to newer ones, so
all chains hold the same (size, root) for each day and a regulator digest can show that they agree.

>>> from zoneinfo import ZoneInfo
>>> day_end(date(2026, 12, 1), ZoneInfo("Asia/Shanghai")).isoformat()
'2026-12-01T16:00:00+00:00'
>>> day_of("2026-12-01T16:00:00.000Z", ZoneInfo("Asia/Shanghai"))
datetime.date(2026, 12, 2)
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo

from ledger.checkpoint import SignedCheckpoint
from ledger.clock import rfc3339
from ledger.reader import LogReader

__all__ = ["DayEndMilestones", "day_end", "day_end_checkpoint", "day_of"]


def day_end(day: date, tz: tzinfo) -> datetime:
    """The instant (UTC) day ``day`` of time zone ``tz`` ends: 00:00 of the next day there."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz).astimezone(UTC)


def day_of(stamp: str, tz: tzinfo) -> date:
    """The calendar day in ``tz`` of the ``rfc3339`` time ``stamp``."""
    return datetime.fromisoformat(stamp).astimezone(tz).date()


def day_end_checkpoint(reader: LogReader, day: date, tz: tzinfo) -> SignedCheckpoint | None:
    """The checkpoint that closes ``day`` in ``tz`` (None if no checkpoint was cut before the day ended)."""
    return reader.checkpoint_before(rfc3339(day_end(day, tz)))


class DayEndMilestones:
    """For the anchorer: the day-end checkpoint a backend must anchor before ``candidate``, if any.

    ``reader`` reads the log's checkpoints; ``tz`` is the plant's time zone. Called with the size of the
    backend's last anchored tree (None before its first anchor) and the checkpoint it is about to anchor,
    it returns the earliest day-end checkpoint strictly between the two, or None.
    """

    def __init__(self, reader: LogReader, tz: tzinfo) -> None:
        self._reader, self._tz = reader, tz

    def __call__(self, after_size: int | None, candidate: SignedCheckpoint) -> SignedCheckpoint | None:
        """The milestone between ``after_size`` and ``candidate`` (see the class docstring)."""
        after = after_size or 0
        first = self._reader.checkpoint_created_after_size(after)
        if first is None:
            return None
        milestone = day_end_checkpoint(self._reader, day_of(first, self._tz), self._tz)
        if milestone is None:
            return None
        size = milestone.checkpoint.tree_size
        return milestone if after < size < candidate.checkpoint.tree_size else None
