"""``ledger.recent.RecentHeads`` against a model: whatever it answers is exactly the heads of the leaves asked
for (a window of consecutive leaves), it answers for the newest leaves, and it never claims leaves from before
a gap in what it was given."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ledger.reader import FoldHead
from ledger.recent import RecentHeads


def _head(index: int) -> FoldHead:
    return FoldHead(index, f"t{index % 3}", "detector.reading", f"P-{index % 5}" if index % 4 else None, "k#1")


# each step: (how many leaves to skip before this batch — 0 means it follows on, batch length)
STEPS = st.lists(st.tuples(st.sampled_from([0, 0, 0, 1, 7]), st.integers(0, 9)), max_size=30)


@given(start=st.integers(0, 50), capacity=st.integers(1, 12), steps=STEPS, limit=st.integers(1, 15))
def test_recent_heads_answers_only_what_it_holds(start: int, capacity: int, steps: list[tuple[int, int]],
                                                 limit: int) -> None:
    recent, end, known_from = RecentHeads(start, capacity), start, start
    for gap, count in steps:
        first = end + gap
        if gap:
            known_from = first  # whatever came before the gap was never given to this window
        recent.extend(first, [_head(i) for i in range(first, first + count)])
        end = first + count
        for after in range(start - 2, end + 1):
            got = recent.since(after, limit)
            if got is not None:
                assert after + 1 >= known_from
                assert got == [_head(i) for i in range(after + 1, min(end, after + 1 + limit))]
            if after + 1 >= known_from and end - (after + 1) <= capacity - capacity // 4:
                assert got is not None, (after, end, capacity)  # the newest leaves are always held


def test_recent_heads_of_an_empty_window_are_none_before_and_empty_after() -> None:
    recent = RecentHeads(10)
    assert recent.since(8, 5) is None
    assert recent.since(9, 5) == []
    assert recent.since(40, 5) == []
