"""Tests for verifier/cli.py: exit codes 0/1/2 and what ``tiezheng verify`` prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from verifier_testkit import BundleParts, KeyPair, make_bundle

from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, verify_command


@pytest.fixture(scope="module")
def parts(log_key: KeyPair, actor_key: KeyPair) -> BundleParts:
    return make_bundle(log_key, actor_key)


def _write(tmp_path: Path, bundle: object, name: str = "bundle.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(bundle))
    return str(path)


def test_verify_command_valid(tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        verify_command(_write(tmp_path, parts.bundle), json_output=False, log_key=None, verbose=False)
        == EXIT_VALID
    )
    out = capsys.readouterr().out
    assert out.startswith("VALID: event ")
    assert "assurance: signed" in out and "proves nothing against the operator" in out
    assert "not pinned" in out


def test_verify_command_verbose_lists_steps(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        verify_command(_write(tmp_path, parts.bundle), json_output=False, log_key=None, verbose=True)
        == EXIT_VALID
    )
    assert "6. [ok] leaf hash and inclusion proof" in capsys.readouterr().out


def test_verify_command_json_pinned(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "log.pem"
    key.write_text(parts.log.pem)
    code = verify_command(_write(tmp_path, parts.bundle), json_output=True, log_key=str(key), verbose=False)
    data = json.loads(capsys.readouterr().out)
    assert code == EXIT_VALID
    assert data["valid"] is True and data["log_key_pinned"] is True and data["assurance"] == "signed"


def test_verify_command_invalid(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, parts.with_changes(leaf_index=5))
    assert verify_command(path, json_output=False, log_key=None, verbose=False) == EXIT_INVALID
    out = capsys.readouterr().out
    assert out.startswith(
        "INVALID: step 6 (leaf hash and inclusion proof) failed: root mismatch: calculated "
    )


def test_verify_command_invalid_json(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = parts.with_changes()
    bundle["event"]["kind"] = "permit.closed"
    assert (
        verify_command(_write(tmp_path, bundle), json_output=True, log_key=None, verbose=False)
        == EXIT_INVALID
    )
    data = json.loads(capsys.readouterr().out)
    assert (data["valid"], data["error"], data["exit_code"]) == (False, "BadSignature", 1)
    assert data["failure"].startswith(
        "step 4 (actor signature) failed: actor signature over the claim does not verify"
    )
    assert [s["status"] for s in data["steps"]] == ["ok", "ok", "ok", "failed"]


def test_verify_command_wrong_pinned_key(
    tmp_path: Path, parts: BundleParts, other_key: KeyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "other.pem"
    key.write_text(other_key.pem)
    assert (
        verify_command(_write(tmp_path, parts.bundle), json_output=False, log_key=str(key), verbose=False)
        == EXIT_INVALID
    )
    assert (
        "step 3 (checkpoint signature) failed: checkpoint has no signature by the log key"
        in capsys.readouterr().out
    )


def test_verify_command_verbose_failure_prints_traceback(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, parts.with_changes(leaf_index=5))
    assert verify_command(path, json_output=False, log_key=None, verbose=True) == EXIT_INVALID
    captured = capsys.readouterr()
    assert "RootMismatch" in captured.err
    assert "5. [ok] payload commitment" in captured.out


def test_verify_command_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = str(tmp_path / "absent.json")
    assert verify_command(path, json_output=False, log_key=None, verbose=False) == EXIT_UNUSABLE
    assert f"UNUSABLE INPUT: cannot read bundle {path}: No such file or directory" in capsys.readouterr().out


def test_verify_command_not_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(b"PK\x03\x04 a zip")
    assert verify_command(str(path), json_output=False, log_key=None, verbose=False) == EXIT_UNUSABLE
    assert "UNUSABLE INPUT: step 1 (structure) failed: bundle is not valid json" in capsys.readouterr().out


def test_verify_command_wrong_format_json(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, parts.with_changes(format="other"))
    assert verify_command(path, json_output=True, log_key=None, verbose=False) == EXIT_UNUSABLE
    data = json.loads(capsys.readouterr().out)
    assert (data["valid"], data["error"], data["exit_code"]) == (False, "MalformedInput", 2)
    assert "bundle format is 'other'" in data["failure"]


def test_verify_command_missing_log_key_file(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, parts.bundle)
    assert (
        verify_command(path, json_output=False, log_key=str(tmp_path / "no.pem"), verbose=False)
        == EXIT_UNUSABLE
    )
    assert "UNUSABLE INPUT: cannot read log key" in capsys.readouterr().out


def test_verify_command_log_key_not_a_key(
    tmp_path: Path, parts: BundleParts, capsys: pytest.CaptureFixture[str]
) -> None:
    key = tmp_path / "log.pem"
    key.write_text("hello")
    assert (
        verify_command(_write(tmp_path, parts.bundle), json_output=False, log_key=str(key), verbose=False)
        == EXIT_UNUSABLE
    )
    assert (
        "UNUSABLE INPUT: step 2 (log key) failed: public key is not one pem block" in capsys.readouterr().out
    )
