"""``tiezheng demo --dual-chain`` (``bash scripts/demo.sh --dual-chain``) against the running Fabric network
and an anvil the demo starts itself: the day's regulator digest is anchored on both chains, its hash
recorded on the registry, and ``tiezheng digest verify`` reports it ``dual-chain``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_api.demo import run_demo
from tests.integration.fabric_cli import PeerCLI, network_cli, network_json_path

pytestmark = [pytest.mark.fabric, pytest.mark.evm]


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The running network (see ``fabric_cli.network_cli`` for which one)."""
    yield from network_cli(pytestconfig)


def test_demo_dual_chain_digest_verifies_as_dual_chain(cli: PeerCLI, tmp_path: Path) -> None:
    data = tmp_path / "data"

    assert run_demo(data_dir=data, out=tmp_path / "bundle.json", fabric_profile=network_json_path(),
                    dual_chain=True) == 0

    [digest] = sorted(data.glob("digest-*.json"))
    view = json.loads(digest.read_text())
    assert {a["backend"]: a["status"] for a in view["anchors"]} == {"local": "anchored", "fabric": "anchored",
                                                                     "evm": "anchored"}
    done = subprocess.run([sys.executable, "-m", "evidence_api.cli", "digest", "verify", str(digest), "--trust-root",
                           str(data / "trust-root.json"), "--json"], check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["assurance"] == "dual-chain" and report["registry"] == "verified"
    assert report["anchors"] == {"local": "verified", "fabric": "verified", "evm": "verified"}
    assert "anvil: stopped" in subprocess.run(
        ["bash", "network/nodes/anvil.sh", "status"], check=False, capture_output=True, text=True,
        env={"TIEZHENG_STATE": str((data / "services").resolve()), "PATH": "/usr/bin:/bin"}).stdout
