"""The ``evm`` anchor backend: checkpoints on the regulator chain's registry contract (``ledger.evm``).

Staged like every backend (``ledger.anchors.base``):

1. ``prepare`` signs ``anchorCheckpoint(SM3(origin), size, root)`` locally with the operator key and the
   next nonce (``Transactor``); the transaction hash is the pending anchor's ``tx_id``, the signed bytes
   its body, so after a restart the very same transaction is sent again.
2. ``submit`` sends it raw (a node that already has it is fine).
3. ``status``: None while it is not mined (or not confirmed); the receipt once it is — tx hash, block
   number and hash, log index, the log, the block header and the block's receipts, what
   ``verifier.evm`` checks offline (docs/formats.md "EVM receipt"). A reverted, superseded or dropped
   transaction is ``AnchorCommitError``; the anchorer then reconciles and anchors anew.
4. ``recover`` reads the contract's ``CheckpointAnchored`` logs of this origin above a tree size.

The node being down is normal: every stage raises a retryable error and the anchorer backs off, then
anchors the newest checkpoint (which the contract accepts as long as it is larger than the last).
"""

from __future__ import annotations

from typing import Any

from ledger.anchors.base import AnchorReceipt, AnchorRequest, PendingAnchor
from ledger.errors import (
    AnchorCommitError,
    AnchorStatusError,
    AnchorSubmitError,
    EvmTransactionError,
    EvmUnavailable,
)
from ledger.evm.abi import CHECKPOINT_EVENT, origin_hash
from ledger.evm.registry import SignedTx, event_topic
from ledger.evm.transactor import Transactor

__all__ = ["EvmAnchor"]

_TOPIC = event_topic(CHECKPOINT_EVENT)


class EvmAnchor:
    """``Anchor`` on the registry behind ``transactor``, for the log ``origin``; ``from_block`` is the
    registry's deployment block, where ``recover`` starts reading logs."""

    name = "evm"

    def __init__(self, transactor: Transactor, *, origin: str, from_block: int = 0) -> None:
        self.transactor, self.registry = transactor, transactor.registry
        self.origin, self.origin_hash, self.from_block = origin, origin_hash(origin), from_block

    def prepare(self, request: AnchorRequest) -> PendingAnchor:
        """Sign the write of ``request.checkpoint``; ``AnchorSubmitError`` if the node cannot be read."""
        cp = request.checkpoint.checkpoint
        if cp.origin != self.origin:
            raise AnchorSubmitError(f"checkpoint of log {cp.origin!r}, but this backend anchors {self.origin!r}",
                                    backend=self.name, tx_id=None)
        try:
            nonce = self.transactor.next_nonce()
            tx = self.registry.sign_anchor(self.transactor.key, self.origin_hash, cp.tree_size, cp.root_hash,
                                           nonce=nonce, fee_bump=self.transactor.fee_bump(nonce))
        except (EvmUnavailable, EvmTransactionError) as exc:
            raise AnchorSubmitError(str(exc), backend=self.name, tx_id=None) from exc
        body = {"tx": tx.to_json(), "origin": self.origin, "previous_tree_size": request.previous_tree_size}
        return PendingAnchor(self.name, tx.tx_hash, cp.tree_size, cp.root_hash, body)

    def submit(self, pending: PendingAnchor) -> None:
        """Send the signed transaction; ``AnchorSubmitError`` (node down, retried) or ``AnchorCommitError``
        (refused for good, e.g. its nonce was taken)."""
        try:
            self.transactor.send(SignedTx.from_json(pending.body["tx"]))
        except EvmUnavailable as exc:
            raise AnchorSubmitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
        except EvmTransactionError as exc:
            raise AnchorCommitError(exc.reason, backend=self.name, tx_id=pending.tx_id) from exc

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        """The receipt once mined and confirmed, None before; ``AnchorStatusError`` (node down) or
        ``AnchorCommitError`` (reverted with the contract's reason, superseded or dropped)."""
        try:
            receipt = self.transactor.outcome(SignedTx.from_json(pending.body["tx"]))
            return None if receipt is None else self._receipt(receipt)
        except EvmUnavailable as exc:
            raise AnchorStatusError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
        except EvmTransactionError as exc:
            raise AnchorCommitError(exc.reason, backend=self.name, tx_id=pending.tx_id) from exc

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        """Receipts of this origin's checkpoints on chain larger than ``after_tree_size``, by size."""
        try:
            size, _ = self.registry.latest_checkpoint(self.origin_hash)
            if size <= (after_tree_size or 0):
                return []
            logs = self.registry.logs(CHECKPOINT_EVENT, self.origin_hash, from_block=self.from_block)
            receipts = [self._receipt(r) for r in self._receipts_of(logs, after_tree_size or 0)]
        except EvmUnavailable as exc:
            raise AnchorStatusError(str(exc), backend=self.name, tx_id=None) from exc
        return sorted(receipts, key=lambda r: r.tree_size)

    def _receipts_of(self, logs: list[dict[str, Any]], above: int) -> list[dict[str, Any]]:
        wanted = {_hex(lg["transactionHash"]) for lg in logs if _decode(lg)[0] > above}
        found = [self.registry.receipt(tx_hash) for tx_hash in sorted(wanted)]
        return [r for r in found if r is not None]

    def _receipt(self, receipt: dict[str, Any]) -> AnchorReceipt:
        log = self._log_of(receipt)
        size, root = _decode(log)
        body = {"origin": self.origin, "origin_hash": self.origin_hash.hex(),
                **self.registry.evidence(receipt, int(log["logIndex"]))}
        return AnchorReceipt(self.name, size, root, _hex(receipt["transactionHash"]), body)

    def _log_of(self, receipt: dict[str, Any]) -> dict[str, Any]:
        for log in receipt["logs"]:
            topics = [bytes(t) for t in log["topics"]]
            if (str(log["address"]).lower() == self.registry.contract.lower() and len(topics) == 2
                    and topics[0] == _TOPIC and topics[1] == self.origin_hash):
                return dict(log)
        raise AnchorCommitError("the mined transaction has no CheckpointAnchored log of this origin",
                                backend=self.name, tx_id=_hex(receipt["transactionHash"]))


def _decode(log: dict[str, Any]) -> tuple[int, bytes]:
    """(size, root) from a ``CheckpointAnchored`` log's data: two 32-byte ABI words."""
    data = bytes(log["data"])
    return int.from_bytes(data[:32], "big"), data[32:64]


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()
