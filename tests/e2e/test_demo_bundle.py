"""The newcomer's path: ``tiezheng demo`` runs, its bundle verifies offline, and the same bundle with any one
byte changed does not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evidence_api.demo import run_demo
from verifier.bundle import Bundle, verify_bundle
from verifier.errors import VerifierError


@pytest.fixture(scope="module")
def demo_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str, Path]:
    root = tmp_path_factory.mktemp("demo")
    out = root / "bundle.json"
    assert run_demo(data_dir=root / "data", out=out) == 0
    return out.read_bytes(), (root / "data" / "log-public-key.pem").read_text(), out


def test_demo_bundle_verifies(demo_bundle: tuple[bytes, str, Path]) -> None:
    data, log_key, _ = demo_bundle
    report = verify_bundle(Bundle.from_bytes(data), log_key_pem=log_key)
    assert report.valid and report.assurance == "signed"


def test_demo_bundle_any_byte_changed_fails(demo_bundle: tuple[bytes, str, Path]) -> None:
    data, log_key, _ = demo_bundle
    accepted = []
    for position in range(len(data)):
        for flip in (0x01, 0x20):
            tampered = bytearray(data)
            tampered[position] ^= flip
            try:
                verify_bundle(Bundle.from_bytes(bytes(tampered)), log_key_pem=log_key)
            except VerifierError:
                continue
            accepted.append((position, flip, data[max(0, position - 20) : position + 20]))
    assert not accepted, f"{len(accepted)} tampered bundles verified, first: {accepted[:3]}"


def test_verify_cli_exit_codes(demo_bundle: tuple[bytes, str, Path], tmp_path: Path) -> None:
    data, log_key, path = demo_bundle
    key = tmp_path / "log.pem"
    key.write_text(log_key)
    tampered = tmp_path / "tampered.json"
    tampered.write_bytes(data.replace(b"guardian.checkin", b"guardian.checkout", 1))
    garbage = tmp_path / "garbage.json"
    garbage.write_bytes(b"{not json")

    def run(target: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "evidence_api.cli", "verify", str(target), "--log-key", str(key)],
                              check=False, capture_output=True, text=True)

    assert run(path).returncode == 0
    failed = run(tampered)
    assert failed.returncode == 1 and "actor signature" in failed.stdout + failed.stderr
    assert run(garbage).returncode == 2
    assert run(tmp_path / "missing.json").returncode == 2
