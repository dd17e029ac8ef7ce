"""The ``fabric`` anchor backend: checkpoints go to the checkpoint chaincode on a Fabric channel (the
business chain), which verifies each one's SM3 consistency proof from the latest it holds and refuses a fork
or a rewrite. Its endorsement policy needs both organisations, so neither can write an anchor alone.

Staged like every backend (``ledger.anchors.base``):

1. ``prepare`` builds and signs the ``AnchorCheckpoint`` proposal, nothing sent: the Fabric transaction id
   (SHA-256 of nonce and creator) is known at once and the signed proposal is what the pending row keeps.
2. ``submit`` has it endorsed by one peer of each organisation, opens a filtered block stream, and
   broadcasts the envelope (the next orderer on refusal). Sent again after a restart, a proposal the
   channel already holds is refused by the peers as a duplicate, which ``submit`` takes as done.
   An origin whose log key is not yet registered on the chaincode is registered first.
3. ``status`` waits a moment on that stream (else asks a peer's ledger by tx id), then fetches the whole
   block through ``Deliver`` and returns the receipt: tx id, block number, the transaction's index and
   validation code, and the raw block (base64) that an offline verifier checks against the orgs' CAs.
4. ``recover`` reads what the chaincode holds beyond a tree size (``GetLatest``/``GetHistory``), so the
   anchors table is reconciled with the chain after a crash.

Fabric being down is normal: every transport failure is an ``AnchorSubmitError`` or ``AnchorStatusError``
the anchorer retries with backoff. A chaincode refusal (fork, repeat, smaller, inconsistent) and a
transaction committed invalid are final (``AnchorCommitError``); the anchorer reconciles and anchors anew.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import Any

from ledger.anchors.base import AnchorReceipt, AnchorRequest, PendingAnchor
from ledger.errors import AnchorCommitError, AnchorStatusError, AnchorSubmitError
from ledger.fabric import _protos as pb
from ledger.fabric.client import FabricClient
from ledger.fabric.deliver import CommitWatch, locate, read_block
from ledger.fabric.errors import FabricCommitError, FabricError
from ledger.fabric.messages import Proposal

__all__ = ["FabricAnchor"]

_log = logging.getLogger(__name__)
# Chaincode refusals (the text its errors start with, chaincode/checkpoints/contract.go) that no retry cures.
_FINAL = ("checkpoint already anchored", "fork", "tree size smaller", "checkpoint inconsistent",
          "malformed consistency proof", "malformed checkpoint", "bad checkpoint signature")
_NO_KEY, _DUPLICATE = "no log key registered", "duplicate transaction"


class FabricAnchor:
    """``Anchor`` on the chaincode reached by ``client``, for the log ``origin`` whose SM2 public key
    ``log_key_pem`` the chaincode checks checkpoints with. ``status_wait`` bounds how long one ``status``
    call waits for the commit; a broadcast not seen committed after ``resend_after`` seconds is sent again."""

    name = "fabric"

    def __init__(self, client: FabricClient, *, origin: str, log_key_pem: str, status_wait: float = 2.0,
                 resend_after: float = 30.0) -> None:
        self.client, self.origin, self._log_key_pem = client, origin, log_key_pem
        self._status_wait, self._resend_after = status_wait, resend_after
        self._watches: dict[str, tuple[CommitWatch, float]] = {}

    def close(self) -> None:
        """Stop watching and close the client's connections."""
        for watch, _ in self._watches.values():
            watch.cancel()
        self._watches.clear()
        self.client.close()

    # -- stages ----------------------------------------------------------------------------------
    def prepare(self, request: AnchorRequest) -> PendingAnchor:
        """The signed ``AnchorCheckpoint`` proposal for ``request`` (nothing is sent)."""
        cp = request.checkpoint.checkpoint
        proof = json.dumps([h.hex() for h in request.consistency_proof])
        prop = self.client.propose("AnchorCheckpoint", request.checkpoint.text, proof)
        body = {"proposal": base64.b64encode(prop.signed_bytes()).decode(),
                "previous_tree_size": request.previous_tree_size}
        return PendingAnchor(self.name, prop.tx_id, cp.tree_size, cp.root_hash, body)

    def submit(self, pending: PendingAnchor) -> None:
        """Endorse at one peer per org and broadcast; a duplicate (already on the channel) is a no-op."""
        prop = Proposal.from_signed_bytes(base64.b64decode(pending.body["proposal"]))
        responses = self._endorse(prop, pending)
        if responses is None:
            return
        try:
            watch = self.client.watch(prop.tx_id)
        except FabricError as exc:
            raise AnchorSubmitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
        try:
            self.client.broadcast(self.client.envelope(prop, responses), prop.tx_id)
        except FabricError as exc:
            watch.cancel()
            raise AnchorSubmitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
        self._forget(pending.tx_id)
        self._watches[pending.tx_id] = (watch, time.monotonic())

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        """The receipt once committed VALID; None while in flight (waits up to ``status_wait`` s)."""
        block_number = self._committed_block(pending)
        if block_number is None:
            return None
        return self._receipt_from_block(self._fetch_block(block_number, pending.tx_id), pending.tx_id)

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        """Receipts of the checkpoints of ``origin`` larger than ``after_tree_size`` the chaincode holds."""
        latest = self._evaluate("GetLatest", self.origin)
        if latest is None or (after_tree_size is not None and latest["tree_size"] <= after_tree_size):
            return []
        history = self._evaluate("GetHistory", self.origin) or []
        newer = [h for h in history if after_tree_size is None or h["tree_size"] > after_tree_size]
        return [self._receipt_from_block(self._block_of(h["tx_id"]), h["tx_id"]) for h in newer]

    # -- submit ----------------------------------------------------------------------------------
    def _endorse(self, prop: Proposal, pending: PendingAnchor) -> list[Any] | None:
        """The endorsements, or None when the channel already holds the transaction."""
        registered = False
        for attempt in range(3):
            try:
                return self.client.endorse(prop)
            except FabricError as exc:
                details = " ".join(getattr(exc, "details", [])).lower()
                if _DUPLICATE in details:
                    _log.info("fabric already holds transaction %s (tree size %d)", pending.tx_id, pending.tree_size)
                    return None
                if _NO_KEY in details and attempt < 2:
                    # register once; a peer that has not committed the registration yet is asked again
                    if not registered:
                        self._register_key(pending.tx_id)
                        registered = True
                    continue
                if any(reason in details for reason in _FINAL):
                    raise AnchorCommitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
                raise AnchorSubmitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
        raise AnchorSubmitError("the log key was registered but the chaincode still has none",
                                backend=self.name, tx_id=pending.tx_id)

    def _register_key(self, tx_id: str) -> None:
        """Register the log's key for ``origin`` on the chaincode (once per origin, endorsed by both orgs)."""
        _log.warning("registering the key of log %s on the fabric chaincode %s", self.origin, self.client.chaincode)
        try:
            block = self.client.submit("RegisterLogKey", self.origin, self._log_key_pem).block_number
            for peer in self._peers():  # every endorser holds the registration before it is asked to use it
                self.client.block(block, peer=peer)
        except FabricError as exc:
            if "the same key" not in " ".join(getattr(exc, "details", [])):
                raise AnchorSubmitError(f"registering the log key failed: {exc}", backend=self.name,
                                        tx_id=tx_id) from exc

    # -- status ----------------------------------------------------------------------------------
    def _committed_block(self, pending: PendingAnchor) -> int | None:
        """The block that holds ``pending`` VALID, None while in flight; raises when it never will."""
        watched = self._watches.get(pending.tx_id)
        if watched is not None:
            watch, sent_at = watched
            try:
                number = watch.result(self._status_wait)
            except FabricCommitError as exc:
                self._forget(pending.tx_id)
                raise AnchorCommitError(str(exc), backend=self.name, tx_id=pending.tx_id) from exc
            except FabricError:
                self._forget(pending.tx_id)  # the stream failed: ask the ledgers below
            else:
                if number is not None or time.monotonic() - sent_at < self._resend_after:
                    return number
                self._forget(pending.tx_id)
                raise AnchorStatusError(f"not committed {self._resend_after:.0f} s after it was broadcast; "
                                        "sending it again", backend=self.name, tx_id=pending.tx_id)
        found = self._find(pending.tx_id)
        if found is None:
            raise AnchorStatusError("no peer's ledger holds it and it is not being watched; sending it again",
                                    backend=self.name, tx_id=pending.tx_id)
        return found

    def _find(self, tx_id: str) -> int | None:
        """The number of the block holding ``tx_id`` VALID according to the first peer that answers; None if
        that peer knows no such transaction; ``AnchorCommitError`` if it holds it invalid."""
        raw = self._block_of(tx_id, missing_ok=True)
        located = locate(read_block(raw), tx_id) if raw else None
        if located is None:
            return None
        if located.validation_code != "VALID":
            raise AnchorCommitError(f"committed invalid in block {located.block_number}: {located.validation_code}",
                                    backend=self.name, tx_id=tx_id)
        return located.block_number

    def _forget(self, tx_id: str) -> None:
        watched = self._watches.pop(tx_id, None)
        if watched is not None:
            watched[0].cancel()

    # -- reading the ledger ----------------------------------------------------------------------
    def _peers(self) -> range:
        return range(len(self.client.endorsers))

    def _fetch_block(self, number: int, tx_id: str) -> bytes:
        errors = []
        for peer in self._peers():
            try:
                return self.client.block(number, peer=peer)
            except FabricError as exc:
                errors.append(str(exc))
        raise AnchorStatusError(f"no peer served block {number}: " + "; ".join(errors), backend=self.name,
                                tx_id=tx_id)

    def _block_of(self, tx_id: str, *, missing_ok: bool = False) -> bytes:
        errors = []
        for peer in self._peers():
            try:
                block = self.client.block_by_tx_id(tx_id, peer=peer)
            except FabricError as exc:
                errors.append(str(exc))
                continue
            if block is not None:
                return block
            if missing_ok:
                return b""
            errors.append(f"{self.client.endorsers[peer].address}: no such transaction")
        raise AnchorStatusError("no peer's ledger answered: " + "; ".join(errors), backend=self.name, tx_id=tx_id)

    def _evaluate(self, function: str, *args: str) -> Any:
        """The chaincode's JSON answer from the first peer that answers; None for "checkpoint not found"."""
        errors = []
        for peer in self._peers():
            try:
                return json.loads(self.client.evaluate(function, *args, peer=peer))
            except FabricError as exc:
                if "checkpoint not found" in " ".join(getattr(exc, "details", [])):
                    return None
                errors.append(str(exc))
        raise AnchorStatusError(f"{function} failed on every peer: " + "; ".join(errors), backend=self.name,
                                tx_id=None)

    def _receipt_from_block(self, raw: bytes, tx_id: str) -> AnchorReceipt:
        block = read_block(raw)
        located = locate(block, tx_id)
        if located is None:
            raise AnchorStatusError(f"block {block.header.number} does not hold the transaction",
                                    backend=self.name, tx_id=tx_id)
        if located.validation_code != "VALID":
            raise AnchorCommitError(f"committed invalid in block {located.block_number}: {located.validation_code}",
                                    backend=self.name, tx_id=tx_id)
        stored = _stored_checkpoint(block, located.tx_index)
        body = {"tx_id": tx_id, "channel": self.client.channel, "chaincode": self.client.chaincode,
                "block_number": located.block_number, "tx_index": located.tx_index,
                "validation_code": located.validation_code, "block": base64.b64encode(raw).decode()}
        return AnchorReceipt(self.name, int(stored["tree_size"]), bytes.fromhex(stored["root_hash"]), tx_id, body)


def _stored_checkpoint(block: Any, tx_index: int) -> dict[str, Any]:
    """The checkpoint record the transaction's chaincode response returned (what it wrote)."""
    payload = pb.common.Payload.FromString(pb.common.Envelope.FromString(block.data.data[tx_index]).payload)
    tx = pb.transaction.Transaction.FromString(payload.data)
    action = pb.transaction.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    response = pb.proposal_response.ProposalResponsePayload.FromString(action.action.proposal_response_payload)
    chaincode_action = pb.proposal.ChaincodeAction.FromString(response.extension)
    record: dict[str, Any] = json.loads(chaincode_action.response.payload)
    return record
