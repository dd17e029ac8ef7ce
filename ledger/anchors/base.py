"""The anchoring seam: what every backend (local journal, Fabric, EVM) takes and returns, stage by stage.

Anchoring is staged, as fabric-gateway's client is (``SubmitAsync``, then ``Commit.Status()``):

1. ``prepare(request)`` builds (and signs) the backend's transaction for a checkpoint, with no side effect
   anywhere, and returns a ``PendingAnchor`` that carries the transaction's id.
2. The anchorer persists that pending anchor in the ``anchors`` table, before anything is sent, so a crash
   at any later moment leaves a record of the transaction to re-check.
3. ``submit(pending)`` sends it (Fabric: endorse and broadcast to an orderer; EVM: send the raw signed
   transaction; local: append and fsync the journal entry).
4. ``status(pending)`` asks whether it committed: a receipt once it has, ``None`` while it is in flight.

The ``anchors`` table is the one source of truth for receipts (pending rows included); on start the
anchorer reconciles it with each backend through ``recover``. Each backend runs on its own worker thread
with its own backoff, so a slow chain never delays another backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ledger.checkpoint import SignedCheckpoint

__all__ = ["Anchor", "AnchorReceipt", "AnchorRequest", "PendingAnchor"]


@dataclass(frozen=True)
class AnchorRequest:
    """The checkpoint to anchor and the proof that it extends the backend's previous one.

    ``previous_tree_size`` is the size of the last tree the anchors table says this backend anchored (None
    for its first anchor); ``consistency_proof`` runs from it to the checkpoint's size ([] for the first).
    """

    checkpoint: SignedCheckpoint
    previous_tree_size: int | None
    consistency_proof: list[bytes]


@dataclass(frozen=True)
class PendingAnchor:
    """A prepared transaction: which tree it anchors, its id on the backend, and what the backend needs to
    send it and ask for its status after a restart (``body``, JSON-serialisable)."""

    backend: str
    tx_id: str
    tree_size: int
    root_hash: bytes
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON form, as stored in the ``anchors`` table's ``pending`` column."""
        return {"backend": self.backend, "tx_id": self.tx_id, "tree_size": self.tree_size,
                "root_hash": self.root_hash.hex(), "body": self.body}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PendingAnchor:
        """Inverse of ``to_json``."""
        return cls(data["backend"], data["tx_id"], data["tree_size"], bytes.fromhex(data["root_hash"]), data["body"])


@dataclass(frozen=True)
class AnchorReceipt:
    """What a committed transaction yields: which tree it anchored, its ``tx_id``, and backend-specific
    evidence in ``body`` (local: the journal entry; Fabric: tx id, block number, the block; EVM: tx hash,
    block, log index) that an offline verifier checks."""

    backend: str
    tree_size: int
    root_hash: bytes
    tx_id: str
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON form, as served by ``/v1/log/anchors`` and put in bundles (docs/formats.md)."""
        return {"backend": self.backend, "tree_size": self.tree_size, "root_hash": self.root_hash.hex(), **self.body}


class Anchor(Protocol):
    """One anchoring backend, in stages. Implementations translate their own transport's errors (grpc,
    web3, OS) into the stage's error, with ``raise ... from exc``, always carrying the transaction id.

    Contract for implementers (the Fabric and EVM backends follow it too):
    - ``prepare`` has no side effect outside the process: the anchorer persists its result before
      ``submit`` is called, and may drop it unsent.
    - ``submit`` is idempotent per ``tx_id``: the anchorer sends a pending transaction again after a
      restart or a submit error, and a backend that already holds it answers as if it had just taken it.
    - ``status`` never sends anything; ``None`` means "not committed yet, ask again later".
    - ``recover`` reads only: what the backend holds, so the anchors table can be reconciled after a crash
      between ``submit`` and the table's update.
    """

    name: str

    def prepare(self, request: AnchorRequest) -> PendingAnchor:
        """Build the transaction for ``request``; raises ``AnchorSubmitError`` (``tx_id`` None) if it can't."""
        ...

    def submit(self, pending: PendingAnchor) -> None:
        """Send ``pending``; raises ``AnchorSubmitError`` (may be retried unchanged) or ``AnchorCommitError``
        (this transaction can never commit, e.g. the backend moved on without it)."""
        ...

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        """The receipt once ``pending`` committed, None while in flight; raises ``AnchorStatusError``
        (status unreadable, retried) or ``AnchorCommitError`` (rejected, final)."""
        ...

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        """Receipts of every tree larger than ``after_tree_size`` (all if None) the backend holds, by
        ascending size; raises ``AnchorStatusError`` if the backend cannot be read."""
        ...
