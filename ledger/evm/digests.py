"""Daily regulator digests on the registry contract, staged like anchors: prepare → pending (tx hash) →
submit → status → receipt.

The caller (the daily digest job) owns persistence: keep ``PendingDigest.to_json()`` before calling
``submit`` (it carries the signed transaction, so a restart sends the very same one again), and the
``DigestReceipt.to_json()`` once ``status`` returns it. The contract takes one digest per (tenant, date):
a second one is reverted with ``EvidenceRegistry: digest already recorded for this date``, which
``status`` raises as ``EvmTransactionError`` (final; ``recorded`` then tells what the chain holds).

Example (the same steps run in ``tests/integration/test_evm_digests.py`` against a real anvil)::

    from datetime import date
    from ledger.evm import DigestRecorder, OperatorKey, Registry, Transactor, tenant_hash

    registry = Registry("http://127.0.0.1:38545", "0x5fbdb2315678afecb367f032d93f642f64180aa3")
    recorder = DigestRecorder(Transactor(registry, OperatorKey.from_file(Path("operator.key"))))
    pending = recorder.prepare(tenant_hash("plant-7"), date(2026, 12, 1), digest_sm3)  # 32 bytes
    store(pending.to_json())            # persist first: tx hash and the signed transaction
    recorder.submit(pending)            # EvmUnavailable: the node is down, submit again later
    receipt = recorder.status(pending)  # None while in flight; then a DigestReceipt
    # or, in one call that waits: receipt = recorder.record_digest(tenant, day, digest, wait=30.0)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.errors import EvmTransactionError, EvmUnavailable
from ledger.evm.abi import DIGEST_EVENT, date_number
from ledger.evm.registry import SignedTx, event_topic
from ledger.evm.transactor import Transactor

__all__ = ["DigestReceipt", "DigestRecorder", "PendingDigest"]


@dataclass(frozen=True)
class PendingDigest:
    """A signed ``recordDigest`` transaction not yet known to be mined."""

    tenant_hash: bytes
    day: date
    digest: bytes
    tx: SignedTx

    @property
    def tx_hash(self) -> str:
        """The transaction's hash, ``0x`` hex: its id on the chain."""
        return self.tx.tx_hash

    def to_json(self) -> dict[str, Any]:
        """JSON form to persist before ``submit``."""
        return {"tenant_hash": self.tenant_hash.hex(), "date": self.day.isoformat(), "digest": self.digest.hex(),
                "tx": self.tx.to_json()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingDigest:
        """Inverse of ``to_json``."""
        return cls(bytes.fromhex(data["tenant_hash"]), date.fromisoformat(data["date"]), bytes.fromhex(data["digest"]),
                   SignedTx.from_json(data["tx"]))


@dataclass(frozen=True)
class DigestReceipt:
    """A mined digest write: what it recorded, its transaction, and ``body``: the offline evidence (chain
    id, contract, tx hash, block number and hash, log index, the log, the block header, the block's
    receipts; docs/formats.md "EVM receipt")."""

    tenant_hash: bytes
    day: date
    digest: bytes
    tx_hash: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON form, as a digest carries it (``verifier.evm.verify_evm_digest`` checks it)."""
        return {"backend": "evm", "tenant_hash": self.tenant_hash.hex(), "date": self.day.isoformat(),
                "digest": self.digest.hex(), **self.body}


class DigestRecorder:
    """Writes digests through ``transactor`` (its operator key signs; its nonces are shared with the
    ``evm`` anchor backend of the same process)."""

    def __init__(self, transactor: Transactor) -> None:
        self.transactor, self.registry = transactor, transactor.registry
        self._lock = threading.Lock()

    def prepare(self, tenant_hash: bytes, day: date, digest: bytes) -> PendingDigest:
        """Sign ``recordDigest(tenant_hash, day, digest)``; nothing is sent. Requires 32-byte hashes and a
        day from 1970 on. Raises ``ValueError`` for bad arguments, ``EvmUnavailable`` if the node is down."""
        if len(tenant_hash) != 32 or len(digest) != 32 or digest == bytes(32) or tenant_hash == bytes(32):
            raise ValueError("tenant_hash and digest must be 32 bytes each, not all zero")
        if day.year < 1970:
            raise ValueError(f"the registry takes dates from 1970-01-01 on, got {day.isoformat()}")
        with self._lock:
            nonce = self.transactor.next_nonce()
            tx = self.registry.sign_digest(self.transactor.key, tenant_hash, day, digest, nonce=nonce,
                                           fee_bump=self.transactor.fee_bump(nonce))
        return PendingDigest(tenant_hash, day, digest, tx)

    def submit(self, pending: PendingDigest) -> None:
        """Send ``pending`` (idempotent); raises ``EvmUnavailable`` (retry) or ``EvmTransactionError``."""
        self.transactor.send(pending.tx)

    def status(self, pending: PendingDigest) -> DigestReceipt | None:
        """The receipt once mined, None while in flight; raises ``EvmTransactionError`` if it reverted
        (e.g. a digest already recorded for that tenant and date) or was dropped, ``EvmUnavailable``."""
        receipt = self.transactor.outcome(pending.tx)
        if receipt is None:
            return None
        log = _digest_log(receipt, self.registry.contract)
        return DigestReceipt(pending.tenant_hash, pending.day, pending.digest, pending.tx_hash,
                             self.registry.evidence(receipt, int(log["logIndex"])))

    def record_digest(self, tenant_hash: bytes, day: date, digest: bytes, *, wait: float = 0.0) -> PendingDigest | DigestReceipt:
        """Prepare and submit in one call; with ``wait`` > 0, poll ``status`` up to ``wait`` seconds and
        return the receipt (``EvmUnavailable`` if it is not mined by then). Without ``wait`` (default)
        returns the pending digest, which the caller persists and polls with ``status``."""
        pending = self.prepare(tenant_hash, day, digest)
        self.submit(pending)
        if wait <= 0:
            return pending
        deadline, pause = time.monotonic() + wait, threading.Event()
        while True:
            receipt = self.status(pending)
            if receipt is not None:
                return receipt
            if time.monotonic() >= deadline:
                break
            pause.wait(0.05)  # polling a remote chain: there is nothing local to wait on
        raise EvmUnavailable(f"digest transaction {pending.tx_hash} not mined within {wait} s; poll status() later")

    def recorded(self, tenant_hash: bytes, day: date) -> bytes | None:
        """The digest the chain holds for ``tenant_hash`` and ``day``, or None."""
        return self.registry.digest_of(tenant_hash, day)

    def find(self, tenant_hash: bytes, day: date, *, from_block: int = 0) -> DigestReceipt | None:
        """The receipt of the write that recorded ``tenant_hash``'s digest of ``day``, read back from the
        registry's ``DigestRecorded`` logs from block ``from_block`` on (after a crash that lost track of
        it); None if there is none. Raises ``EvmUnavailable``."""
        number = date_number(day)
        for log in self.registry.logs(DIGEST_EVENT, tenant_hash, from_block=from_block):
            data = bytes(log["data"])
            if int.from_bytes(data[:32], "big") != number:
                continue
            receipt = self.registry.receipt(_hex(log["transactionHash"]))
            if receipt is not None and int(receipt["status"]) == 1:
                return DigestReceipt(tenant_hash, day, data[32:64], _hex(receipt["transactionHash"]),
                                     self.registry.evidence(receipt, int(log["logIndex"])))
        return None


def _digest_log(receipt: dict[str, Any], contract: str) -> dict[str, Any]:
    topic = event_topic(DIGEST_EVENT)
    for log in receipt["logs"]:
        if str(log["address"]).lower() == contract.lower() and log["topics"] and bytes(log["topics"][0]) == topic:
            return dict(log)
    raise EvmTransactionError(f"transaction {_hex(receipt['transactionHash'])} succeeded without a DigestRecorded log "
                              "of the registry: is the contract address right?", tx_hash=_hex(receipt["transactionHash"]),
                              reason="no DigestRecorded log")


def _hex(value: Any) -> str:
    return "0x" + bytes(value).hex()
