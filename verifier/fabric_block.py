"""Checks of a Fabric block on its own: data hash, orderer signature, one transaction's validation code, and
the X.509 identities (``msp.SerializedIdentity``) that sign in Fabric.

As Fabric 2.x computes them (``protoutil/blockutils.go`` of v2.1.1, the same through 3.x):

- ``BlockDataHash``: SHA-256 over the concatenation of ``block.data.data`` (the serialised envelopes);
- ``BlockHeaderBytes``: DER ``SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING data_hash }``;
- the orderer's block signature (metadata ``SIGNATURES``): ECDSA over ``value || signature_header ||
  BlockHeaderBytes(header)`` by the signature header's creator;
- the validation code of transaction ``i`` (metadata ``TRANSACTIONS_FILTER``): byte ``i``, 0 = ``VALID``.
  The peer writes it, and it is not covered by the orderer's signature.

Every signature in Fabric is ECDSA with SHA-256 by a certificate that chains to its MSP's CA, with a low S.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from verifier import _fabric_pb as pb
from verifier.errors import AnchorMismatch, BadSignature, KeyMismatch, MalformedInput
from verifier.trust import FabricNetwork, FabricOrg

__all__ = [
    "MAX_BLOCK_BYTES",
    "Signer",
    "block_header_bytes",
    "check_block_form",
    "check_data_hash",
    "check_identity_signature",
    "check_orderer_signature",
    "parse",
    "validation_code",
]

MAX_BLOCK_BYTES = 16 * 1024 * 1024
_SIGNATURES, _LAST_CONFIG, _FILTER, _ORDERER, _COMMIT_HASH = range(5)  # common.BlockMetadataIndex
_P256_HALF_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551 // 2


@dataclass(frozen=True)
class Signer:
    """Who made a Fabric signature that verified: the MSP id and the certificate's subject."""

    msp_id: str
    subject: str


def parse(message: Any, data: bytes, what: str) -> Any:
    """``data`` parsed as the protobuf ``message`` class; ``MalformedInput`` naming ``what`` if it is not one."""
    try:
        return message.FromString(data)
    except Exception as exc:  # protobuf raises DecodeError and, for deep nesting, RecursionError
        raise MalformedInput(f"fabric {what} does not parse: {type(exc).__name__}") from exc


def _der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _der_length(len(body)) + body


def block_header_bytes(header: Any) -> bytes:
    """``BlockHeaderBytes``: the DER that orderers sign, as Go's ``asn1.Marshal`` writes it."""
    number = int(header.number)
    integer = number.to_bytes(number.bit_length() // 8 + 1, "big")  # minimal, with a 0 byte if the top bit is set
    body = _der(0x02, integer) + _der(0x04, bytes(header.previous_hash)) + _der(0x04, bytes(header.data_hash))
    return _der(0x30, body)


def check_block_form(block: Any, raw: bytes) -> None:
    """0. The block is in the one form Fabric 2.x writes, so that no byte goes unchecked but the peer's own
    commit hash: ``raw`` is the canonical encoding of ``block``; the metadata has its five entries; the
    LAST_CONFIG entry repeats the index the orderer signed, ORDERER is empty, COMMIT_HASH is a bare 32-byte
    value (the peer's hash over its state updates, which only a live peer can confirm) (``AnchorMismatch``)."""
    where = f"fabric block {block.header.number}"
    known = pb.common.Block()
    known.CopyFrom(block)
    known.DiscardUnknownFields()
    if bytes(known.SerializeToString()) != raw:
        raise AnchorMismatch(f"{where} is not in canonical protobuf form (extra, repeated or reordered fields)")
    entries = [bytes(m) for m in block.metadata.metadata]
    if len(entries) != 5:
        raise AnchorMismatch(f"{where} has {len(entries)} metadata entries, want 5 (fabric 2.x)")
    signed = parse(pb.common.Metadata, entries[_SIGNATURES], "block signature metadata")
    orderer = parse(pb.common.OrdererBlockMetadata, bytes(signed.value), "orderer block metadata")
    last_config = pb.common.Metadata(value=pb.common.LastConfig(index=orderer.last_config.index).SerializeToString())
    if entries[_LAST_CONFIG] != bytes(last_config.SerializeToString()):
        raise AnchorMismatch(f"{where} LAST_CONFIG metadata differs from the signed last config index "
                             f"{orderer.last_config.index}")
    if entries[_ORDERER]:
        raise AnchorMismatch(f"{where} ORDERER metadata must be empty in fabric 2.x, got {len(entries[_ORDERER])} bytes")
    commit = parse(pb.common.Metadata, entries[_COMMIT_HASH], "commit hash metadata")
    canonical = pb.common.Metadata(value=bytes(commit.value)).SerializeToString()
    if len(commit.value) != 32 or entries[_COMMIT_HASH] != bytes(canonical):
        raise AnchorMismatch(f"{where} COMMIT_HASH metadata is not one 32-byte hash")


def check_data_hash(block: Any) -> None:
    """1. The header's data hash is SHA-256 over the block's envelopes (``AnchorMismatch``)."""
    calculated = hashlib.sha256(b"".join(bytes(d) for d in block.data.data)).digest()
    if calculated != bytes(block.header.data_hash):
        raise AnchorMismatch(f"fabric block {block.header.number} data hash mismatch: calculated "
                             f"{calculated.hex()}, header has {bytes(block.header.data_hash).hex()}")


def check_orderer_signature(block: Any, network: FabricNetwork) -> Signer:
    """2. A signature in the ``SIGNATURES`` metadata verifies, by a certificate of an orderer org of the trust
    root that chains to its CA (``BadSignature``, ``KeyMismatch``); returns who signed."""
    if len(block.metadata.metadata) <= _SIGNATURES:
        raise BadSignature(f"fabric block {block.header.number} has no orderer signature metadata")
    metadata = parse(pb.common.Metadata, bytes(block.metadata.metadata[_SIGNATURES]), "block signature metadata")
    reasons = []
    for sig in metadata.signatures:
        header = parse(pb.common.SignatureHeader, bytes(sig.signature_header), "block signature header")
        signed = bytes(metadata.value) + bytes(sig.signature_header) + block_header_bytes(block.header)
        try:
            return check_identity_signature(bytes(header.creator), signed, bytes(sig.signature),
                                            _orgs(network, network.orderers), role="orderer")
        except (BadSignature, KeyMismatch) as exc:
            reasons.append(exc.message)
    raise BadSignature(f"fabric block {block.header.number} has no valid orderer signature: "
                       + ("; ".join(reasons) or "no signatures"))


def validation_code(block: Any, tx_index: int) -> int:
    """The ``TRANSACTIONS_FILTER`` byte of transaction ``tx_index`` (``AnchorMismatch`` if there is none)."""
    codes = bytes(block.metadata.metadata[_FILTER]) if len(block.metadata.metadata) > _FILTER else b""
    if len(codes) != len(block.data.data):
        raise AnchorMismatch(f"fabric block {block.header.number} validation codes cover {len(codes)} "
                             f"transactions, the block has {len(block.data.data)}")
    return codes[tx_index]


def check_identity_signature(serialized: bytes, data: bytes, signature: bytes, orgs: dict[str, FabricOrg], *,
                             role: str) -> Signer:
    """Check a Fabric signature: ``serialized`` (an ``msp.SerializedIdentity``) names one of ``orgs`` by MSP
    id, its certificate is issued by one of that org's CAs and carries the node OU ``role`` (``KeyMismatch``),
    and ``signature`` is a low-S ECDSA P-256/SHA-256 signature over ``data`` by it (``BadSignature``)."""
    identity = parse(pb.identities.SerializedIdentity, serialized, "serialized identity")
    org = orgs.get(identity.mspid)
    if org is None:
        raise KeyMismatch(f"{role} identity of msp {identity.mspid[:80]!r} is not one the trust root names "
                          f"for that role (want one of {sorted(orgs)})")
    cert, subject, key = _certificate(bytes(identity.id_bytes), identity.mspid)
    _check_issued_by(cert, subject, org, role)
    try:
        r_s = decode_dss_signature(signature)
        key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as exc:
        raise BadSignature(f"{role} signature by {org.msp_id} ({subject}) does not verify") from exc
    if r_s[1] > _P256_HALF_N:
        raise BadSignature(f"{role} signature by {org.msp_id} has a high s value (fabric refuses those)")
    return Signer(org.msp_id, subject)


def _orgs(network: FabricNetwork, names: tuple[str, ...]) -> dict[str, FabricOrg]:
    return {org.msp_id: org for org in network.orgs if org.msp_id in names}


def _certificate(pem: bytes, msp_id: str) -> tuple[x509.Certificate, str, ec.EllipticCurvePublicKey]:
    """The certificate, its subject and its P-256 key; every lazily parsed part is read here, so that a
    malformed one is refused here (cryptography raises ValueError, InvalidVersion, UnsupportedAlgorithm)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
        subject, key = cert.subject.rfc4514_string(), cert.public_key()
        units = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)]
    except Exception as exc:
        raise KeyMismatch(f"the identity of msp {msp_id[:80]!r} carries no usable x.509 pem certificate") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1) or \
            not all(isinstance(u, str) for u in units):
        raise KeyMismatch(f"the certificate of msp {msp_id[:80]!r} ({subject}) has no ecdsa p-256 key")
    return cert, subject, key


def _check_issued_by(cert: x509.Certificate, subject: str, org: FabricOrg, role: str) -> None:
    for der in org.ca_certificates:
        try:
            cert.verify_directly_issued_by(x509.load_der_x509_certificate(der))
        except Exception:  # noqa: BLE001, S112 - not issued by this CA, for whatever reason: try the next
            continue
        break
    else:
        raise KeyMismatch(f"{role} certificate {subject} is not issued by a ca of {org.msp_id} in the trust root")
    units = [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)]
    if role not in units:
        raise KeyMismatch(f"{role} certificate {subject} of {org.msp_id} is not a {role} (its organizational "
                          f"units: {units})")
