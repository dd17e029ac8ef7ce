"""A Fabric client without the Gateway: proposal, endorsement at one peer per org, envelope, broadcast, and
the commit status from a peer's filtered block stream (works with Fabric 1.4 through 3.x)."""

from ledger.fabric.client import Committed, Endpoint, FabricClient
from ledger.fabric.errors import (
    FabricCommitError,
    FabricCommitStatusError,
    FabricEndorseError,
    FabricError,
    FabricSubmitError,
)
from ledger.fabric.identity import Identity, ecdsa_signer

__all__ = ["Committed", "Endpoint", "FabricClient", "FabricCommitError", "FabricCommitStatusError",
           "FabricEndorseError", "FabricError", "FabricSubmitError", "Identity", "ecdsa_signer"]
