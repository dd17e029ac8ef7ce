"""Exception tree of the ledger: bad input, crypto failures, storage, proofs and anchoring.

Each failure kind has its own class so the API can map it to one problem-details type
(``evidence_api/errors.py``) and the CLI to one exit code.
"""

from __future__ import annotations

__all__ = [
    "AnchorCommitError",
    "AnchorError",
    "AnchorStageError",
    "AnchorStatusError",
    "AnchorSubmitError",
    "CommitmentMismatch",
    "DuplicateConflict",
    "EvmError",
    "EvmTransactionError",
    "EvmUnavailable",
    "InvalidSignature",
    "KeyMaterialError",
    "LedgerError",
    "MalformedInput",
    "ProofError",
    "StorageError",
    "UnknownKey",
    "WitnessError",
]


class LedgerError(Exception):
    """Base of every error raised by ``ledger``."""

    def diagnostics(self) -> str:
        """A human explanation of what went wrong, for the CLI and the logs."""
        return str(self)


class MalformedInput(LedgerError):
    """Input that does not have the required structure (JSON shape, RFC 3339 time, hex, size)."""


class InvalidSignature(LedgerError):
    """An SM2 signature that does not verify against the claimed key."""


class UnknownKey(LedgerError):
    """A key id that is not registered for this tenant."""


class CommitmentMismatch(LedgerError):
    """A payload whose SM3 commitment differs from the one in the signed event."""


class DuplicateConflict(LedgerError):
    """An ``event_id`` already in the log with different content."""


class ProofError(LedgerError):
    """A proof was asked for sizes or indices the log cannot serve."""


class StorageError(LedgerError):
    """The database or the file system refused a write or a read."""


class AnchorError(LedgerError):
    """An anchor backend failed to record or return a checkpoint."""


class AnchorStageError(AnchorError):
    """A stage of anchoring failed for backend ``backend`` and transaction ``tx_id`` (None if the stage
    failed before the transaction had an id). The message names both, so a log line is enough to find the
    transaction on its chain."""

    stage = "anchor"

    def __init__(self, message: str, *, backend: str, tx_id: str | None) -> None:
        super().__init__(f"{backend}: {self.stage} of transaction {tx_id or '(no id yet)'} failed: {message}")
        self.backend, self.tx_id = backend, tx_id


class AnchorSubmitError(AnchorStageError):
    """The backend did not take the transaction (preparing or sending it failed). The transaction may be
    sent again unchanged: backends treat a resubmission of the same ``tx_id`` as a no-op."""

    stage = "submit"


class AnchorStatusError(AnchorStageError):
    """The transaction's status could not be read (backend unreachable); it may still commit. Retried."""

    stage = "status"


class AnchorCommitError(AnchorStageError):
    """The backend answered that the transaction did not and never will commit (rejected, invalidated,
    or superseded). Final: the anchorer records it as failed and anchors anew with a new transaction."""

    stage = "commit"


class EvmError(LedgerError):
    """The regulator chain (an EVM node and the registry contract) failed a call (``ledger.evm``)."""


class EvmUnavailable(EvmError):
    """The EVM node could not be reached or answered with a transport error; try again later."""


class EvmTransactionError(EvmError):
    """The chain refused or reverted transaction ``tx_hash`` (None before it had one); ``reason`` is the
    contract's revert reason or the node's refusal, as the chain gave it. Final for that transaction."""

    def __init__(self, message: str, *, tx_hash: str | None, reason: str) -> None:
        super().__init__(message)
        self.tx_hash, self.reason = tx_hash, reason


class KeyMaterialError(LedgerError):
    """A key file or key setting is missing, unreadable or of the wrong kind."""


class WitnessError(LedgerError):
    """A witness did not cosign a checkpoint: unreachable, refused, or answering with a bad cosignature.
    ``split_view`` is true when its answer shows it cosigned a tree this log never had (a fork)."""

    def __init__(self, message: str, *, split_view: bool = False) -> None:
        super().__init__(message)
        self.split_view = split_view
