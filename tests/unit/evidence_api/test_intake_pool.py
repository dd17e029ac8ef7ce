"""``IntakePool.start``: every worker process is spawned and warm before the service takes a request, and a
worker that cannot start stops the service's start with an error that says so."""

from __future__ import annotations

import asyncio
import os

import orjson
import pytest

from evidence_api.services.events import EventIntake, IntakePool
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor, new_item, sign_item
from ledger.keystore import LocalKeyWrapper
from tests.unit.evidence_api.intake_support import MASTER, TENANT


def _children() -> set[int]:
    """Live child processes of this test process."""
    found = set()
    for task in os.listdir(f"/proc/{os.getpid()}/task"):
        with open(f"/proc/{os.getpid()}/task/{task}/children") as children:
            found |= {int(pid) for pid in children.read().split()}
    return found


def _body(actor: Actor) -> bytes:
    item = new_item(actor, tenant=TENANT, kind="inspection.note", subject={"permit": "HW-1"}, payload={"n": 1},
                    occurred_at="2026-11-23T08:00:00Z")
    return orjson.dumps({"events": [sign_item(actor, item)]})


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_start_spawns_every_worker_before_any_request(keys: tuple[str, KeyRegistry, Actor], workers: int) -> None:
    url, registry, actor = keys
    pool = IntakePool(EventIntake(registry, LocalKeyWrapper(MASTER)), workers=workers, database_url=url,
                      master_key=MASTER)
    try:
        pids = pool.start(timeout=60)
        assert len(set(pids)) == workers, "each worker answered one warm-up task"
        assert set(pids) <= _children()
        assert pool.start() == [], "a second start does nothing"
        submission = asyncio.run(pool.prepare(TENANT, _body(actor)))
        assert [e.kind for e in submission.events] == ["inspection.note"]
        assert set(pids) <= _children(), "the request was served by the warm workers, none spawned for it"
    finally:
        pool.close()


def test_a_worker_that_cannot_start_stops_the_start_with_a_clear_error(keys: tuple[str, KeyRegistry, Actor]) -> None:
    _, registry, _ = keys
    pool = IntakePool(EventIntake(registry, LocalKeyWrapper(MASTER)), workers=2, database_url="nosuchdb://x",
                      master_key=MASTER)
    with pytest.raises(RuntimeError, match=r"intake worker processes did not start: BrokenProcessPool.*"
                                           r"TIEZHENG_INTAKE_WORKERS=0"):
        pool.start(timeout=60)
    pool.close()


def test_in_process_intake_has_nothing_to_start(keys: tuple[str, KeyRegistry, Actor]) -> None:
    url, registry, actor = keys
    pool = IntakePool(EventIntake(registry, LocalKeyWrapper(MASTER)), workers=0, database_url=url, master_key=MASTER)
    assert pool.start() == []
    assert asyncio.run(pool.prepare(TENANT, _body(actor))).events[0].kind == "inspection.note"
    pool.close()
