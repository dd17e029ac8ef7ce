"""The checkpoint chaincode on the real Fabric 2.1.1 network (three Raft orderers, two peer orgs, TLS
everywhere, the chaincode as a service), driven with the built ``peer`` CLI.

The network comes from ``network/fabric/up.sh``: ``TIEZHENG_TEST_FABRIC_NETWORK`` names its ``network.json``;
else this repository's own network is used when it runs; else, with ``--require-services``, the fixture starts
it (building Fabric if needed) and stops it afterwards. Every test anchors under a fresh origin, so a reused
network's earlier state does not matter.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from ledger.sm import SM2PrivateKey
from tests.integration.fabric_cli import REPO_ROOT, PeerCLI, SignedLog, leaves, network_cli

pytestmark = pytest.mark.fabric



@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The peer CLI against a running network (see ``fabric_cli.network_cli`` for which one)."""
    yield from network_cli(pytestconfig)


@pytest.fixture
def key() -> SM2PrivateKey:
    """A fresh log key."""
    return SM2PrivateKey.generate()


@pytest.fixture
def log(cli: PeerCLI, key: SM2PrivateKey) -> SignedLog:
    """A log under a fresh origin whose key is registered on the channel (endorsed by both orgs)."""
    origin = f"tiezheng.test/{uuid.uuid4().hex[:12]}"
    registered = cli.invoke("RegisterLogKey", origin, key.public.to_pem())
    assert registered.ok, registered.stderr
    return SignedLog(origin, key, leaves(8))


def _latest(cli: PeerCLI, org: int, origin: str) -> dict[str, Any]:
    out = cli.query(org, "GetLatest", origin)
    assert out.ok, out.stderr
    return dict(json.loads(out.stdout))


def test_chaincode_committed_with_both_orgs_policy(cli: PeerCLI) -> None:
    for org in (1, 2):
        definition = cli.committed_definition(org)
        assert definition["approvals"] == {"Org1MSP": True, "Org2MSP": True}
        assert cli.signature_policy(org) == (2, [("Org1MSP", "PEER"), ("Org2MSP", "PEER")])


def test_invoke_endorsed_by_both_orgs_stores_checkpoint(cli: PeerCLI, log: SignedLog) -> None:
    text, root = log.checkpoint(5)

    stored = cli.invoke("AnchorCheckpoint", text, "[]")

    assert stored.ok, stored.stderr
    assert "status:200" in stored.stderr
    for org in (1, 2):
        latest = _latest(cli, org, log.origin)
        assert (latest["tree_size"], latest["root_hash"], latest["checkpoint"]) == (5, root.hex(), text)
    text8, root8 = log.checkpoint(8)
    assert cli.invoke("AnchorCheckpoint", text8, log.proof(5, 8)).ok
    history = json.loads(cli.query(2, "GetHistory", log.origin).stdout)
    assert [(h["tree_size"], h["previous_tree_size"], h["root_hash"]) for h in history] == [
        (5, 0, root.hex()), (8, 5, root8.hex())]


def test_invoke_endorsed_by_one_org_is_policy_failure_and_changes_nothing(cli: PeerCLI, log: SignedLog) -> None:
    text, root = log.checkpoint(3)
    assert cli.invoke("AnchorCheckpoint", text, "[]").ok
    later, _ = log.checkpoint(6)
    heights = (cli.height(1), cli.height(2))

    for org in (1, 2):
        alone = cli.invoke("AnchorCheckpoint", later, log.proof(3, 6), endorsers=(org,))

        assert not alone.ok
        assert "ENDORSEMENT_POLICY_FAILURE" in alone.stderr, alone.stderr
    # Both were ordered into blocks (as invalid), and neither changed the state.
    assert cli.height(1) >= heights[0] + 1 and cli.height(2) >= heights[1] + 1
    for org in (1, 2):
        latest = _latest(cli, org, log.origin)
        assert (latest["tree_size"], latest["root_hash"]) == (3, root.hex())


def test_fork_refused_by_chaincode(cli: PeerCLI, log: SignedLog, key: SM2PrivateKey) -> None:
    text, root = log.checkpoint(4)
    assert cli.invoke("AnchorCheckpoint", text, "[]").ok
    fork = SignedLog(log.origin, key, leaves(8, tag="other"))
    same_size, _ = fork.checkpoint(4)
    bigger, _ = fork.checkpoint(8)

    refused = cli.invoke("AnchorCheckpoint", same_size, "[]")
    inconsistent = cli.invoke("AnchorCheckpoint", bigger, fork.proof(4, 8))

    assert not refused.ok and "fork" in refused.stderr, refused.stderr
    assert not inconsistent.ok, inconsistent.stderr
    assert "checkpoint inconsistent with the latest anchored" in inconsistent.stderr, inconsistent.stderr
    for org in (1, 2):
        latest = _latest(cli, org, log.origin)
        assert (latest["tree_size"], latest["root_hash"]) == (4, root.hex())


def test_checkpoint_with_changed_root_refused(cli: PeerCLI, log: SignedLog) -> None:
    text, _ = log.checkpoint(2)
    origin, size, _root, rest = text.split("\n", 3)
    forged = "\n".join([origin, size, base64.b64encode(bytes(32)).decode(), rest])

    refused = cli.invoke("AnchorCheckpoint", forged, "[]")

    assert not refused.ok
    assert "checkpoint signature does not verify" in refused.stderr, refused.stderr
    nothing = cli.query(1, "GetLatest", log.origin)
    assert not nothing.ok and "checkpoint not found" in nothing.stderr, nothing.stderr


# --- crypto material: low-S CA signatures (network/fabric/crypto.sh, low_s.py) --------------------------

_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    length = bytes([n]) if n < 0x80 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes(
        (n.bit_length() + 7) // 8, "big")
    return bytes([tag]) + length + body


def _elements(der: bytes) -> list[bytes]:
    """The raw TLV elements inside one DER constructed element."""
    out, at = [], 0
    while at < len(der):
        length, start = der[at + 1], at + 2
        if length & 0x80:
            count = length & 0x7F
            length, start = int.from_bytes(der[start:start + count], "big"), start + count
        out.append(der[at:start + length])
        at = start + length
    return out


def _body(element: bytes) -> bytes:
    length, start = element[1], 2
    if length & 0x80:
        start += length & 0x7F
    return element[start:]


def _with_signature_s(cert_der: bytes, flip: bool) -> tuple[bytes, bytes, bytes]:
    """(certificate, tbs, signature) with the signature's S replaced by n - S when flip is set."""
    tbs, algorithm, bit_string = _elements(_body(cert_der))
    r_el, s_el = _elements(_body(_body(bit_string)[1:]))
    s = int.from_bytes(_body(s_el), "big")
    if flip:
        s = _P256_N - s
        s_el = _der(0x02, s.to_bytes(s.bit_length() // 8 + 1, "big"))
    signature = _der(0x30, r_el + s_el)
    return _der(0x30, tbs + algorithm + _der(0x03, b"\0" + signature)), tbs, signature


def _low_s(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["python3", str(REPO_ROOT / "network/fabric/low_s.py"), *map(str, paths)],
                          capture_output=True, text=True, check=False)


def test_crypto_material_has_only_low_s_cas(cli: PeerCLI) -> None:
    check = subprocess.run(["bash", str(REPO_ROOT / "network/fabric/crypto.sh"), "--check"],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stderr


def test_low_s_check_refuses_the_high_s_twin_of_a_ca(cli: PeerCLI, tmp_path: Path) -> None:
    ca = Path(cli.network["organizations"][0]["ca_cert"])
    cert = x509.load_pem_x509_certificate(ca.read_bytes())
    twin_der, tbs, signature = _with_signature_s(cert.public_bytes(Encoding.DER), flip=True)
    public = cert.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(signature, tbs, ec.ECDSA(hashes.SHA256()))  # the twin's signature is just as valid
    twin = tmp_path / "twin.pem"
    twin.write_text("-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(twin_der).decode()
                    + "-----END CERTIFICATE-----\n", encoding="ascii")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate", encoding="ascii")

    assert _low_s(ca).returncode == 0
    high = _low_s(ca, twin)
    assert (high.returncode, high.stdout.strip()) == (1, f"{twin}: high-S signature")
    unreadable = _low_s(garbage)
    assert unreadable.returncode == 2 and "no PEM certificate" in unreadable.stderr
