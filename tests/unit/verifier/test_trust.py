"""Tests for verifier/trust.py: the one trust-root file, parsed strictly, every section validated."""

from __future__ import annotations

import base64
import datetime
import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from verifier_testkit import ORIGIN, KeyPair, trust_root_json

from verifier.errors import MalformedInput, UntrustedLog
from verifier.trust import MAX_TRUST_ROOT_BYTES, TRUST_ROOT_TYPE, TrustRoot


def _certificate(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.datetime(2025, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture(scope="module")
def certificates() -> dict[str, str]:
    return {name: _certificate(name) for name in ("ca.org1", "ca.org2", "ca.orderer", "tsa")}


@pytest.fixture(scope="module")
def ed25519_pem() -> str:
    public = ed25519.Ed25519PrivateKey.generate().public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


@pytest.fixture(scope="module")
def full(log_key: KeyPair, other_key: KeyPair, certificates: dict[str, str], ed25519_pem: str) -> dict[str, Any]:
    return {
        "v": 1,
        "type": TRUST_ROOT_TYPE,
        "logs": [{"origin": ORIGIN, "public_key": log_key.pem}],
        "fabric": {
            "channel": "tiezheng",
            "chaincode": "checkpoints",
            "orgs": [
                {"msp_id": "Org1MSP", "ca_certificates": [certificates["ca.org1"]]},
                {"msp_id": "Org2MSP", "ca_certificates": [certificates["ca.org2"]]},
                {"msp_id": "OrdererMSP", "ca_certificates": [certificates["ca.orderer"]]},
            ],
            "endorsers": ["Org1MSP", "Org2MSP"],
            "orderers": ["OrdererMSP"],
        },
        "regulator_chains": [{"chain_id": 31337, "contract": "0x" + "ab" * 20, "operators": ["0x" + "cd" * 20]}],
        "timestamp_authorities": [{"name": "test tsa", "certificates": [certificates["tsa"]]}],
        "witnesses": {
            "quorum": 1,
            "keys": [
                {"name": "witness.example/w1", "public_key": other_key.pem},
                {"name": "witness.example/w2", "public_key": ed25519_pem},
            ],
        },
    }


def _chain(**changes: Any) -> dict[str, Any]:
    return {"chain_id": 1, "contract": "0x" + "ab" * 20, "operators": ["0x" + "cd" * 20], **changes}


def _parse(obj: Any) -> TrustRoot:
    return TrustRoot.from_bytes(json.dumps(obj).encode())


def _refused(obj: Any, match: str) -> None:
    with pytest.raises(MalformedInput, match=match):
        _parse(obj)


def _changed(full: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    obj = json.loads(json.dumps(full))
    *parents, last = path.split(".")
    target = obj
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    if isinstance(target, list):
        target[int(last)] = value
    elif value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return obj


_DELETE = object()


def test_from_bytes_minimal(log_key: KeyPair) -> None:
    root = TrustRoot.from_bytes(trust_root_json(log_key))
    assert [(k.origin, k.fingerprint) for k in root.logs] == [(ORIGIN, log_key.fingerprint)]
    assert root.fabric is None and root.regulator_chains == () and root.witnesses.keys == ()


def test_from_bytes_every_section(full: dict[str, Any]) -> None:
    root = _parse(full)
    assert root.fabric is not None and root.fabric.endorsers == ("Org1MSP", "Org2MSP")
    assert [o.msp_id for o in root.fabric.orgs] == ["Org1MSP", "Org2MSP", "OrdererMSP"]
    assert root.regulator_chains[0].chain_id == 31337
    assert root.timestamp_authorities[0].name == "test tsa"
    assert [w.algorithm for w in root.witnesses.keys] == ["sm2", "ed25519"] and root.witnesses.quorum == 1


def test_to_json_round_trips(full: dict[str, Any]) -> None:
    root = _parse(full)
    again = TrustRoot.from_bytes(root.to_json().encode())
    assert (again.logs, again.fabric, again.regulator_chains) == (root.logs, root.fabric, root.regulator_chains)
    assert (again.timestamp_authorities, again.witnesses) == (root.timestamp_authorities, root.witnesses)


def test_digest_is_sm3_of_the_file(log_key: KeyPair) -> None:
    data = trust_root_json(log_key)
    assert TrustRoot.from_bytes(data).digest != TrustRoot.from_bytes(data + b"\n").digest


def test_for_log_names_one_key(log_key: KeyPair) -> None:
    root = TrustRoot.for_log(ORIGIN, log_key.pem)
    assert [k.fingerprint for k in root.log_keys(ORIGIN)] == [log_key.fingerprint]


def test_log_keys_of_unknown_origin(log_key: KeyPair) -> None:
    root = TrustRoot.for_log(ORIGIN, log_key.pem)
    with pytest.raises(UntrustedLog, match=f"names no key for log 'x' \\(it names: '{ORIGIN}'\\)"):
        root.log_keys("x")


def test_from_file_missing(tmp_path: Path) -> None:
    with pytest.raises(MalformedInput, match="cannot read trust root .*No such file"):
        TrustRoot.from_file(tmp_path / "none.json")


def test_from_file_too_large(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b" " * (MAX_TRUST_ROOT_BYTES + 1))
    with pytest.raises(MalformedInput, match="is larger than 4194304 bytes"):
        TrustRoot.from_file(path)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"{", "trust root is not valid json"),
        (b"[]", "trust root must be a json object, got array"),
        (b'{"v": 1, "v": 1}', "duplicate key 'v'"),
        (b'{"v": 1, "type": "tiezheng.trust-root/v1", "logs": [], "logs": []}', "duplicate key 'logs'"),
    ],
)
def test_from_bytes_not_a_root(data: bytes, match: str) -> None:
    with pytest.raises(MalformedInput, match=match):
        TrustRoot.from_bytes(data)


@pytest.mark.parametrize(
    ("path", "value", "match"),
    [
        ("v", 2, "trust root.v must be 1, got 2"),
        ("v", True, "trust root.v must be 1, got True"),
        ("type", "tiezheng.bundle/v1", "trust root type is 'tiezheng.bundle/v1', want 'tiezheng.trust-root/v1'"),
        ("logs", _DELETE, "trust root is missing field 'logs'"),
        ("extra", 1, "trust root has unknown field 'extra'"),
        ("logs", {}, "trust root.logs must be a list, got object"),
        ("logs", None, "trust root.logs must be a list, got null"),
        ("logs.0.public_key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
         r"trust root.logs\[0\].public_key: public key is not a subjectpublickeyinfo"),
        ("logs.0.public_key", "not pem", r"trust root.logs\[0\].public_key: public key is not one pem block"),
        ("logs.0.origin", "", r"trust root.logs\[0\].origin must be 1 to 255 characters"),
        ("logs.0.origin", "a\nb", r"trust root.logs\[0\].origin must be 1 to 255 characters"),
        ("logs.0.key_id", "x", r"trust root.logs\[0\] has unknown field 'key_id'"),
        ("fabric.orgs.0.ca_certificates", [], "must list at least one certificate"),
        ("fabric.orgs.0.ca_certificates", ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"],
         r"fabric.orgs\[0\].ca_certificates\[0\] is not an x.509 certificate"),
        ("fabric.orgs.0.msp_id", "Org 1", r"msp_id must be an msp id"),
        ("fabric.orgs.1.msp_id", "Org1MSP", r"trust root.fabric.orgs\[1\] repeats an earlier entry"),
        ("fabric.endorsers", ["Org3MSP"], r"fabric.endorsers\[0\] must be the msp_id of one of fabric.orgs"),
        ("fabric.endorsers", [], "fabric.endorsers must name at least one org, each once"),
        ("fabric.orderers", ["OrdererMSP", "OrdererMSP"], "fabric.orderers must name at least one org, each once"),
        ("fabric.channel", "Tiezheng", "fabric.channel must be a fabric channel name"),
        ("regulator_chains.0", _chain(chain_id=0), "chain_id must be a positive"),
        ("regulator_chains.0", _chain(chain_id=2**53), "is outside"),
        ("regulator_chains.0", _chain(contract="0x" + "AB" * 20), "contract must be 0x and 40 lower-case"),
        ("regulator_chains.0", _chain(chain_id=-1), r"chain_id must be an integer in"),
        ("regulator_chains.0", _chain(operators=[]), "operators must name at least one account"),
        ("regulator_chains.0", _chain(operators=["0x" + "cd" * 20] * 2), "operators must name at least one account, each once"),
        ("regulator_chains.0", _chain(operators=["0x" + "CD" * 20]), r"operators\[0\] must be 0x and 40 lower-case"),
        ("regulator_chains.0", {"chain_id": 1, "contract": "0x" + "ab" * 20}, "missing field 'operators'"),
        ("timestamp_authorities.0.certificates", ["x"], "is not one pem block of type 'CERTIFICATE'"),
        ("witnesses.quorum", 3, r"witnesses.quorum must be an integer in \[0, 2\], got 3"),
        ("witnesses.keys.0.name", "has space", "witnesses.keys\\[0\\].name must be a key name"),
        ("witnesses.keys.1.name", "witness.example/w1", r"witnesses.keys\[1\] repeats an earlier entry"),
        ("witnesses.keys.0.public_key", "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----",
         "want an sm2 or ed25519 key"),
    ],
)
def test_from_bytes_refuses(full: dict[str, Any], path: str, value: Any, match: str) -> None:
    _refused(_changed(full, path, value), match)


def test_from_bytes_certificate_of_another_pem_type(full: dict[str, Any], log_key: KeyPair) -> None:
    _refused(_changed(full, "timestamp_authorities.0.certificates", [log_key.pem]), "type 'CERTIFICATE'")


def test_from_bytes_repeated_log_key(full: dict[str, Any], log_key: KeyPair) -> None:
    entry = {"origin": ORIGIN, "public_key": log_key.pem}
    _refused(_changed(full, "logs", [entry, entry]), r"trust root.logs\[1\] repeats an earlier entry")


def test_from_bytes_empty_sections_are_absent(log_key: KeyPair) -> None:
    root = TrustRoot.from_bytes(trust_root_json(log_key, regulator_chains=[], timestamp_authorities=None))
    assert root.regulator_chains == () and root.timestamp_authorities == ()


def test_log_keys_message_quotes_origin_for_the_shell(log_key: KeyPair) -> None:
    with pytest.raises(UntrustedLog, match="trust-root init --origin 'plant 2/log' --log-key KEY.pem"):
        TrustRoot.for_log(ORIGIN, log_key.pem).log_keys("plant 2/log")


def test_from_bytes_refuses_a_ber_certificate(full: dict[str, Any], certificates: dict[str, str]) -> None:
    """A CA certificate whose critical flag is BER TRUE (01, not FF) is refused: verify.html refuses the
    same bytes (verifier/web/test/x509.test.js), so both verifiers trust exactly the same certificates."""
    der = x509.load_pem_x509_certificate(certificates["ca.org1"].encode()).public_bytes(serialization.Encoding.DER)
    at = der.index(b"\x01\x01\xff")
    ber = der[: at + 2] + b"\x01" + der[at + 3 :]
    lines = textwrap.wrap(base64.b64encode(ber).decode(), 64)
    ber_pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
    _refused(_changed(full, "fabric.orgs.0.ca_certificates", [ber_pem]),
             r"fabric.orgs\[0\].ca_certificates\[0\] is not an x.509 certificate")
