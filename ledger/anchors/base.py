"""The anchoring seam: what every backend (local journal, Fabric, EVM) takes and returns.

An anchorer hands a backend the newest checkpoint together with the consistency proof from the last
checkpoint that backend anchored; the backend records it and returns a receipt that an offline verifier
can check. Backends translate their own transport's errors into ``AnchorError``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ledger.checkpoint import SignedCheckpoint

__all__ = ["Anchor", "AnchorReceipt", "AnchorRequest"]


@dataclass(frozen=True)
class AnchorRequest:
    """The checkpoint to anchor and the proof that it extends the backend's previous one."""

    checkpoint: SignedCheckpoint
    previous_tree_size: int | None
    consistency_proof: list[bytes]


@dataclass(frozen=True)
class AnchorReceipt:
    """What a backend returns: which tree it anchored, plus backend-specific evidence in ``body``."""

    backend: str
    tree_size: int
    root_hash: bytes
    body: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """JSON form, as served by ``/v1/log/anchors`` and put in bundles."""
        return {"backend": self.backend, "tree_size": self.tree_size, "root_hash": self.root_hash.hex(), **self.body}


class Anchor(Protocol):
    """One anchoring backend."""

    name: str

    def anchor(self, request: AnchorRequest) -> AnchorReceipt:
        """Record the checkpoint; raises ``AnchorError`` if the backend refuses or is unreachable."""
        ...

    def latest(self) -> AnchorReceipt | None:
        """The newest checkpoint this backend holds (to resume after a restart), or None."""
        ...
