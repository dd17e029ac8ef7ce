"""Tests for verifier/cli.py: exit codes 0/1/2 and what ``tiezheng verify`` and ``trust-root init`` print."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verifier_testkit import ORIGIN, BundleParts, KeyPair, make_bundle, trust_root_json

from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, trust_root_init_command, verify_command
from verifier.trust import TrustRoot


@pytest.fixture(scope="module")
def parts(log_key: KeyPair, actor_key: KeyPair) -> BundleParts:
    return make_bundle(log_key, actor_key)


@pytest.fixture
def root_file(tmp_path: Path, log_key: KeyPair) -> str:
    path = tmp_path / "trust-root.json"
    path.write_bytes(trust_root_json(log_key))
    return str(path)


def _write(tmp_path: Path, bundle: object, name: str = "bundle.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return str(path)


def _verify(path: str, root: str | None, *, json_output: bool = False, verbose: bool = False) -> int:
    return verify_command(path, trust_root=root, json_output=json_output, verbose=verbose)


def test_verify_command_valid(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.bundle), root_file) == EXIT_VALID
    out = capsys.readouterr().out
    assert out.startswith("VALID: event ")
    assert "assurance: signed" in out and "proves nothing against the operator" in out


def test_verify_command_verbose_lists_steps(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.bundle), root_file, verbose=True) == EXIT_VALID
    assert "4. [ok] leaf hash and inclusion proof" in capsys.readouterr().out


def test_verify_command_json(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _verify(_write(tmp_path, parts.bundle), root_file, json_output=True)
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_VALID
    assert data["valid"] is True and data["assurance"] == "signed"
    assert data["trust_root"] == TrustRoot.from_file(root_file).digest
    assert data["log_key_fingerprint"] == parts.log.fingerprint


def test_verify_command_without_trust_root(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 7 of issue 8: without a trusted key the verifier said VALID with the bundle's own key."""
    assert _verify(_write(tmp_path, parts.bundle), None) == EXIT_UNUSABLE
    out = capsys.readouterr().out
    assert out.startswith("UNUSABLE INPUT: no trust root given")
    assert "--trust-root FILE" in out and "TIEZHENG_TRUST_ROOT" in out
    assert f"tiezheng trust-root init --origin {ORIGIN} --log-key KEY.pem -o trust-root.json" in out
    assert "VALID" not in out.replace("UNUSABLE", "")


def test_verify_command_without_trust_root_json(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.bundle), None, json_output=True) == EXIT_UNUSABLE
    data = json.loads(capsys.readouterr().out)
    assert (data["valid"], data["error"], data["exit_code"]) == (False, "UntrustedLog", 2)


def test_verify_command_trust_root_for_another_log(
    tmp_path: Path, parts: BundleParts, log_key: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "elsewhere.json"
    root.write_bytes(trust_root_json(log_key, origin="other.example/log"))
    assert _verify(_write(tmp_path, parts.bundle), str(root)) == EXIT_UNUSABLE
    out = capsys.readouterr().out
    assert f"step 2 (log key) failed: the trust root names no key for log '{ORIGIN}'" in out
    assert "(it names: 'other.example/log')" in out


def test_verify_command_invalid(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.with_changes(leaf_index=5)), root_file) == EXIT_INVALID
    out = capsys.readouterr().out
    assert out.startswith("INVALID: step 4 (leaf hash and inclusion proof) failed: root mismatch: calculated ")


def test_verify_command_invalid_json(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = parts.with_changes()
    bundle["event"]["kind"] = "permit.closed"
    assert _verify(_write(tmp_path, bundle), root_file, json_output=True) == EXIT_INVALID
    data = json.loads(capsys.readouterr().out)
    assert (data["valid"], data["error"], data["exit_code"]) == (False, "RootMismatch", 1)
    assert data["failure"].startswith("step 4 (leaf hash and inclusion proof) failed: root mismatch")
    assert [s["status"] for s in data["steps"]] == ["ok", "ok", "ok", "failed"]


def test_verify_command_untrusted_log_key(
    tmp_path: Path, parts: BundleParts, other_key: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "other.json"
    root.write_bytes(trust_root_json(other_key))
    assert _verify(_write(tmp_path, parts.bundle), str(root)) == EXIT_INVALID
    assert "step 2 (log key) failed: bundle.keys.log" in capsys.readouterr().out


def test_verify_command_verbose_failure_prints_traceback(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.with_changes(leaf_index=5)), root_file, verbose=True) == EXIT_INVALID
    captured = capsys.readouterr()
    assert "RootMismatch" in captured.err
    assert "3. [ok] checkpoint signature" in captured.out


def test_verify_command_missing_file(root_file: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.json")
    assert _verify(path, root_file) == EXIT_UNUSABLE
    assert f"UNUSABLE INPUT: cannot read bundle {path}: No such file or directory" in capsys.readouterr().out


def test_verify_command_not_json(tmp_path: Path, root_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(b"{ not json")
    assert _verify(str(path), root_file) == EXIT_UNUSABLE
    assert "UNUSABLE INPUT: step 1 (structure) failed: bundle is not valid json" in capsys.readouterr().out


def test_verify_command_zip_that_is_no_pack(tmp_path: Path, root_file: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A file starting like a zip is read as an evidence pack: a broken one is refused with reason ``zip``."""
    path = tmp_path / "pack.zip"
    path.write_bytes(b"PK\x03\x04 a zip")
    assert _verify(str(path), root_file) == EXIT_UNUSABLE
    assert "UNUSABLE INPUT [zip]: " in capsys.readouterr().out


def test_verify_command_leaf_index_2_60(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defect 3 of issue 8: this exited 1 (an invalid proof) although the format caps integers at 2^53 - 1."""
    assert _verify(_write(tmp_path, parts.with_changes(leaf_index=2**60)), root_file) == EXIT_UNUSABLE
    assert "integer 1152921504606846976 is outside ±(2^53 - 1)" in capsys.readouterr().out


def test_verify_command_wrong_format_json(
    tmp_path: Path, parts: BundleParts, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.with_changes(format="other")), root_file, json_output=True) == EXIT_UNUSABLE
    data = json.loads(capsys.readouterr().out)
    assert (data["valid"], data["error"], data["exit_code"]) == (False, "MalformedInput", 2)
    assert "bundle format is 'other'" in data["failure"]


def test_verify_command_missing_trust_root_file(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _verify(_write(tmp_path, parts.bundle), str(tmp_path / "no.json")) == EXIT_UNUSABLE
    assert "UNUSABLE INPUT: cannot read trust root" in capsys.readouterr().out


def test_verify_command_trust_root_not_a_trust_root(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "log.pem"
    root.write_text(parts.log.pem)
    assert _verify(_write(tmp_path, parts.bundle), str(root)) == EXIT_UNUSABLE
    assert "UNUSABLE INPUT: trust root is not valid json" in capsys.readouterr().out


def test_verify_command_escapes_terminal_controls(
    tmp_path: Path, log_key: KeyPair, actor_key: KeyPair, root_file: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = make_bundle(log_key, actor_key, key_id="det\x1b[2J\u202e#1").bundle
    assert _verify(_write(tmp_path, bundle), root_file) == EXIT_VALID
    out = capsys.readouterr().out
    assert "\x1b[2J" not in out and "\u202e" not in out and "'det\\x1b[2J\\u202e#1'" in out


def test_trust_root_init_writes_a_root_verify_accepts(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    key, out = tmp_path / "log.pem", tmp_path / "root.json"
    key.write_text(parts.log.pem)
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=False) == EXIT_VALID
    assert f"log '{ORIGIN}' with key {parts.log.fingerprint}" in capsys.readouterr().out
    assert _verify(_write(tmp_path, parts.bundle), str(out)) == EXIT_VALID


def test_trust_root_init_refuses_to_overwrite(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    key, out = tmp_path / "log.pem", tmp_path / "root.json"
    key.write_text(parts.log.pem)
    out.write_text("keep me")
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=False) == EXIT_UNUSABLE
    assert "exists; pass --force to overwrite it" in capsys.readouterr().out
    assert out.read_text() == "keep me"
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=True) == EXIT_VALID


def test_trust_root_init_bad_key_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key, out = tmp_path / "log.pem", tmp_path / "root.json"
    key.write_text("hello")
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=False) == EXIT_UNUSABLE
    assert "trust root.logs[0].public_key: public key is not one pem block" in capsys.readouterr().out
    assert not out.exists()


def test_trust_root_init_with_tsa_roots_and_witnesses(tmp_path: Path, log_key: KeyPair,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = tmp_path / "log.pem"
    key.write_text(log_key.pem)
    tsa = tmp_path / "tsa.pem"
    tsa.write_text(_self_signed_pem())
    witness_files = []
    for name in ("w1", "w2"):
        path = tmp_path / f"{name}.pub"
        path.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM,
                                                                                PublicFormat.SubjectPublicKeyInfo))
        witness_files.append(f"witness.test/{name}={path}")
    out = tmp_path / "root.json"
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=False,
                                   tsa_roots=[f"test-tsa={tsa}"], witnesses=witness_files) == EXIT_VALID
    root = TrustRoot.from_file(out)
    assert [t.name for t in root.timestamp_authorities] == ["test-tsa"]
    assert [w.name for w in root.witnesses.keys] == ["witness.test/w1", "witness.test/w2"]
    assert root.witnesses.quorum == 2 and "quorum 2" in capsys.readouterr().out
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=True,
                                   witnesses=witness_files, witness_quorum=3) == EXIT_UNUSABLE
    assert "quorum" in capsys.readouterr().out
    assert trust_root_init_command(origin=ORIGIN, log_key=str(key), out=str(out), force=True,
                                   tsa_roots=[str(tsa)]) == EXIT_UNUSABLE
    assert "want NAME=FILE" in capsys.readouterr().out


def _self_signed_pem() -> str:
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA Root")])
    now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(Encoding.PEM).decode()
