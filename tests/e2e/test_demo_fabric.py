"""``tiezheng demo --fabric`` against the running Fabric network: the service anchors on the local journal and
on the chaincode, the exported bundle carries the Fabric receipt (with the whole block), and ``tiezheng
verify`` checks it offline against the orgs' CA certificates and reports ``fabric``, endorsed by both orgs.

With ``TIEZHENG_WRITE_FABRIC_VECTOR=1`` the bundle and its trust root are saved as the test vector that
``tests/unit/verifier/test_fabric.py`` tampers with (tests/vectors/fabric/).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_api.demo import run_demo
from tests.integration.fabric_cli import PeerCLI, network_cli, network_json_path
from verifier.bundle import Bundle, verify_bundle
from verifier.trust import TrustRoot

pytestmark = pytest.mark.fabric
VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors" / "fabric"


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The running network (see ``fabric_cli.network_cli`` for which one)."""
    yield from network_cli(pytestconfig)


@pytest.fixture(scope="module")
def demo(cli: PeerCLI, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo's bundle and trust root, run with the Fabric backend."""
    root = tmp_path_factory.mktemp("demo-fabric")
    out = root / "bundle.json"
    assert run_demo(data_dir=root / "data", out=out, fabric_profile=network_json_path()) == 0
    return out, root / "data" / "trust-root.json"


def test_demo_fabric_bundle_verifies_as_fabric_endorsed_by_both_orgs(demo: tuple[Path, Path]) -> None:
    bundle_path, trust_path = demo
    bundle = json.loads(bundle_path.read_bytes())

    report = verify_bundle(Bundle.from_bytes(bundle_path.read_bytes()), trust_root=TrustRoot.from_file(trust_path))

    assert report.valid and report.assurance == "fabric"
    assert report.fabric_endorsed_by == ("Org1MSP", "Org2MSP")
    assert sorted(a["backend"] for a in bundle["anchors"]) == ["fabric", "local"]
    fabric = next(a for a in bundle["anchors"] if a["backend"] == "fabric")
    assert fabric["validation_code"] == "VALID" and fabric["block_number"] > 0
    if os.environ.get("TIEZHENG_WRITE_FABRIC_VECTOR") == "1":
        VECTOR_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(bundle_path, VECTOR_DIR / "bundle.json")
        shutil.copy(trust_path, VECTOR_DIR / "trust-root.json")


def test_verify_command_reports_fabric(demo: tuple[Path, Path]) -> None:
    bundle_path, trust_path = demo

    done = subprocess.run([sys.executable, "-m", "evidence_api.cli", "verify", str(bundle_path), "--trust-root",
                           str(trust_path), "--json"], check=False, capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["assurance"] == "fabric" and report["fabric_endorsed_by"] == ["Org1MSP", "Org2MSP"]


def test_trust_root_init_with_fabric_network(demo: tuple[Path, Path], tmp_path: Path) -> None:
    bundle_path, trust_path = demo
    origin = Bundle.from_bytes(bundle_path.read_bytes()).checkpoint.origin
    out = tmp_path / "trust-root.json"

    made = subprocess.run([sys.executable, "-m", "evidence_api.cli", "trust-root", "init", "--origin", origin,
                           "--log-key", str(trust_path.parent / "log-public-key.pem"), "--fabric-network",
                           str(network_json_path()), "-o", str(out)], check=False, capture_output=True, text=True)

    assert made.returncode == 0, made.stdout + made.stderr
    assert out.read_bytes() == trust_path.read_bytes()
    assert "orgs Org1MSP, Org2MSP, OrdererMSP (endorsers: Org1MSP, Org2MSP)" in made.stdout


def test_verify_with_a_live_peer_compares_the_block(demo: tuple[Path, Path]) -> None:
    bundle_path, trust_path = demo
    peer = json.loads(network_json_path().read_text())["organizations"][1]["peer_endpoint"]

    def verify(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "evidence_api.cli", "verify", str(bundle_path), "--trust-root",
                               str(trust_path), "--verbose", *flags], check=False, capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if k != "TIEZHENG_FABRIC_PROFILE"})

    live = verify("--fabric", peer, "--fabric-profile", str(network_json_path()))
    assert live.returncode == 0, live.stdout + live.stderr
    assert f"8. [ok] live fabric peer: peer {peer} (Org1MSP asked) serves block" in live.stdout
    unprofiled = verify("--fabric", peer)
    assert unprofiled.returncode == 2 and "--fabric needs --fabric-profile" in unprofiled.stdout
    unknown = verify("--fabric", "127.0.0.1:1", "--fabric-profile", str(network_json_path()))
    assert unknown.returncode == 2 and "names no peer at 127.0.0.1:1" in unknown.stdout
