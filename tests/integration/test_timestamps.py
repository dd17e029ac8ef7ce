"""RFC 3161 timestamps of checkpoints against a real TSA (the test TSA: ``openssl ts -reply`` behind HTTP):
the ``tsa`` backend through the anchorer, a TSA that is down and comes back, and the verifier's checks of the
token, including a tamper of every byte of a real token."""

from __future__ import annotations

import base64
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc3161_client as tsp
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.tsa import TimestampAuthority
from ledger.checkpoint import SignedCheckpoint
from ledger.log import TransparencyLog
from tests import processes
from tests.conftest import ROOT, TsaServer
from tests.helpers import grow as _grow
from verifier.checkpoint import Checkpoint
from verifier.errors import InvalidProof, MalformedInput, RootMismatch, TimestampInvalid
from verifier.timestamps import TimestampAnchor, verify_timestamp_anchor, verify_token
from verifier.trust import TimestampAuthority as TrustedTSA

pytestmark = pytest.mark.tsa


def _trusted(tsa: TsaServer) -> TrustedTSA:
    der = x509.load_pem_x509_certificate(tsa.root_pem.encode()).public_bytes(Encoding.DER)
    return TrustedTSA(name="test-tsa", certificates=(der,))


def _anchor(log: TransparencyLog, receipt: dict[str, Any], first: int) -> TimestampAnchor:
    proof = [h.hex() for h in log.consistency_proof(first, receipt["tree_size"])]
    return TimestampAnchor.from_json({**receipt, "consistency_proof": proof})


@pytest.fixture
def stamped(log: TransparencyLog, tsa: TsaServer) -> tuple[TransparencyLog, dict[str, Any], SignedCheckpoint]:
    first = _grow(log, 3)
    _grow(log, 2)
    anchorer = Anchorer(log, [TimestampAuthority(tsa.url, name="test-tsa", roots=[tsa.root_pem])])
    [receipt] = anchorer.run_once()
    return log, receipt.to_json(), first


def test_tsa_backend_timestamps_newest_checkpoint(stamped: Any, tsa: TsaServer) -> None:
    log, receipt, first = stamped
    assert receipt["kind"] == "rfc3161" and receipt["tree_size"] == 5 and receipt["tsa"] == "test-tsa"
    assert receipt["checkpoint"] == log.latest_checkpoint().text  # type: ignore[union-attr]
    anchor = _anchor(log, receipt, first.checkpoint.tree_size)
    result = verify_timestamp_anchor(anchor, checkpoint=Checkpoint.from_text(first.text), authorities=[_trusted(tsa)])
    assert result.authority == "test-tsa" and result.hash_algorithm == "sha256"
    assert result.gen_time.isoformat().startswith(receipt["gen_time"][:19])
    assert log.anchors_covering(first.checkpoint.tree_size)[0]["kind"] == "rfc3161"


def test_verify_token_wrong_root(stamped: Any, tmp_path: Path) -> None:
    _, receipt, _ = stamped
    other = tmp_path / "other"
    code = "import sys, pathlib; sys.path.insert(0, sys.argv[1]); import tsa; tsa.init_state(pathlib.Path(sys.argv[2]))"
    subprocess.run([sys.executable, "-c", code, str(ROOT / "network" / "tsa"), str(other)], check=True)
    root = x509.load_pem_x509_certificate((other / "root.pem").read_bytes()).public_bytes(Encoding.DER)
    with pytest.raises(TimestampInvalid, match="does not verify against a tsa the trust root names: other:"):
        verify_token(base64.b64decode(receipt["token"]), message=receipt["checkpoint"].encode(),
                     authorities=[TrustedTSA(name="other", certificates=(root,))])


def test_verify_token_other_checkpoint(stamped: Any, tsa: TsaServer) -> None:
    _, receipt, first = stamped
    with pytest.raises(TimestampInvalid, match="is not the sha256 of the checkpoint"):
        verify_token(base64.b64decode(receipt["token"]), message=first.text.encode(), authorities=[_trusted(tsa)])


def test_timestamp_anchor_proof_from_other_tree(stamped: Any, tsa: TsaServer) -> None:
    log, receipt, first = stamped
    anchor = _anchor(log, receipt, 4)
    with pytest.raises((InvalidProof, RootMismatch)):
        verify_timestamp_anchor(anchor, checkpoint=Checkpoint.from_text(first.text), authorities=[_trusted(tsa)])


def test_verify_token_every_byte_flipped(stamped: Any, tsa: TsaServer) -> None:
    """Flipping any one byte of a real token is refused: as malformed, or as a failed check."""
    _, receipt, _ = stamped
    token, message, trusted = base64.b64decode(receipt["token"]), receipt["checkpoint"].encode(), [_trusted(tsa)]
    verify_token(token, message=message, authorities=trusted)
    accepted = []
    for offset in range(len(token)):
        mutated = bytearray(token)
        mutated[offset] ^= 0x01
        try:
            verify_token(bytes(mutated), message=message, authorities=trusted)
        except (MalformedInput, TimestampInvalid):
            continue
        accepted.append(offset)
    assert accepted == []


def test_tsa_down_then_back(log: TransparencyLog, tmp_path: Path, tsa: TsaServer) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = TimestampAuthority(f"http://127.0.0.1:{port}/", timeout=2.0)
    anchorer = Anchorer(log, [backend])
    _grow(log, 2)
    assert anchorer.run_once() == []
    assert [r["status"] for r in anchorer.book.rows("rfc3161")] == ["pending"]
    server = processes.start([sys.executable, str(ROOT / "network" / "tsa" / "tsa.py"), "--state",
                              str(tmp_path / "tsa"), "--port", str(port)], r"tsa: ready")
    try:
        [caught_up] = anchorer.run_once()
        assert caught_up.tree_size == 2
        _grow(log, 1)
        [newest] = anchorer.run_once()
        assert newest.tree_size == 3
    finally:
        server.stop()
    assert [r["status"] for r in anchorer.book.rows("rfc3161")] == ["anchored", "anchored"]




def test_verify_token_refuses_tsa_certificate_without_critical_eku(tmp_path: Path) -> None:
    """RFC 3161 §2.3: the TSA certificate's timeStamping EKU must be critical. OpenSSL will not sign with a
    certificate that lacks it, so the token's embedded certificate is swapped for one re-issued to the same key
    and serial by the same root, with the EKU not critical: the signature still verifies, the chain check refuses the purpose."""
    sys.path.insert(0, str(ROOT / "network" / "tsa"))
    import tsa as test_tsa  # network/tsa/tsa.py, used here without its HTTP server

    state = tmp_path / "tsa"
    test_tsa.init_state(state)
    message = b"a checkpoint note\n"
    query = tsp.TimestampRequestBuilder().data(message).hash_algorithm(tsp.HashAlgorithm.SHA256).build()
    token = tsp.decode_timestamp_response(test_tsa.reply(state, query.as_bytes())).time_stamp_token()
    root = x509.load_pem_x509_certificate((state / "root.pem").read_bytes()).public_bytes(Encoding.DER)
    trusted = [TrustedTSA(name="test-tsa", certificates=(root,))]
    verify_token(token, message=message, authorities=trusted)
    (tmp_path / "lax.cnf").write_text("[tsa]\nbasicConstraints = critical,CA:FALSE\nkeyUsage = critical,digitalSignature\n"
                                      "extendedKeyUsage = timeStamping\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(state / "tsa.csr"), "-CA", str(state / "root.pem"), "-CAkey",
                    str(state / "root.key"), "-set_serial", "2", "-days", "30", "-extfile", str(tmp_path / "lax.cnf"),
                    "-extensions", "tsa", "-outform", "DER", "-out", str(tmp_path / "lax.der")], check=True,
                   capture_output=True)
    info = cms.ContentInfo.load(token)
    info["content"]["certificates"] = [cms.CertificateChoices.load((tmp_path / "lax.der").read_bytes())]
    with pytest.raises(TimestampInvalid, match="test-tsa: .*unsuitable certificate purpose"):
        verify_token(info.dump(force=True), message=message, authorities=trusted)
