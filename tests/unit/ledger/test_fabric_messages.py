"""``ledger.fabric`` messages and identity, offline: low-S signatures, the transaction id rule, and the
proposal and envelope structure a Fabric peer and orderer parse."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from ledger.errors import KeyMaterialError
from ledger.fabric import Identity, ecdsa_signer, messages
from ledger.fabric import _protos as pb

_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_MOMENT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _identity(tmp_path: Path) -> tuple[Identity, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "User1@org1.tiezheng.local")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(_MOMENT).not_valid_after(_MOMENT.replace(year=2036))
            .sign(key, hashes.SHA256()))
    (tmp_path / "signcerts").mkdir()
    (tmp_path / "keystore").mkdir()
    (tmp_path / "signcerts" / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "keystore" / "priv_sk").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return Identity.from_msp_dir("Org1MSP", tmp_path), key


def test_ecdsa_signer_signatures_are_low_s_and_verify() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sign = ecdsa_signer(key)
    for i in range(64):
        message = f"message {i}".encode()
        signature = sign(message)
        assert decode_dss_signature(signature)[1] <= _N // 2
        key.public_key().verify(signature, message, ec.ECDSA(hashes.SHA256()))


def test_identity_from_msp_dir_missing_key(tmp_path: Path) -> None:
    (tmp_path / "signcerts").mkdir()
    with pytest.raises(KeyMaterialError, match="needs one signcerts/\\*.pem and one keystore key, got 0 and 0"):
        Identity.from_msp_dir("Org1MSP", tmp_path)


def test_proposal_tx_id_and_signature(tmp_path: Path) -> None:
    identity, key = _identity(tmp_path)

    prop = messages.proposal(identity, "evidence", "checkpoints", [b"GetLatest", b"origin"], _MOMENT)

    signature_header = pb.common.SignatureHeader.FromString(prop.signature_header)
    assert prop.tx_id == hashlib.sha256(signature_header.nonce + signature_header.creator).hexdigest()
    creator = pb.identities.SerializedIdentity.FromString(signature_header.creator)
    assert (creator.mspid, creator.id_bytes) == ("Org1MSP", identity.certificate)
    header = pb.common.Header.FromString(pb.proposal.Proposal.FromString(prop.signed.proposal_bytes).header)
    channel_header = pb.common.ChannelHeader.FromString(header.channel_header)
    assert (channel_header.channel_id, channel_header.tx_id) == ("evidence", prop.tx_id)
    assert channel_header.type == pb.common.ENDORSER_TRANSACTION
    assert channel_header.timestamp.ToDatetime(tzinfo=UTC) == _MOMENT
    key.public_key().verify(prop.signed.signature, prop.signed.proposal_bytes, ec.ECDSA(hashes.SHA256()))


def test_transaction_envelope_carries_the_endorsements(tmp_path: Path) -> None:
    identity, key = _identity(tmp_path)
    prop = messages.proposal(identity, "evidence", "checkpoints", [b"AnchorCheckpoint"], _MOMENT)
    endorsement = pb.proposal_response.Endorsement(endorser=b"peer", signature=b"sig")

    envelope = messages.transaction_envelope(identity, prop, b"result", [endorsement])

    key.public_key().verify(envelope.signature, envelope.payload, ec.ECDSA(hashes.SHA256()))
    payload = pb.common.Payload.FromString(envelope.payload)
    assert payload.header.SerializeToString() == prop.header
    tx = pb.transaction.Transaction.FromString(payload.data)
    action = pb.transaction.ChaincodeActionPayload.FromString(tx.actions[0].payload)
    assert tx.actions[0].header == prop.signature_header
    assert action.chaincode_proposal_payload == prop.chaincode_payload
    assert action.action.proposal_response_payload == b"result"
    assert list(action.action.endorsements) == [endorsement]
