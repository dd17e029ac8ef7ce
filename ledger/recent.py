"""The newest committed events' ``FoldHead``s, kept in the writer's memory for ``heads_since``.

A projection follows the log page by page and asks ``LogReader.heads_since`` what each newly committed event
is (index, tenant, kind, permit, key) before it reads anything else; on SQLite that query and its rows cost the
server ~5 µs per event, for data the log writer had in hand when it committed them. The writer appends them
here right after each commit (before the new tree size is published), so a reader that has seen a tree size
finds every event below it here, or, for older ones than the window holds, in the database as before.
"""

from __future__ import annotations

import threading

from ledger.reader import FoldHead

__all__ = ["RecentHeads"]

_KEPT = 32_768  # heads held (≈ 6 MiB): dozens of projector pages behind the newest event


class RecentHeads:
    """A window ``[start, start + len)`` of consecutive leaves' heads; safe to read from any thread."""

    def __init__(self, start: int, capacity: int = _KEPT) -> None:
        self._lock = threading.Lock()
        self._start, self._heads, self._capacity = start, list[FoldHead](), max(capacity, 1)

    def extend(self, first: int, heads: list[FoldHead]) -> None:
        """Add the heads of leaves ``first, first + 1, ...`` (just committed). If ``first`` does not follow the
        window, the window starts again there (nothing before it is claimed)."""
        with self._lock:
            if first != self._start + len(self._heads):
                self._start, self._heads = first, []
            self._heads.extend(heads)
            excess = len(self._heads) - self._capacity
            if excess > 0:
                drop = excess + self._capacity // 4  # trim in steps, not one head per append
                del self._heads[:drop]
                self._start += drop

    def since(self, after_index: int, limit: int) -> list[FoldHead] | None:
        """The heads of up to ``limit`` leaves after ``after_index`` that the window holds, ascending; None when
        the window does not reach back to ``after_index + 1`` (ask the database)."""
        with self._lock:
            low = after_index + 1 - self._start
            if low < 0:
                return None
            return self._heads[low:low + limit]
