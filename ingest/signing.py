"""The device and phone side of intake: build claims, commit to payloads, sign events or whole batches.

What a guardian's phone or a gas detector runs before ``POST /v1/events`` (docs/formats.md). The private
key never leaves the device; the server only ever sees public keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ledger.canonical import canonical
from ledger.events import claim_hash, payload_commitment
from ledger.sm import Signer

__all__ = ["Actor", "attest_batch", "new_item", "sign_item"]


@dataclass(frozen=True)
class Actor:
    """Who signs: actor type and id, the registered key id, and the signer holding the private key."""

    type: str
    id: str
    key_id: str
    signer: Signer

    def ref(self) -> dict[str, str]:
        """The ``actor`` object of an event."""
        return {"type": self.type, "id": self.id, "key_id": self.key_id}


def new_item(actor: Actor, *, tenant: str, kind: str, payload: Any, occurred_at: str,
             subject: dict[str, str] | None = None, location: dict[str, float] | None = None,
             event_id: str | None = None) -> dict[str, Any]:
    """An unsigned intake item ``{"event", "payload", "salt"}`` with a fresh salt and event id."""
    salt = os.urandom(16)
    event: dict[str, Any] = {
        "v": 1, "event_id": event_id or str(uuid.uuid4()), "tenant": tenant, "kind": kind,
        "subject": subject or {}, "actor": actor.ref(), "occurred_at": occurred_at,
        "payload_commitment": payload_commitment(salt, payload),
    }
    if location is not None:
        event["location"] = location
    return {"event": event, "payload": payload, "salt": salt.hex()}


def sign_item(actor: Actor, item: dict[str, Any]) -> dict[str, Any]:
    """Add the actor's SM2 signature over the canonical claim; returns the item.

    >>> from ledger.sm import SM2PrivateKey, Signer
    >>> detector = Actor("device", "lel-07", "lel-07#1", Signer.from_private_key(SM2PrivateKey.generate()))
    >>> item = sign_item(detector, new_item(detector, tenant="acme", kind="detector.reading",
    ...                                     payload={"lel_pct": 0.1}, occurred_at="2026-11-23T08:00:00Z"))
    >>> sorted(item), "signature" in item["event"]
    (['event', 'payload', 'salt'], True)
    """
    item["event"]["signature"] = actor.signer.sign_b64(canonical(item["event"]))
    return item


def attest_batch(actor: Actor, tenant: str, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One signed attestation over the claim hashes of ``items`` (a detector's batch of readings)."""
    attestation: dict[str, Any] = {
        "v": 1, "tenant": tenant, "actor": actor.ref(),
        "event_hashes": [claim_hash(item["event"]).hex() for item in items],
    }
    attestation["signature"] = actor.signer.sign_b64(canonical(attestation))
    return attestation
