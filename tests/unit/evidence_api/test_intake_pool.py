"""``IntakePool.start``: every worker process is spawned and warm before the service takes a request, and a
worker that cannot start stops the service's start with an error that says so."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from evidence_api.db import migrate
from evidence_api.services.events import EventIntake, IntakePool
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor, new_item, sign_item
from ledger.database import make_engine
from ledger.keystore import LocalKeyWrapper
from ledger.sm import Signer, SM2PrivateKey

TENANT = "acme"
MASTER = bytes(range(32))


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, KeyRegistry, Actor]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('pool')) / 'keys.db'}"
    migrate(url)
    engine = make_engine(url)
    registry = KeyRegistry(engine)
    actor = Actor("device", "gw-1", "gw-1#1", Signer.from_private_key(SM2PrivateKey.generate()))
    registry.register(TENANT, actor.key_id, actor.type, actor.id, actor.signer.public.to_pem())
    yield url, registry, actor
    engine.dispose()


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
