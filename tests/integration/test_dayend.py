"""Day-end checkpoints (``ledger.dayend``) and the anchorer's milestones: every backend anchors the
checkpoint that closed each plant day on its way to newer ones, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.local import LocalJournal
from ledger.checkpoint import SignedCheckpoint
from ledger.clock import ManualClock
from ledger.dayend import DayEndMilestones, day_end_checkpoint
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import grow

_NOON = datetime.fromisoformat("2026-11-30T12:00:00+08:00")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(_NOON)


@pytest.fixture
def day_log(engine: Engine, log_key: SM2PrivateKey, clock: ManualClock) -> Iterator[TransparencyLog]:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key),
                          checkpoint_interval=0.05, clock=clock)
    log.start()
    yield log
    log.close()


def _grow(log: TransparencyLog, count: int) -> SignedCheckpoint:
    return grow(log, count, permit=None)  # day-end events are about no permit


def test_day_end_checkpoint_is_the_last_cut_before_midnight(day_log: TransparencyLog, clock: ManualClock) -> None:
    assert day_end_checkpoint(day_log, date(2026, 11, 30), clock.tz) is None
    _grow(day_log, 2)
    closing = _grow(day_log, 3)
    clock.advance(timedelta(hours=12, seconds=1))  # 00:00:01 on 1 December, plant time
    _grow(day_log, 4)

    found = day_end_checkpoint(day_log, date(2026, 11, 30), clock.tz)

    assert found is not None and found.text == closing.text
    assert day_end_checkpoint(day_log, date(2026, 11, 29), clock.tz) is None


def test_anchorer_anchors_each_day_end_checkpoint_before_newer_ones(day_log: TransparencyLog, clock: ManualClock,
                                                                     log_key: SM2PrivateKey, tmp_path: Path) -> None:
    journal = LocalJournal(tmp_path / "journal.jsonl", signer=Signer.from_private_key(log_key), clock=clock)
    anchorer = Anchorer(day_log, [journal], clock=clock, milestones=DayEndMilestones(day_log, clock.tz))
    first_day = _grow(day_log, 3)
    clock.advance(timedelta(days=1))
    second_day = _grow(day_log, 2)
    clock.advance(timedelta(days=1))
    newest = _grow(day_log, 5)

    sizes = [r.tree_size for _ in range(4) for r in anchorer.run_once()]

    assert sizes == [c.checkpoint.tree_size for c in (first_day, second_day, newest)]


def test_anchorer_without_milestones_anchors_the_newest_only(day_log: TransparencyLog, clock: ManualClock,
                                                             log_key: SM2PrivateKey, tmp_path: Path) -> None:
    journal = LocalJournal(tmp_path / "journal.jsonl", signer=Signer.from_private_key(log_key), clock=clock)
    anchorer = Anchorer(day_log, [journal], clock=clock)
    _grow(day_log, 3)
    clock.advance(timedelta(days=1))
    newest = _grow(day_log, 2)

    assert [r.tree_size for r in anchorer.run_once()] == [newest.checkpoint.tree_size]
    assert anchorer.run_once() == []
