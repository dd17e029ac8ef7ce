"""Anchor backends and the anchorer that feeds them checkpoints."""

from ledger.anchors.base import Anchor, AnchorReceipt, AnchorRequest

__all__ = ["Anchor", "AnchorReceipt", "AnchorRequest"]
