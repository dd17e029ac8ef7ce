"""``verify.html`` on real evidence packs in a real headless Chromium (marker ``browser``).

- The clerk's flow: a pack built by the service's pack builder carries verify.html; opened from the unzipped
  pack (``file://``), with the trust root and the pack's zip chosen, it says VALID; so it does for the folder
  and for the two files dropped on the page.
- Tampered packs (the golden vectors, one per reason class): the page shows the reason class, file and exit
  family of ``tiezheng verify PACK --json`` (the real command, run as a subprocess).
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _missing_service
from tests.e2e.verify_html_kit import chromium_missing, open_verifier, python_reason
from tests.tamper.packs import PATH_CLASSES, mutations
from tests.tamper.sources import RealPacks, build_real_packs

pytestmark = pytest.mark.browser

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "packs"
_STATE = {0: "valid", 1: "invalid", 2: "unusable"}


@pytest.fixture(scope="module")
def chromium(pytestconfig: pytest.Config) -> None:
    """Headless Chromium is installed (a missing one fails under --require-services)."""
    missing = chromium_missing()
    if missing:
        _missing_service(pytestconfig, missing)


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealPacks:
    """Real packs built by the service's pack builder."""
    return build_real_packs(tmp_path_factory.mktemp("world"))


def _cli(pack: Path, trust_root: Path) -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "evidence_api.cli", "verify", str(pack), "--trust-root",
                             str(trust_root), "--json"], capture_output=True, text=True, check=False)
    body: dict[str, Any] = json.loads(result.stdout)
    body["exit"] = result.returncode
    return body


def _vector(tmp_path: Path, case: str) -> Path:
    path = tmp_path / f"{case}.zip"
    path.write_bytes(base64.b64decode(json.loads((VECTORS / f"{case}.json").read_text())["pack"]))
    return path


def test_verify_html_inside_a_built_pack_verifies_it(chromium: None, real: RealPacks, tmp_path: Path) -> None:
    source = real.sources[1]
    pack = tmp_path / "pack.zip"
    pack.write_bytes(source.data)
    trust = tmp_path / "trust-root.json"
    trust.write_text(real.trust_root_json, encoding="utf-8")
    folder = tmp_path / "unzipped"
    with zipfile.ZipFile(pack) as archive:
        archive.extractall(folder)
    html = folder / "verify.html"
    assert b"sm-crypto-v2" in html.read_bytes(), "the pack carries a placeholder, not the built verify.html"
    with open_verifier(html) as page:
        verdict = page.verify(pack, trust)
        assert (verdict.state, verdict.reason) == ("valid", ""), verdict.text
        assert "有效 VALID" in verdict.text and "signed" in verdict.text
        assert page.requests == [html.as_uri()]
    with open_verifier(html) as page:
        verdict = page.verify(folder, trust)
        assert (verdict.state, verdict.reason) == ("valid", ""), verdict.text
    with open_verifier(html) as page:
        verdict = page.drop(pack, trust)
        assert (verdict.state, verdict.reason) == ("valid", ""), verdict.text


def test_verify_html_without_trust_root_says_what_to_choose(chromium: None, real: RealPacks, tmp_path: Path,
                                                             ) -> None:
    pack = tmp_path / "pack.zip"
    pack.write_bytes(real.sources[0].data)
    from verifier.web import verify_html_path

    with open_verifier(verify_html_path()) as page:
        verdict = page.verify(pack, None)
    assert (verdict.state, verdict.reason) == ("unusable", "untrusted-log")
    assert "请先选择信任根文件" in verdict.text and "Choose the trust-root file first" in verdict.text


CASES = ["file-hash--permit-pinned--flip-data-anchors--local.json-at-48", "zip--permit-pinned--truncated",
         "manifest-signature--permit-pinned--manifest-resigned-by-stranger", "missing-file--permit-pinned--unsigned-event-dropped",
         "inclusion-proof--permit-pinned--resigned-proof-of-other-leaf", "event-signature--permit-pinned--resigned-actor-key-replaced",
         "chain-gap--permit-pinned--resigned-event-dropped", "media-hash--permit-pinned--resigned-media-file-replaced",
         "anchor-local--permit-pinned--resigned-local-entry-forged", "untrusted-log--valid-pack-other-trust-root"]


@pytest.mark.parametrize("case", CASES)
def test_verify_html_shows_the_reason_of_the_cli(chromium: None, case: str, tmp_path: Path) -> None:
    from verifier.web import verify_html_path

    pack = _vector(tmp_path, case)
    trust = VECTORS / json.loads((VECTORS / f"{case}.json").read_text())["trust_root"]
    want = _cli(pack, trust)
    with open_verifier(verify_html_path()) as page:
        verdict = page.verify(pack, trust)
    assert want["reason"] == case.split("--")[0]
    assert (verdict.state, verdict.reason, verdict.path or None) == (_STATE[want["exit"]], want["reason"], want["path"])


def test_verify_html_bundle_agrees_with_python_in_the_browser(chromium: None, real: RealPacks) -> None:
    """The minified bundle, run by Chromium's engine (not Node), on a sample of every mutation family."""
    from verifier.web import verify_html_path

    sample = list(mutations(real.sources, flips_per_file=1, seed=7))[::4]
    wants = [python_reason(m.data, real.trust_root) for m in sample]
    with open_verifier(verify_html_path()) as page:
        got = page.verify_in_page([m.data for m in sample], real.trust_root_json.encode())
    differ = [(m.name, want, (g["reason"], g["path"])) for m, want, g in zip(sample, wants, got, strict=True)
              if (g["reason"], g["path"] if want[0] in PATH_CLASSES else None)
              != (want[0], want[1] if want[0] in PATH_CLASSES else None)]
    assert len(sample) > 100 and not differ, differ[:5]


def _two_chain(tmp_path: Path, *, forge: bool = False) -> tuple[Path, Path]:
    """The captured two-chain pack (tests/vectors/chainpack) and its trust root as files; ``forge``: the
    service lied in its Fabric receipt (a block byte changed, the manifest re-signed with the log key)."""
    from ledger.canonical import canonical
    from tests.tamper.chain import chain_source
    from tests.tamper.packs import resign
    from tests.tamper.zipraw import entries_of

    source, root = chain_source()
    data = source.data
    if forge:
        files = entries_of(data)
        envelope = json.loads(files["anchors/fabric.json"])
        block = bytearray(base64.b64decode(envelope["receipts"][0]["block"]))
        block[len(block) // 2] ^= 0x01
        envelope["receipts"][0]["block"] = base64.b64encode(bytes(block)).decode()
        files["anchors/fabric.json"] = canonical(envelope)
        data = resign(files, source.signer)
    pack, trust = tmp_path / "two-chain.zip", tmp_path / "trust-root.json"
    pack.write_bytes(data)
    trust.write_text(json.dumps(root), encoding="utf-8")
    return pack, trust


def test_verify_html_two_chain_pack_is_dual_chain(chromium: None, tmp_path: Path) -> None:
    """A real pack anchored on Fabric and on the regulator chain: the browser says dual-chain, as the CLI."""
    from verifier.web import verify_html_path

    pack, trust = _two_chain(tmp_path)
    want = _cli(pack, trust)
    with open_verifier(verify_html_path()) as page:
        verdict = page.verify(pack, trust)
    assert want["assurance"] == "dual-chain" and want["exit"] == 0
    assert (verdict.state, verdict.reason) == ("valid", ""), verdict.text
    assert "dual-chain" in verdict.text and "Org1MSP, Org2MSP" in verdict.text, verdict.text


def test_verify_html_refuses_a_lying_services_fabric_receipt(chromium: None, tmp_path: Path) -> None:
    """The service lied in its Fabric receipt and re-signed the manifest: both verifiers say anchor-fabric."""
    from verifier.web import verify_html_path

    pack, trust = _two_chain(tmp_path, forge=True)
    want = _cli(pack, trust)
    with open_verifier(verify_html_path()) as page:
        verdict = page.verify(pack, trust)
    assert (want["reason"], want["exit"]) == ("anchor-fabric", 1)
    assert (verdict.state, verdict.reason, verdict.path) == ("invalid", "anchor-fabric", "anchors/fabric.json"), verdict.text


def test_verify_html_bundle_agrees_with_python_on_chain_receipts(chromium: None) -> None:
    """The bundle in Chromium's engine and the Python verifier on mutations of the two-chain pack: every
    lying-service change of its Fabric and EVM receipts, and a sample of the other families."""
    from tests.tamper.chain import chain_source
    from verifier.trust import TrustRoot
    from verifier.web import verify_html_path

    source, root = chain_source()
    every = list(mutations([source], flips_per_file=1, seed=3))
    sample = [m for i, m in enumerate(every) if m.reason.startswith("anchor-") or i % 6 == 0]
    trust = TrustRoot.from_bytes(json.dumps(root).encode())
    wants = [python_reason(m.data, trust) for m in sample]
    with open_verifier(verify_html_path()) as page:
        got = page.verify_in_page([source.data, *(m.data for m in sample)], json.dumps(root).encode())
    assert got[0]["reason"] is None, got[0]
    differ = [(m.name, want, (g["reason"], g["path"])) for m, want, g in zip(sample, wants, got[1:], strict=True)
              if (g["reason"], g["path"] if want[0] in PATH_CLASSES else None)
              != (want[0], want[1] if want[0] in PATH_CLASSES else None)]
    assert sum(m.reason in ("anchor-fabric", "anchor-evm") for m in sample) == 20 and not differ, differ[:5]
