"""The Fabric client's errors, one per stage of a transaction; each carries the transaction id.

Stages: endorse (a peer refused or the endorsements disagree), submit (no orderer accepted the envelope),
commit status (the validation code could not be learnt), commit (the transaction was committed invalid).
"""

from __future__ import annotations

from ledger.errors import LedgerError

__all__ = ["FabricCommitError", "FabricCommitStatusError", "FabricEndorseError", "FabricError",
           "FabricSubmitError"]


class FabricError(LedgerError):
    """A Fabric transaction failed; ``stage`` names where, ``tx_id`` which transaction."""

    stage = "fabric"

    def __init__(self, message: str, *, tx_id: str) -> None:
        super().__init__(f"{self.stage}: {message} (tx {tx_id})")
        self.tx_id = tx_id


class FabricEndorseError(FabricError):
    """A peer refused the proposal (the chaincode's message is in ``details``), or the peers' results differ."""

    stage = "endorse"

    def __init__(self, message: str, *, tx_id: str, details: list[str] | None = None) -> None:
        super().__init__(message, tx_id=tx_id)
        self.details = details or []


class FabricSubmitError(FabricError):
    """No orderer accepted the transaction envelope (all were tried)."""

    stage = "submit"


class FabricCommitStatusError(FabricError):
    """The transaction's validation code could not be read from a peer's block stream in time."""

    stage = "commit status"


class FabricCommitError(FabricError):
    """The transaction was ordered into block ``block_number`` but committed invalid (``code``)."""

    stage = "commit"

    def __init__(self, message: str, *, tx_id: str, code: str, block_number: int) -> None:
        super().__init__(message, tx_id=tx_id)
        self.code, self.block_number = code, block_number
