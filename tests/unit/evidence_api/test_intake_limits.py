"""The intake's limits reach the worker processes: ``TIEZHENG_READING_LATE_AFTER`` flags a late detector
reading ``received_late`` whether intake runs in the server or in workers (the default)."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from pydantic import ValidationError

from evidence_api.config import Settings
from evidence_api.services.events import EventIntake, IntakePool
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor, new_item, sign_item
from ledger.keystore import LocalKeyWrapper
from tests.unit.evidence_api.intake_support import MASTER, TENANT


def _reading(actor: Actor, age: timedelta) -> bytes:
    """A detector reading taken ``age`` ago by the system clock (what a worker process reads)."""
    occurred = (datetime.now(UTC) - age).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    item = new_item(actor, tenant=TENANT, kind="detector.reading", subject={"permit": "HW-1"},
                    payload={"lel_pct": 0.1}, occurred_at=occurred)
    return orjson.dumps({"events": [sign_item(actor, item)]})


@pytest.mark.parametrize("late_after, flagged", [(60.0, True), (300.0, False)])
def test_late_after_applies_in_worker_processes(keys: tuple[str, KeyRegistry, Actor], late_after: float,
                                                flagged: bool) -> None:
    url, registry, actor = keys
    local = EventIntake(registry, LocalKeyWrapper(MASTER), max_delay=timedelta(seconds=late_after))
    pool = IntakePool(local, workers=1, database_url=url, master_key=MASTER)
    try:
        submission = asyncio.run(pool.prepare(TENANT, _reading(actor, timedelta(minutes=2))))
    finally:
        pool.close()
    assert ("received_late" in submission.events[0].flags) is flagged


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_late_after_must_be_positive_seconds(tmp_path: Path, bad: float) -> None:
    with pytest.raises(ValidationError, match="TIEZHENG_READING_LATE_AFTER is seconds above 0"):
        Settings(environment="dev", data_dir=tmp_path, reading_late_after=bad)
