"""The ``evm`` anchor backend through the anchorer, on a real anvil: pending → mined → receipt, recovery
after a restart (persisted transaction, crash between mining and the table), nonces shared with another
writer, a dropped transaction, and the node down then up (backlog, then catch-up in order)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import AnchorReceipt, AnchorRequest
from ledger.anchors.evm import EvmAnchor
from ledger.evm import Artifact, OperatorKey, Registry, Transactor, origin_hash, tenant_hash
from ledger.evm.digests import DigestRecorder
from ledger.evm.registry import connect
from ledger.log import TransparencyLog
from tests.evm_support import AnvilNode, funded_operator, mine, set_automine
from tests.helpers import grow as _grow
from tests.helpers import wait_until

pytestmark = pytest.mark.evm

ORIGIN = "test.tiezheng/log"  # the ``log`` fixture's origin


def _next_receipt(anchorer: Anchorer) -> AnchorReceipt:
    """The receipt of the next rounds: anvil mines on arrival, but under load its receipt may come a moment
    after the send returns, so rounds repeat (each one only reads the status again) until it is there."""
    found: list[AnchorReceipt] = wait_until(lambda: anchorer.run_once() or None)
    assert len(found) == 1, found
    return found[0]


def _backend(registry: Registry, operator: OperatorKey) -> EvmAnchor:
    return EvmAnchor(Transactor(registry, operator), origin=ORIGIN)


@pytest.fixture
def manual_mining(evm_url: str) -> Any:
    set_automine(evm_url, False)
    yield lambda: mine(evm_url)
    set_automine(evm_url, True)


def test_evm_pending_then_mined_then_receipt(log: TransparencyLog, registry: Registry, operator: OperatorKey,
                                             manual_mining: Any) -> None:
    checkpoint = _grow(log, 3)
    anchorer = Anchorer(log, [_backend(registry, operator)])

    assert anchorer.run_once() == []  # sent, not mined
    (row,) = anchorer.book.rows("evm")
    assert row["status"] == "pending" and row["tree_size"] == 3 and row["tx_id"].startswith("0x")
    manual_mining()
    receipt = _next_receipt(anchorer)

    assert (receipt.backend, receipt.tree_size, receipt.root_hash) == ("evm", 3, checkpoint.checkpoint.root_hash)
    assert receipt.tx_id == row["tx_id"]
    body = receipt.body
    assert body["tx_hash"] == row["tx_id"] and body["origin_hash"] == origin_hash(ORIGIN).hex()
    assert body["contract"] == registry.contract.lower() and body["from"] == operator.address.lower()
    block = connect(registry.rpc_url).eth.get_block(body["block_number"])
    assert body["block_hash"] == "0x" + bytes(block["hash"]).hex()
    assert body["block_header"]["number"] == hex(body["block_number"])
    assert body["log"]["data"] == "0x" + (3).to_bytes(32, "big").hex() + checkpoint.checkpoint.root_hash.hex()
    assert len(body["receipts"]) == 1 and body["receipts"][0]["status"] == "0x1"
    assert anchorer.book.rows("evm")[0]["status"] == "anchored"
    assert registry.latest_checkpoint(origin_hash(ORIGIN)) == (3, checkpoint.checkpoint.root_hash)
    assert log.anchor_receipts_covering(3) == [receipt.to_json()]


def test_evm_restart_sends_the_persisted_transaction_unchanged(log: TransparencyLog, registry: Registry,
                                                               operator: OperatorKey) -> None:
    checkpoint = _grow(log, 2)
    first = Anchorer(log, [_backend(registry, operator)])
    previous = None
    pending = first._workers[0].backend.prepare(AnchorRequest(checkpoint, previous, []))
    first.book.add_pending(pending)  # the process dies here, before submit

    again = Anchorer(log, [_backend(registry, operator)])  # a new process: fresh nonce state
    receipt = _next_receipt(again)

    assert receipt.tx_id == pending.tx_id  # the very same signed transaction, same nonce
    assert [r["status"] for r in again.book.rows("evm")] == ["anchored"]


def test_evm_recover_records_what_the_chain_holds_after_a_crash(log: TransparencyLog, registry: Registry,
                                                                 operator: OperatorKey) -> None:
    checkpoint = _grow(log, 4)
    backend = _backend(registry, operator)
    pending = backend.prepare(AnchorRequest(checkpoint, None, []))
    backend.submit(pending)  # mined, but the process dies before the anchors table hears of it

    anchorer = Anchorer(log, [_backend(registry, operator)])
    assert anchorer.run_once() == []  # reconciled; nothing newer to anchor

    assert anchorer.book.rows("evm") == [{"tx_id": pending.tx_id, "tree_size": 4, "status": "anchored", "error": None}]
    assert anchorer.book.last_anchored("evm").body["block_header"]  # type: ignore[union-attr]


def test_evm_nonce_shared_with_another_writer_of_the_account(log: TransparencyLog, registry: Registry,
                                                             operator: OperatorKey) -> None:
    anchorer = Anchorer(log, [_backend(registry, operator)])
    _grow(log, 2)
    _next_receipt(anchorer)
    other = DigestRecorder(Transactor(registry, operator))  # another process with the same key
    other.record_digest(tenant_hash("acme-chem"), __import__("datetime").date(2026, 12, 1), b"\x55" * 32, wait=10)
    _grow(log, 2)

    receipt = _next_receipt(anchorer)

    assert receipt.tree_size == 4
    assert [r["status"] for r in anchorer.book.rows("evm")] == ["anchored", "anchored"]


def test_evm_dropped_transaction_is_failed_then_anchored_anew(log: TransparencyLog, registry: Registry,
                                                               operator: OperatorKey, manual_mining: Any) -> None:
    _grow(log, 3)
    anchorer = Anchorer(log, [_backend(registry, operator)])
    assert anchorer.run_once() == []
    (row,) = anchorer.book.rows("evm")
    connect(registry.rpc_url).provider.make_request("anvil_dropTransaction", [row["tx_id"]])  # type: ignore[arg-type]

    assert anchorer.run_once() == []  # status: dropped → failed
    assert anchorer.book.rows("evm")[0]["status"] == "failed"
    assert "dropped" in anchorer.book.rows("evm")[0]["error"]
    assert anchorer.run_once() == []  # prepared anew, same nonce, sent
    manual_mining()
    receipt = _next_receipt(anchorer)
    assert receipt.tree_size == 3 and [r["status"] for r in anchorer.book.rows("evm")] == ["failed", "anchored"]


def test_evm_node_down_then_up_catches_up_in_order(log: TransparencyLog, tmp_path: Path,
                                                   registry_artifact: Artifact) -> None:
    node = AnvilNode(tmp_path / "anvil").up()
    try:
        key = funded_operator(node.url)
        registry, _ = Registry.deploy(node.url, key, bytecode=registry_artifact.bytecode)
        anchorer = Anchorer(log, [_backend(registry, key)])
        _grow(log, 2)
        first = _next_receipt(anchorer)
        node.down()

        for _ in range(3):  # intake goes on; every anchoring round fails and is retried
            _grow(log, 2)
            assert anchorer.run_once() == []
        assert [r["status"] for r in anchorer.book.rows("evm")] == ["anchored"]
        assert anchorer._workers[0]._failures == 3

        node.up()  # same state: the chain kept the first anchor
        caught_up = _next_receipt(anchorer)
    finally:
        node.down()
    assert (first.tree_size, caught_up.tree_size) == (2, 8)
    assert caught_up.root_hash == log.root_at(8)
    assert [(r["tree_size"], r["status"]) for r in anchorer.book.rows("evm")] == [(2, "anchored"), (8, "anchored")]
    assert caught_up.body["block_number"] > first.body["block_number"]


def test_evm_evidence_without_eth_get_block_receipts(registry: Registry, operator: OperatorKey,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A node that lacks eth_getBlockReceipts (older clients) gives the same evidence, receipt by receipt."""
    from web3.exceptions import Web3RPCError

    transactor = Transactor(registry, operator)
    tx = registry.sign_anchor(operator, origin_hash(ORIGIN), 5, b"\x11" * 32, nonce=transactor.next_nonce())
    transactor.send(tx)
    # anvil mines on arrival, but its receipt may be served a moment after the send returns
    receipt: dict[str, Any] = wait_until(lambda: transactor.outcome(tx))
    full = registry.evidence(receipt, 0)

    def unsupported(block: Any) -> Any:
        raise Web3RPCError("the method eth_getBlockReceipts does not exist/is not available")

    monkeypatch.setattr(registry.w3.eth, "get_block_receipts", unsupported)
    assert registry.evidence(receipt, 0) == full
