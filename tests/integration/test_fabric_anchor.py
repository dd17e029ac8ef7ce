"""The ``fabric`` anchor backend through the anchorer against the real Fabric 2.1.1 network: checkpoints of
a real log are anchored with consistency proofs from the last one, the receipt carries the committed block;
a restart finds a transaction the table only had pending, and one the table never recorded (reconcile via
the chaincode); a chain that holds another root for a size stops the backend. Each test uses a fresh log
origin, so a reused network's state does not matter.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from evidence_api.db import migrate
from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import AnchorReceipt, AnchorRequest
from ledger.anchors.book import AnchorBook
from ledger.anchors.fabric import FabricAnchor
from ledger.checkpoint import Checkpoint, SignedCheckpoint
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.fabric import _protos as pb
from ledger.fabric.profile import FabricProfile
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import grow as _grow
from tests.helpers import wait_until
from tests.integration.fabric_cli import PeerCLI, SignedLog, leaves, network_cli, network_json_path

pytestmark = pytest.mark.fabric


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The running network (see ``fabric_cli.network_cli`` for which one)."""
    yield from network_cli(pytestconfig)


@pytest.fixture(scope="module")
def profile(cli: PeerCLI) -> FabricProfile:
    """The network's client profile, as User1 of Org1MSP."""
    return FabricProfile.from_file(network_json_path())


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database (the anchors table under test is the same on PostgreSQL)."""
    url = f"sqlite:///{tmp_path / 'tiezheng.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def log(engine: Engine) -> Iterator[TransparencyLog]:
    """A running log under a fresh origin and key."""
    log = TransparencyLog(engine, origin=f"tiezheng.test/anchor-{uuid.uuid4().hex[:12]}",
                          signer=Signer.from_private_key(SM2PrivateKey.generate()), checkpoint_interval=0.05)
    log.start()
    yield log
    log.close()


def _backend(profile: FabricProfile, log: TransparencyLog, **options: float) -> FabricAnchor:
    return FabricAnchor(profile.client(clock=Clock()), origin=log.origin, log_key_pem=log.signer.public.to_pem(),
                        **options)


@pytest.fixture
def backend(profile: FabricProfile, log: TransparencyLog) -> Iterator[FabricAnchor]:
    """The fabric backend for ``log``, closed afterwards."""
    anchor = _backend(profile, log)
    yield anchor
    anchor.close()


def _anchor(anchorer: Anchorer) -> AnchorReceipt:
    """Run rounds until one yields a receipt (a round waits a moment for the commit; Raft may be electing)."""
    found: list[AnchorReceipt] = wait_until(anchorer.run_once, timeout=120, interval=0.2)
    return found[0]


def _latest(backend: FabricAnchor, origin: str) -> dict[str, object]:
    latest: dict[str, object] = json.loads(backend.client.evaluate("GetLatest", origin))
    return latest


def test_anchorer_anchors_checkpoints_with_proofs_and_keeps_the_block(log: TransparencyLog,
                                                                       backend: FabricAnchor) -> None:
    anchorer = Anchorer(log, [backend])
    first = _grow(log, 3)

    receipt = _anchor(anchorer)

    assert (receipt.backend, receipt.tree_size, receipt.root_hash) == ("fabric", 3, first.checkpoint.root_hash)
    block = pb.common.Block.FromString(base64.b64decode(receipt.body["block"]))
    assert int(block.header.number) == receipt.body["block_number"] > 0
    assert receipt.body["validation_code"] == "VALID" and receipt.body["tx_id"] == receipt.tx_id
    assert bytes(block.metadata.metadata[2])[receipt.body["tx_index"]] == 0  # TRANSACTIONS_FILTER: VALID
    second = _grow(log, 4)
    later = _anchor(anchorer)
    assert (later.tree_size, later.root_hash) == (7, second.checkpoint.root_hash)
    latest = _latest(backend, log.origin)
    assert (latest["tree_size"], latest["previous_tree_size"], latest["tx_id"]) == (7, 3, later.tx_id)
    assert [r["status"] for r in anchorer.book.rows("fabric")] == ["anchored", "anchored"]
    assert log.anchored_sizes() == {"fabric": 7}


def test_restart_completes_a_transaction_the_table_had_pending(log: TransparencyLog, profile: FabricProfile,
                                                               backend: FabricAnchor) -> None:
    checkpoint = _grow(log, 5)
    book = AnchorBook(log.engine, clock=Clock())
    pending = backend.prepare(AnchorRequest(checkpoint, None, []))
    book.add_pending(pending)
    backend.submit(pending)  # ... and the process dies before reading the status
    restarted = _backend(profile, log)
    try:
        receipt = _anchor(Anchorer(log, [restarted]))
    finally:
        restarted.close()

    assert (receipt.tx_id, receipt.tree_size) == (pending.tx_id, 5)
    assert [(r["tx_id"], r["status"]) for r in book.rows("fabric")] == [(pending.tx_id, "anchored")]


def test_reconcile_records_what_the_chaincode_holds_beyond_the_table(log: TransparencyLog,
                                                                      backend: FabricAnchor) -> None:
    checkpoint = _grow(log, 4)
    lost = backend.prepare(AnchorRequest(checkpoint, None, []))
    backend.submit(lost)  # committed, but the pending row was never written (a crash in between)
    wait_until(lambda: backend.status(lost), timeout=60)
    _grow(log, 2)
    anchorer = Anchorer(log, [backend])

    receipt = _anchor(anchorer)

    assert receipt.tree_size == 6
    rows = anchorer.book.rows("fabric")
    assert [(r["tree_size"], r["status"]) for r in rows] == [(4, "anchored"), (6, "anchored")]
    assert rows[0]["tx_id"] == lost.tx_id
    assert _latest(backend, log.origin)["previous_tree_size"] == 4


def test_a_chain_holding_another_root_stops_the_backend(log: TransparencyLog, backend: FabricAnchor,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    forged = _forged_checkpoint(log, 3)
    forged_pending = backend.prepare(AnchorRequest(forged, None, []))
    backend.submit(forged_pending)
    wait_until(lambda: backend.status(forged_pending), timeout=60)
    _grow(log, 3)
    anchorer = Anchorer(log, [backend])

    assert anchorer.run_once() == []

    assert "differs from the log's: the log was rewritten; refusing to anchor" in caplog.text
    assert anchorer.book.rows("fabric") == []


def _forged_checkpoint(log: TransparencyLog, size: int) -> SignedCheckpoint:
    """A checkpoint of ``log``'s origin and key at ``size`` over other leaves (what a rewritten log signs)."""
    forged = SignedLog(log.origin, SM2PrivateKey.generate(), leaves(size, tag="forged"))
    return Checkpoint(log.origin, size, forged.checkpoint(size)[1]).sign(log.signer)
