"""Witness cosignatures (C2SP tlog-cosignature ``cosignature/v1``, Ed25519) and the trust root's quorum
(docs/formats.md, "Witness cosignature").

A ``witness`` anchor is a checkpoint note of the log with a witness's cosignature line, and the consistency
proof from the bundle checkpoint to it. A cosignature says that, at its timestamp, the witness had checked
that this tree is consistent with every tree of the log it saw before; a quorum of independent witnesses
makes a split view (one history for a regulator, another for a court) detectable. Only witness keys the
trust root names count; lines by other keys are ignored, as C2SP requires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from verifier._json import int_field, require_fields, require_object, str_field
from verifier.checkpoint import Checkpoint
from verifier.errors import CosignatureInvalid
from verifier.note_anchor import note_of, proof_of, verify_note_extends
from verifier.trust import Witnesses, WitnessKey

__all__ = ["COSIGNATURE_KIND", "CosignedAnchor", "Cosigner", "cosigned_message", "count_quorum", "key_id",
           "verify_cosignatures", "verify_cosigned_anchor"]

COSIGNATURE_KIND = "cosignature/v1"
_FIELDS = ("backend", "kind", "witness", "tree_size", "root_hash", "timestamp", "checkpoint", "consistency_proof")
_ED25519_RAW = slice(12, 44)  # the 32 key bytes after the fixed Ed25519 SubjectPublicKeyInfo prefix


def key_id(name: str, raw_public_key: bytes) -> bytes:
    """SHA-256(name || "\\n" || 0x04 || 32-byte Ed25519 key)[:4]: how a cosignature line names its key."""
    return hashlib.sha256(name.encode("utf-8") + b"\n\x04" + raw_public_key).digest()[:4]


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """The signed message of a cosignature/v1: header line, time line, checkpoint body."""
    return b"cosignature/v1\ntime " + str(timestamp).encode("ascii") + b"\n" + body


@dataclass(frozen=True)
class Cosigner:
    """A witness that cosigned: its name (as the trust root names it) and the cosignature's POSIX time."""

    name: str
    timestamp: int


@dataclass(frozen=True)
class CosignedAnchor:
    """A bundle's ``witness`` anchor: the cosigned note and the proof from the bundle checkpoint to it."""

    checkpoint: Checkpoint
    consistency_proof: tuple[bytes, ...]
    label: str

    @classmethod
    def from_json(cls, value: Any) -> CosignedAnchor:
        """Parse the anchor object; ``MalformedInput`` for a missing or unknown field, a bad value, or a
        ``tree_size``/``root_hash`` that are not its own checkpoint's."""
        obj = require_object(value, "witness anchor")
        require_fields(obj, "witness anchor", required=_FIELDS)
        checkpoint = note_of(obj, "witness anchor", COSIGNATURE_KIND)
        int_field(obj, "timestamp", "witness anchor")  # the server's reading; the signed one is in the line
        return cls(checkpoint=checkpoint, label=str_field(obj, "witness", "witness anchor"),
                   consistency_proof=proof_of(obj, "witness anchor"))


def verify_cosignatures(checkpoint: Checkpoint, witnesses: Sequence[WitnessKey]) -> tuple[Cosigner, ...]:
    """The trusted witnesses whose cosignature/v1 lines on ``checkpoint`` verify.

    Lines whose name and key id are no trusted Ed25519 witness's are ignored. A line that names a trusted
    witness and its key id but does not verify raises ``CosignatureInvalid`` (a tampered cosignature is
    an error, not an absence).
    """
    found: dict[str, Cosigner] = {}
    for witness in witnesses:
        if witness.algorithm != "ed25519":
            continue  # C2SP has no SM2 cosignature type: such a key can never count
        raw = witness.spki_der[_ED25519_RAW]
        wanted = key_id(witness.name, raw)
        for line in checkpoint.signatures:
            if line.name == witness.name and line.key_hash == wanted:
                found[witness.name] = Cosigner(witness.name, _verify_line(checkpoint, witness.name, raw, line.signature))
    return tuple(found.values())


def verify_cosigned_anchor(anchor: CosignedAnchor, *, checkpoint: Checkpoint,
                           witnesses: Sequence[WitnessKey]) -> tuple[Cosigner, ...]:
    """Check a ``witness`` anchor against ``checkpoint`` (a bundle checkpoint already verified); the caller
    has verified the anchor note's log signature. Steps:
    1. Same log and a tree at least as large (``AnchorMismatch``).
    2. The consistency proof from ``checkpoint`` to the note's tree (``InvalidProof``, ``RootMismatch``).
    3. The trusted witnesses' cosignatures on the note (``verify_cosignatures``).
    """
    verify_note_extends(anchor.checkpoint, checkpoint, anchor.consistency_proof, "cosigned")
    return verify_cosignatures(anchor.checkpoint, witnesses)


def count_quorum(cosigners: Sequence[Cosigner], policy: Witnesses) -> bool:
    """Whether distinct trusted witnesses among ``cosigners`` reach ``policy.quorum`` (a quorum of 0 never
    does: a trust root that names no witnesses claims nothing)."""
    return policy.quorum > 0 and len({c.name for c in cosigners}) >= policy.quorum


def _verify_line(checkpoint: Checkpoint, name: str, raw: bytes, blob: bytes) -> int:
    if len(blob) != 8 + 64:
        raise CosignatureInvalid(f"cosignature by {name} is {len(blob)} bytes after its key id, want 72")
    timestamp = int.from_bytes(blob[:8], "big")
    if timestamp > 2**63 - 1:
        raise CosignatureInvalid(f"cosignature by {name} has timestamp {timestamp} beyond 2^63 - 1")
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(blob[8:], cosigned_message(checkpoint.body, timestamp))
    except InvalidSignature as exc:
        raise CosignatureInvalid(f"cosignature by {name} does not verify over checkpoint "
                                 f"{checkpoint.origin} size {checkpoint.tree_size}") from exc
    return timestamp
