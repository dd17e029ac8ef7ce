"""Response bodies of the log endpoints and the event intake."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "AnchorsOut",
    "BundleOut",
    "BundlePayload",
    "CheckpointOut",
    "ConsistencyProofOut",
    "EventBatch",
    "EventItem",
    "InclusionProofOut",
    "PublicKeyOut",
    "ReceiptOut",
    "ReceiptsOut",
]


class EventItem(BaseModel):
    """One event with its payload and the salt of its commitment (docs/formats.md)."""

    event: dict[str, Any]
    payload: Any
    salt: str = Field(pattern=r"^[0-9a-f]{32}$")


class EventBatch(BaseModel):
    """A batch: each event signed, or one ``attestation`` signing all of them."""

    events: list[EventItem] = Field(min_length=1, description="at most the service's TIEZHENG_MAX_BATCH events")
    attestation: dict[str, Any] | None = None


class ReceiptOut(BaseModel):
    """The event is durably in the log at ``leaf_index``."""

    event_id: str
    leaf_index: int
    leaf_hash: str
    received_at: str
    duplicate: bool


class ReceiptsOut(BaseModel):
    """Receipts in the order of the submitted events."""

    receipts: list[ReceiptOut]


class CheckpointOut(BaseModel):
    """The newest signed tree head."""

    origin: str
    tree_size: int
    root_hash: str
    text: str


class PublicKeyOut(BaseModel):
    """The log's SM2 public key."""

    origin: str
    public_key_pem: str
    fingerprint: str


class InclusionProofOut(BaseModel):
    """RFC 9162 inclusion proof."""

    leaf_index: int
    tree_size: int
    leaf_hash: str
    root_hash: str
    proof: list[str]


class ConsistencyProofOut(BaseModel):
    """RFC 9162 consistency proof."""

    first: int
    second: int
    first_root: str
    second_root: str
    proof: list[str]


class AnchorsOut(BaseModel):
    """Anchor receipts covering a tree size, one per backend, with consistency proofs to them."""

    tree_size: int
    anchors: list[dict[str, Any]]


class BundlePayload(BaseModel):
    """The event's payload in clear with the salt of its commitment."""

    salt: str
    value: Any


class BundleOut(BaseModel):
    """One event with all that ``tiezheng verify`` needs to check it offline (docs/formats.md)."""

    format: str = Field(examples=["tiezheng.bundle/v1"])
    event: dict[str, Any] = Field(description="the logged event, as signed")
    leaf_index: int
    attestation: dict[str, Any] | None = Field(description="the batch attestation that signed it, if any")
    payload: BundlePayload
    checkpoint: str = Field(description="the C2SP checkpoint text the proof leads to")
    inclusion_proof: list[str]
    anchors: list[dict[str, Any]]
    keys: dict[str, str] = Field(description="public keys in PEM: the log's and the actor's (not trusted by the "
                                             "verifier; pass trusted keys to it)")
