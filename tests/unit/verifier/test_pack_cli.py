"""``tiezheng verify PACK``: exit codes, the reason class in text and JSON, the bundle path unchanged."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, verify_command

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "packs"
ROOT = str(VECTORS / "trust-root.json")


def _pack(tmp_path: Path, case: str) -> str:
    path = tmp_path / f"{case}.zip"
    path.write_bytes(base64.b64decode(json.loads((VECTORS / f"{case}.json").read_text())["pack"]))
    return str(path)


def test_verify_pack_valid_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = verify_command(_pack(tmp_path, "valid-permit-pinned"), trust_root=ROOT, json_output=True, verbose=False)
    report = json.loads(capsys.readouterr().out)
    assert code == EXIT_VALID and report["valid"] and report["reason"] is None
    assert report["assurance"] == "signed" and report["scope"] == {"kind": "permit", "permit": "HW-0001"}
    assert [a["kind"] for a in report["anchors"]] == ["local"] and report["counts"]["media deleted"] == 1


def test_verify_pack_invalid_names_reason_and_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _pack(tmp_path, "file-hash--permit-pinned--flip-data-anchors--local.json-at-48")
    assert verify_command(path, trust_root=ROOT, json_output=True, verbose=False) == EXIT_INVALID
    body = json.loads(capsys.readouterr().out)
    assert (body["valid"], body["reason"], body["path"], body["exit_code"]) == (False, "file-hash",
                                                                              "anchors/local.json", 1)


def test_verify_pack_text_and_no_trust_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _pack(tmp_path, "chain-gap--permit-pinned--resigned-event-dropped")
    assert verify_command(path, trust_root=ROOT, json_output=False, verbose=False) == EXIT_INVALID
    assert "INVALID [chain-gap]: event on line 2" in capsys.readouterr().out
    assert verify_command(path, trust_root=None, json_output=False, verbose=False) == EXIT_UNUSABLE
    assert "UNUSABLE INPUT [untrusted-log]: no trust root given" in capsys.readouterr().out


def test_verify_pack_unusable_trust_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "root.json"
    bad.write_text("{}")
    code = verify_command(_pack(tmp_path, "valid-permit"), trust_root=str(bad), json_output=True, verbose=False)
    assert code == EXIT_UNUSABLE and json.loads(capsys.readouterr().out)["reason"] == "untrusted-log"
