"""Evidence events as log leaves: claims, leaf hashes, actor signatures, batch attestations, payload commitments.

Follows docs/formats.md, "Evidence event (a log leaf)": leaf bytes are the RFC 8785 canonical bytes of the
event as stored; the claim is the event without the server-assigned ``received_at``, ``prev``,
``attestation`` and without ``signature``; the actor signs the claim, or one attestation listing the claim
hashes of a batch.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Literal

from verifier._json import (
    JSONObject,
    b64_field,
    canonical,
    hex_field,
    hex_list_field,
    object_field,
    optional_hex_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.errors import AttestationMismatch, BadSignature, CommitmentMismatch, KeyMismatch, MalformedInput
from verifier.hashing import leaf_hash
from verifier.sm import PublicKey, sm3, verify_sm2

__all__ = [
    "Attestation",
    "Event",
    "Payload",
    "actor_key_binding",
    "claim",
    "claim_hash",
    "event_leaf_hash",
    "verify_actor_signature",
    "verify_attestation",
    "verify_payload_commitment",
]

_NOT_IN_CLAIM = frozenset({"received_at", "prev", "attestation", "signature"})
_SALT_SIZE = 16
_MAX_BATCH = 100_000  # claim hashes one attestation may list
_FINGERPRINT_ID = re.compile(r"(?:.*#)?([0-9a-f]{16,64})")  # "<fingerprint>" or "<name>#<fingerprint prefix>"


@dataclass(frozen=True)
class Event:
    """One evidence event exactly as stored in the log (``fields``), with the parts the checks use.

    ``signature`` is set for individually signed events, ``attestation_hash`` for batch-signed ones;
    exactly one of them is present.
    """

    fields: JSONObject
    actor: JSONObject
    payload_commitment: bytes
    signature: bytes | None
    attestation_hash: bytes | None

    @classmethod
    def from_json(cls, value: Any) -> Event:
        """Check the structure of a parsed event; raises ``MalformedInput`` naming the first bad field."""
        obj = copy.deepcopy(dict(require_object(value, "event")))
        _require_version(obj, "event")
        for key in ("event_id", "tenant", "kind", "occurred_at", "received_at"):
            str_field(obj, key, "event")
        object_field(obj, "subject", "event")
        optional_hex_field(obj, "prev", "event")
        if ("signature" in obj) == ("attestation" in obj):
            raise MalformedInput("event must carry exactly one of 'signature' and 'attestation'")
        canonical(obj)  # refuse values without a canonical form (huge integers) before any check
        return cls(
            fields=obj,
            actor=_actor(obj, "event"),
            payload_commitment=hex_field(obj, "payload_commitment", "event"),
            signature=b64_field(obj, "signature", "event") if "signature" in obj else None,
            attestation_hash=hex_field(obj, "attestation", "event") if "attestation" in obj else None,
        )


@dataclass(frozen=True)
class Attestation:
    """A batch attestation: the actor's one signature over the claim hashes of many events."""

    fields: JSONObject
    actor: JSONObject
    event_hashes: tuple[bytes, ...]
    signature: bytes

    @classmethod
    def from_json(cls, value: Any) -> Attestation:
        """Check the structure of a parsed attestation; raises ``MalformedInput``."""
        obj = copy.deepcopy(dict(require_object(value, "attestation")))
        _require_version(obj, "attestation")
        str_field(obj, "tenant", "attestation")
        canonical(obj)
        return cls(
            fields=obj,
            actor=_actor(obj, "attestation"),
            event_hashes=hex_list_field(obj, "event_hashes", "attestation", max_items=_MAX_BATCH),
            signature=b64_field(obj, "signature", "attestation"),
        )


@dataclass(frozen=True)
class Payload:
    """A disclosed payload: the 16-byte salt and the JSON value committed to by the event."""

    salt: bytes
    value: Any

    @classmethod
    def from_json(cls, value: Any) -> Payload:
        """Parse ``{"salt": "<hex 16 bytes>", "value": <json>}``; raises ``MalformedInput``."""
        obj = require_object(value, "payload")
        require_fields(obj, "payload", required=("salt", "value"))
        canonical(obj["value"])
        return cls(salt=hex_field(obj, "salt", "payload", size=_SALT_SIZE), value=copy.deepcopy(obj["value"]))


def claim(event: Event) -> dict[str, Any]:
    """The claim the actor signed: the event without ``received_at``, ``prev``, ``attestation``, ``signature``."""
    return {key: value for key, value in event.fields.items() if key not in _NOT_IN_CLAIM}


def claim_hash(event: Event) -> bytes:
    """SM3(canonical(claim)): what a batch attestation lists for this event."""
    return sm3(canonical(claim(event)))


def event_leaf_hash(event: Event) -> bytes:
    """The event's Merkle leaf hash: SM3(0x00 || canonical(event as stored))."""
    return leaf_hash(canonical(event.fields))


def verify_actor_signature(event: Event, *, public_key_pem: str) -> None:
    """Check the actor's SM2 signature over canonical(claim) with the actor key ``public_key_pem``.

    Requires an individually signed event (``MalformedInput`` otherwise). Raises ``BadSignature``.
    """
    if event.signature is None:
        raise MalformedInput("event has no 'signature': it is batch-signed, check its attestation")
    try:
        verify_sm2(PublicKey.from_pem(public_key_pem), canonical(claim(event)), event.signature)
    except BadSignature as exc:
        raise BadSignature(f"actor signature over the claim does not verify: {exc}") from exc


def verify_attestation(event: Event, attestation: Attestation, *, public_key_pem: str) -> None:
    """Check that the batch ``attestation`` signed by the actor key ``public_key_pem`` covers ``event``.

    Requires a batch-signed event (``MalformedInput`` otherwise). Steps:
    1. The event's ``attestation`` equals SM3(canonical(attestation with its signature)).
    2. The attestation's signature verifies over canonical(attestation without signature).
    3. The event's claim hash is one of ``event_hashes``.
    4. The event's ``tenant`` and ``actor`` equal the attestation's (same canonical bytes).
    Raises ``AttestationMismatch`` (steps 1, 3, 4) or ``BadSignature`` (step 2).
    """
    if event.attestation_hash is None:
        raise MalformedInput("event has no 'attestation': it is individually signed, check its signature")
    calculated = sm3(canonical(attestation.fields))
    if calculated != event.attestation_hash:
        raise AttestationMismatch(
            f"attestation hash mismatch: calculated {calculated.hex()}, event names {event.attestation_hash.hex()}"
        )
    _verify_attestation_signature(attestation, public_key_pem)
    if claim_hash(event) not in attestation.event_hashes:
        raise AttestationMismatch(
            f"claim hash {claim_hash(event).hex()} is not in the attestation's event_hashes"
        )
    if attestation.fields["tenant"] != event.fields["tenant"]:
        raise AttestationMismatch(
            f"tenant mismatch: event tenant {event.fields['tenant']!r}, attestation tenant "
            f"{attestation.fields['tenant']!r}"
        )
    if canonical(event.actor) != canonical(attestation.actor):
        raise AttestationMismatch(
            f"actor mismatch: event actor {canonical(event.actor).decode()}, "
            f"attestation actor {canonical(attestation.actor).decode()}"
        )


def actor_key_binding(event: Event, *, public_key_pem: str) -> Literal["fingerprint", "signature"]:
    """How the actor key ``public_key_pem`` is tied to the logged ``event``, once its signature verified.

    ``"fingerprint"`` when ``actor.key_id`` names the key: the whole key fingerprint, or ``<name>#`` and at
    least 16 hex digits that begin it (as the service's ``tiezheng#...`` ids do). ``"signature"`` when the
    key_id is a plain name: then only the logged signature ties the key to the event. Raises
    ``KeyMismatch`` when the key_id names another key's fingerprint.
    """
    key_id = str(event.actor["key_id"])
    match = _FINGERPRINT_ID.fullmatch(key_id)
    if match is None or ("#" not in key_id and len(key_id) != 64):
        return "signature"
    fingerprint = PublicKey.from_pem(public_key_pem).fingerprint()
    if not fingerprint.startswith(match.group(1)):
        raise KeyMismatch(f"actor key_id {key_id[:80]!r} names another key: the bundle's actor key is {fingerprint}")
    return "fingerprint"


def verify_payload_commitment(event: Event, payload: Payload) -> None:
    """Check that SM3(salt || canonical(value)) is the event's ``payload_commitment``.

    ``payload`` is the disclosed salt and value. Raises ``CommitmentMismatch``.
    """
    calculated = sm3(payload.salt + canonical(payload.value))
    if calculated != event.payload_commitment:
        raise CommitmentMismatch(
            f"payload commitment mismatch: calculated {calculated.hex()}, want {event.payload_commitment.hex()}"
        )


def _verify_attestation_signature(attestation: Attestation, public_key_pem: str) -> None:
    unsigned = {key: value for key, value in attestation.fields.items() if key != "signature"}
    try:
        verify_sm2(PublicKey.from_pem(public_key_pem), canonical(unsigned), attestation.signature)
    except BadSignature as exc:
        raise BadSignature(f"attestation signature does not verify: {exc}") from exc


def _require_version(obj: JSONObject, where: str) -> None:
    if type(obj.get("v")) is not int or obj.get("v") != 1:
        raise MalformedInput(f"{where}.v must be 1, got {obj.get('v')!r}")


def _actor(obj: JSONObject, where: str) -> JSONObject:
    actor = object_field(obj, "actor", where)
    for key in ("type", "id", "key_id"):
        str_field(actor, key, f"{where}.actor")
    return actor
