"""Fabric faults during sustained intake, for real: one orderer stopped (anchors keep committing), every
orderer stopped for a while (a backlog, then catch-up), one peer stopped (its org cannot endorse, anchoring
waits, then catches up). Afterwards every checkpoint cut is covered by an anchor, the anchors are in order
and each is consistent with the log and with the one before (the chaincode checked the proofs), and no
acknowledged event is lost.

These tests stop and restart processes of the network they are given, with that network's own scripts and
settings (its ``fabric.env``). They hold the cross-session lock of ``fabric_cli`` for their whole duration
and restore the network (``up.sh``, a Raft leader, both peers at the same height) even when they fail.
Outages last seconds.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import pytest
from sqlalchemy import Engine

from evidence_api.db import migrate
from ledger.anchors.anchorer import Anchorer
from ledger.anchors.fabric import FabricAnchor
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.fabric.profile import FabricProfile
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, signed_item, submission, wait_until
from tests.integration.fabric_cli import NetworkControl, network_cli, network_json_path
from verifier.merkle import verify_consistency

pytestmark = [pytest.mark.fabric, pytest.mark.slow]
OUTAGE = 4.0  # seconds a fault lasts


@pytest.fixture(scope="module")
def control(pytestconfig: pytest.Config) -> Iterator[NetworkControl]:
    """The network under the cross-session lock, restored after the module whatever happened."""
    network = network_cli(pytestconfig)
    try:
        with NetworkControl(next(network).network).locked() as control:
            yield control
    finally:
        network.close()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database."""
    url = f"sqlite:///{tmp_path / 'tiezheng.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


class Intake:
    """Sustained intake on a thread: a batch of events every 50 ms; records every acknowledged event and
    every distinct checkpoint it saw cut."""

    def __init__(self, log: TransparencyLog) -> None:
        self.log, self.actor = log, make_actor()
        self.acknowledged: list[str] = []
        self.checkpoints: dict[int, bytes] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-intake", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        n = 0
        while not self._stop.wait(0.05):
            items = [signed_item(self.actor, payload={"n": n + i}) for i in range(5)]
            n += 5
            self.acknowledged += [r.event_id for r in self.log.submit(submission(*items))]
            latest = self.log.latest_checkpoint()
            if latest is not None:
                self.checkpoints[latest.checkpoint.tree_size] = latest.checkpoint.root_hash


@pytest.fixture
def setup(control: NetworkControl, engine: Engine) -> Iterator[tuple[TransparencyLog, Anchorer, FabricAnchor]]:
    """A log under a fresh origin, anchored to Fabric by a running anchorer (short interval and backoff)."""
    log = TransparencyLog(engine, origin=f"tiezheng.test/faults-{uuid.uuid4().hex[:12]}",
                          signer=Signer.from_private_key(SM2PrivateKey.generate()), checkpoint_interval=0.2)
    log.start()
    profile = FabricProfile.from_file(network_json_path())
    backend = FabricAnchor(profile.client(clock=Clock(), endorse_timeout=5.0, submit_timeout=5.0),
                           origin=log.origin, log_key_pem=log.signer.public.to_pem(), status_wait=1.0,
                           resend_after=15.0)
    anchorer = Anchorer(log, [backend], interval=0.2, max_backoff=2.0)
    anchorer.start()
    try:
        yield log, anchorer, backend
    finally:
        anchorer.close()
        backend.close()
        log.close()


def _anchored(log: TransparencyLog) -> int:
    return log.anchored_sizes().get("fabric", 0)


def _anchor_count(anchorer: Anchorer) -> int:
    return sum(r["status"] == "anchored" for r in anchorer.book.rows("fabric"))


def _caught_up(log: TransparencyLog) -> bool:
    return _anchored(log) == log.tree_size


def _check_afterwards(log: TransparencyLog, anchorer: Anchorer, backend: FabricAnchor, intake: Intake) -> None:
    """Every cut checkpoint covered and consistent, anchors in order and chained on the chain, nothing lost."""
    wait_until(lambda: _caught_up(log), timeout=120, interval=0.2)
    rows = [r for r in anchorer.book.rows("fabric") if r["status"] == "anchored"]
    sizes = [r["tree_size"] for r in rows]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)
    for size in sizes:
        assert log.checkpoint_at(size) is not None
    history = json.loads(backend.client.evaluate("GetHistory", log.origin))
    assert [h["tree_size"] for h in history] == sizes
    assert [h["previous_tree_size"] for h in history] == [0, *sizes[:-1]]
    assert [h["root_hash"] for h in history] == [log.root_at(s).hex() for s in sizes]
    for size, root in intake.checkpoints.items():
        cover = next(s for s in sizes if s >= size)
        verify_consistency(size, cover, root, log.root_at(cover), tuple(log.consistency_proof(size, cover)))
    assert log.tree_size == len(intake.acknowledged)
    assert all(log.event(TENANT, event_id) is not None for event_id in intake.acknowledged)


def test_one_orderer_stopped_anchors_keep_committing(control: NetworkControl, setup: Any) -> None:
    log, anchorer, backend = setup
    with Intake(log) as intake:
        wait_until(lambda: _anchored(log) > 0, timeout=120, interval=0.2)
        control.stop("orderer0")  # the first orderer the client tries: every broadcast fails over
        try:
            before = _anchored(log)
            wait_until(lambda: _anchored(log) > before + 20, timeout=120, interval=0.2)
        finally:
            control.restore()
    _check_afterwards(log, anchorer, backend, intake)


def test_all_orderers_stopped_backlog_then_catch_up(control: NetworkControl, setup: Any) -> None:
    log, anchorer, backend = setup
    with Intake(log) as intake:
        wait_until(lambda: _anchored(log) > 0, timeout=120, interval=0.2)
        control.stop("orderer0", "orderer1", "orderer2")
        try:
            done, acknowledged = _anchor_count(anchorer), len(intake.acknowledged)
            threading.Event().wait(OUTAGE)  # the outage itself: intake goes on, anchoring cannot
            assert len(intake.acknowledged) > acknowledged  # intake never waits for Fabric
            assert _anchor_count(anchorer) <= done + 1  # at most the one already in a block when they stopped
            stalled = _anchored(log)
            assert log.tree_size > stalled  # a backlog
        finally:
            control.restore()
        wait_until(lambda: _anchored(log) > stalled, timeout=120, interval=0.2)
    _check_afterwards(log, anchorer, backend, intake)


def test_one_peer_stopped_anchoring_waits_then_catches_up(control: NetworkControl, setup: Any) -> None:
    log, anchorer, backend = setup
    with Intake(log) as intake:
        wait_until(lambda: _anchored(log) > 0, timeout=120, interval=0.2)
        control.stop("peer2")
        try:
            done = _anchor_count(anchorer)
            threading.Event().wait(OUTAGE)  # the outage itself: Org2MSP cannot endorse
            assert _anchor_count(anchorer) <= done + 1  # at most the one endorsed before the stop
            stalled = _anchored(log)
            assert log.tree_size > stalled  # a backlog
        finally:
            control.restore()
        wait_until(lambda: _anchored(log) > stalled, timeout=120, interval=0.2)
    _check_afterwards(log, anchorer, backend, intake)
