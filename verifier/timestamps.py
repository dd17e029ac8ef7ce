"""RFC 3161 timestamp tokens over checkpoints (docs/formats.md, "RFC 3161 timestamp receipt").

A ``tsa`` anchor carries a signed checkpoint note and the TimeStampToken (a CMS SignedData, DER) a TSA
issued over it. ``verify_timestamp_anchor`` shows that the note existed at the token's ``genTime``, by the
word of a TSA whose root the trust root names, and that the bundle's checkpoint is a prefix of it. The
token's signature, its certificate chain (evaluated at ``genTime``) and the TSA certificate's critical
``timeStamping`` extended key usage are checked by ``rfc3161-client``; the imprint (algorithm and value)
against the exact note bytes, strict DER and the fields no signature covers (versions, the signature
algorithm) are checked here. No network.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import rfc3161_client as tsp
from asn1crypto import cms
from cryptography import x509

from verifier._json import (
    b64_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.checkpoint import Checkpoint
from verifier.errors import MalformedInput, TimestampInvalid
from verifier.note_anchor import note_of, proof_of, verify_note_extends
from verifier.sm import sm3
from verifier.trust import TimestampAuthority

__all__ = [
    "MAX_TOKEN_BYTES",
    "TIMESTAMP_KIND",
    "TimestampAnchor",
    "TimestampResult",
    "verify_timestamp_anchor",
    "verify_token",
]

TIMESTAMP_KIND = "rfc3161"
MAX_TOKEN_BYTES = 64 * 1024
_IMPRINT_HASHES = {  # imprint algorithm OID -> name
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
    "1.2.156.10197.1.401": "sm3",
}
# signature algorithms a TSA signs tokens with (ECDSA and RSA with SHA-2); a SignerInfo naming another is refused
# (and the digest each implies: the SignerInfo's digest algorithm must be that one; None: any SHA-2)
_SIGNATURE_ALGORITHMS = {
    "1.2.840.10045.4.3.2": "sha256", "1.2.840.10045.4.3.3": "sha384", "1.2.840.10045.4.3.4": "sha512",
    "1.2.840.113549.1.1.11": "sha256", "1.2.840.113549.1.1.12": "sha384", "1.2.840.113549.1.1.13": "sha512",
    "1.2.840.113549.1.1.1": None, "1.2.840.113549.1.1.10": None,  # rsaEncryption, RSASSA-PSS
}
_FIELDS = ("backend", "kind", "tree_size", "root_hash", "tsa", "hash_algorithm", "checkpoint", "token",
           "gen_time", "consistency_proof")


@dataclass(frozen=True)
class TimestampResult:
    """What a verified token says: when (``gen_time``, the TSA's clock), which trusted TSA, the token's
    serial number, policy and imprint algorithm."""

    gen_time: datetime
    authority: str
    serial_number: int
    policy: str
    hash_algorithm: str


@dataclass(frozen=True)
class TimestampAnchor:
    """A bundle's ``tsa`` anchor: the timestamped note, the token, and the consistency proof from the bundle
    checkpoint to the note's tree. ``label`` is the server's name for the TSA (informative only)."""

    checkpoint: Checkpoint
    token: bytes
    consistency_proof: tuple[bytes, ...]
    label: str

    @classmethod
    def from_json(cls, value: Any) -> TimestampAnchor:
        """Parse the anchor object; ``MalformedInput`` for a missing or unknown field or a bad value, and
        when its ``tree_size``/``root_hash`` are not those of its own checkpoint note."""
        obj = require_object(value, "tsa anchor")
        require_fields(obj, "tsa anchor", required=_FIELDS)
        checkpoint = note_of(obj, "tsa anchor", TIMESTAMP_KIND)
        token = b64_field(obj, "token", "tsa anchor")
        if len(token) > MAX_TOKEN_BYTES:
            raise MalformedInput(f"tsa anchor token is {len(token)} bytes, want at most {MAX_TOKEN_BYTES}")
        str_field(obj, "gen_time", "tsa anchor")  # the server's reading; the verifier reports the token's own
        str_field(obj, "hash_algorithm", "tsa anchor")
        return cls(checkpoint=checkpoint, token=token, label=str_field(obj, "tsa", "tsa anchor"),
                   consistency_proof=proof_of(obj, "tsa anchor"))


def verify_token(token: bytes, *, message: bytes, authorities: Sequence[TimestampAuthority]) -> TimestampResult:
    """Check that ``token`` (DER TimeStampToken) timestamps exactly ``message`` for a TSA of ``authorities``.

    Steps:
    1. Parse the token (``MalformedInput`` if it is not one).
    2. The imprint's algorithm is SHA-256/384/512 or SM3 and its value is that hash of ``message``
       (``TimestampInvalid``: the token is for other bytes).
    3. For some authority, the CMS signature verifies, the signer certificate chains to one of its roots
       (valid at ``genTime``) and has the critical ``timeStamping`` EKU (``TimestampInvalid`` naming each authority's reason otherwise).
    Requires at least one authority (the caller skips the check when the trust root names none).
    """
    _check_structure(token)
    response = _parse(token)
    info = response.tst_info
    oid = info.message_imprint.hash_algorithm.dotted_string
    if oid not in _IMPRINT_HASHES:
        raise TimestampInvalid(f"timestamp imprint uses hash {oid}, want one of sha256, sha384, sha512, sm3")
    algorithm = _IMPRINT_HASHES[oid]
    want = sm3(message) if algorithm == "sm3" else hashlib.new(algorithm, message).digest()
    if info.message_imprint.message != want:
        raise TimestampInvalid(f"timestamp imprint {info.message_imprint.message.hex()} is not the {algorithm} "
                               f"of the checkpoint ({want.hex()}): the token is for other data")
    reasons = []
    for authority in authorities:
        try:
            _verifier(authority).verify(response, info.message_imprint.message)
        except (tsp.VerificationError, ValueError) as exc:
            reasons.append(f"{authority.name}: {exc}")
            continue
        return TimestampResult(gen_time=info.gen_time, authority=authority.name, serial_number=info.serial_number,
                               policy=info.policy.dotted_string, hash_algorithm=algorithm)
    raise TimestampInvalid("timestamp token does not verify against a tsa the trust root names: " + "; ".join(reasons))


def verify_timestamp_anchor(anchor: TimestampAnchor, *, checkpoint: Checkpoint,
                            authorities: Sequence[TimestampAuthority]) -> TimestampResult:
    """Check a ``tsa`` anchor against ``checkpoint`` (a bundle checkpoint already verified with the log key).

    The caller has verified ``anchor.checkpoint``'s log signature too. Steps:
    1. Same log: the note's origin is the checkpoint's (``AnchorMismatch``), its tree at least as large.
    2. The consistency proof leads from ``checkpoint`` to the note's tree (``InvalidProof``, ``RootMismatch``).
    3. The token timestamps the note's exact bytes (``verify_token``).
    Returns what the token says; the checkpoint existed no later than its ``gen_time``.
    """
    verify_note_extends(anchor.checkpoint, checkpoint, anchor.consistency_proof, "timestamped")
    return verify_token(anchor.token, message=anchor.checkpoint.text.encode("utf-8"), authorities=authorities)


def _check_structure(token: bytes) -> None:
    """DER exactly as RFC 5652/3161 require, and the fields no signature covers: SignedData v3 with one v1
    SignerInfo whose signature algorithm is a known one (``rfc3161-client`` does not look at these)."""
    try:
        info = cms.ContentInfo.load(token, strict=True)
        canonical = info.dump(force=True) == token
        signed = info["content"] if info["content_type"].native == "signed_data" else None
        signers = list(signed["signer_infos"]) if signed is not None else []
        versions = (signed["version"].native if signed is not None else None,
                    [s["version"].native for s in signers])
        algorithms = [(s["signature_algorithm"]["algorithm"].dotted, s["digest_algorithm"]["algorithm"].native)
                      for s in signers]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        # asn1crypto raises AttributeError or IndexError for some mistyped fields: a refusal, never a crash
        raise MalformedInput(f"timestamp token is not an rfc 3161 token: {str(exc)[:200]}") from exc
    if not canonical:
        raise MalformedInput("timestamp token is not in DER (it re-encodes differently)")
    if versions != ("v3", ["v1"]):
        raise MalformedInput(f"timestamp token must be SignedData v3 with one SignerInfo v1, got {versions}")
    signature, digest = algorithms[0]
    if signature not in _SIGNATURE_ALGORITHMS or _SIGNATURE_ALGORITHMS[signature] not in (None, digest):
        raise MalformedInput(f"timestamp token signature algorithm {signature} (digest {digest}) is not ecdsa or "
                             "rsa with the sha-2 digest the signer info names")


def _parse(token: bytes) -> Any:
    """The token inside a granted TimeStampResp, the shape ``rfc3161-client`` reads."""
    status = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted }
    try:
        response = tsp.decode_timestamp_response(_der_sequence(status + token))
        info = response.tst_info  # parsed lazily: touch every part the checks read, here
        _touched = (info.message_imprint.hash_algorithm, info.message_imprint.message, info.gen_time,
                    info.serial_number, info.policy, response.signed_data.signer_infos,
                    response.signed_data.certificates)
        return response
    except ValueError as exc:
        raise MalformedInput(f"timestamp token is not an rfc 3161 token: {str(exc)[:200]}") from exc


def _der_sequence(content: bytes) -> bytes:
    size = len(content)
    length = bytes([size]) if size < 0x80 else bytes([0x80 | ((size.bit_length() + 7) // 8)]) + \
        size.to_bytes((size.bit_length() + 7) // 8, "big")
    return b"\x30" + length + content


def _verifier(authority: TimestampAuthority) -> Any:
    builder = tsp.VerifierBuilder()
    for der in authority.certificates:
        try:
            builder = builder.add_root_certificate(x509.load_der_x509_certificate(der))
        except ValueError:
            continue  # a repeated root (the trust root parser already checked each is a certificate)
    return builder.build()
