"""Anchor backends, the anchors table and the anchorer that feeds them checkpoints, stage by stage."""

from ledger.anchors.base import Anchor, AnchorReceipt, AnchorRequest, PendingAnchor

__all__ = ["Anchor", "AnchorReceipt", "AnchorRequest", "PendingAnchor"]
