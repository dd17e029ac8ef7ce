"""What goes into the log and what comes back: prepared events, submissions, commit hooks, receipts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection

from ledger.events import LeafTemplate

__all__ = ["CommitHook", "PreparedEvent", "Receipt", "Submission"]


@dataclass(frozen=True, slots=True)  # slots: the server builds one per event from a worker's tuples
class PreparedEvent:
    """An event that passed every check that does not depend on the log: shape, signature, commitment.

    ``leaf`` is its canonical leaf but for ``prev``, which the writer fills in from the permit's chain.
    ``observed`` is what the intake read from the plaintext for the service's own checks after the commit
    (a detector reading's values), and ``detector`` the detector a reading names (``payload.detector.id``),
    for the service's check that it is registered before the append; neither is logged, and the log never
    reads them.
    """

    event_id: str
    tenant: str
    kind: str
    permit: str | None
    key_id: str
    claim_hash: bytes
    leaf: LeafTemplate
    payload_sealed: bytes
    payload_key: bytes
    received_at: str
    flags: tuple[str, ...] = ()
    observed: object = None
    detector: str | None = None


CommitHook = Callable[[Connection, list["Receipt"]], None]
"""Writes that must commit together with a submission's new events: called inside the writer's transaction
with the receipts of the events that are new (never for a pure retry). Each hook runs in a savepoint of its
own: a hook that raises rolls back its own submission only (whose future gets the error), never the other
submissions of the group commit. Hooks only write rows their caller computed beforehand."""


@dataclass(frozen=True)
class Submission:
    """One request's events, appended all together or not at all; ``attestation`` for a signed batch.

    ``on_commit`` lets the service keep a projection (a permit's state) in the same transaction as the events
    that change it, so a crash can never leave one without the other.
    """

    events: Sequence[PreparedEvent]
    attestation: dict[str, Any] | None = None
    attestation_digest: bytes | None = None
    on_commit: CommitHook | None = None


@dataclass(frozen=True)
class Receipt:
    """Proof of acknowledgement: the event is durably in the log at ``leaf_index``."""

    event_id: str
    leaf_index: int
    leaf_hash: bytes
    received_at: str
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        """The receipt as the API returns it (hashes in hex)."""
        return {"event_id": self.event_id, "leaf_index": self.leaf_index, "leaf_hash": self.leaf_hash.hex(),
                "received_at": self.received_at, "duplicate": self.duplicate}

    @staticmethod
    def document(receipts: Sequence[Receipt]) -> bytes:
        """``{"receipts": [to_json() of each]}`` as orjson writes it: the exact bytes of a ``POST /v1/events``
        answer, serialised by orjson from the dataclasses themselves (fields in declaration order, which is
        ``to_json``'s order; bytes as hex) without a dict per receipt. ``to_json`` stays the reference; a
        property test holds the two to the same bytes."""
        return orjson.dumps({"receipts": receipts}, default=_hex)


def _hex(value: object) -> str:
    """orjson's fallback for a receipt's hash (bytes, or any bytes-like a store hands back): lower-case hex,
    as ``to_json``'s ``.hex()``."""
    if isinstance(value, bytes | bytearray | memoryview):
        return value.hex()
    raise TypeError(f"Type is not JSON serializable: {type(value).__name__}")
