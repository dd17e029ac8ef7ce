"""An evidence pack of a log anchored on the real Fabric network and on a real anvil registry: the pack
carries ``anchors/fabric.json`` and ``anchors/evm.json``; ``verify_pack`` checks both offline and reaches
``dual-chain`` only when the trust root names both chains, ``fabric`` with the Fabric orgs alone, and
refuses a pack whose Fabric block or EVM receipt was changed (and the manifest re-signed) as
``anchor-fabric`` / ``anchor-evm``; verify.html (its core on Node, the bundle in headless Chromium) says the
same."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.evm import EvmAnchor
from ledger.anchors.fabric import FabricAnchor
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.evm import Registry, Transactor
from ledger.fabric.profile import FabricProfile
from ledger.sm import Signer
from tests.conftest import _missing_service
from tests.e2e.verify_html_kit import chromium_missing, node_reasons, open_verifier
from tests.helpers import wait_until
from tests.integration.fabric_cli import PeerCLI, network_cli, network_json_path
from tests.tamper.packs import resign
from tests.vectors.pack_world import TENANT, open_world, permit_story
from verifier.fabric_profile import fabric_section
from verifier.pack import verify_pack
from verifier.pack_errors import PackInvalid, PackUnusable
from verifier.pack_zip import read_pack_zip
from verifier.trust import TrustRoot
from verifier.web import verify_html_path

pytestmark = [pytest.mark.fabric, pytest.mark.evm]


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The running network (see ``fabric_cli.network_cli`` for which one)."""
    yield from network_cli(pytestconfig)


@pytest.fixture
def anchored_pack(cli: PeerCLI, evm_url: str, operator: Any, registry_artifact: Any,
                  tmp_path: Path) -> Iterator[tuple[bytes, Any, dict[str, Any]]]:
    """A permit's pack whose log anchored one checkpoint on both chains; with its log key and registry entry."""
    origin = f"tiezheng.test/chain-pack-{uuid.uuid4().hex[:12]}"
    registry, deployment = Registry.deploy(evm_url, operator, bytecode=registry_artifact.bytecode)
    with open_world(tmp_path / "world", origin=origin) as world:
        permit_story(world, "HW-0001", keyframes=1)
        world.settle()
        profile = FabricProfile.from_file(network_json_path())
        fabric = FabricAnchor(profile.client(clock=Clock()), origin=origin,
                              log_key_pem=world.log.signer.public.to_pem())
        anchorer = Anchorer(world.log, [fabric, EvmAnchor(Transactor(registry, operator), origin=origin)])
        try:
            done: set[str] = set()

            def both_anchored() -> bool:
                done.update(r.backend for r in anchorer.run_once())
                return {"fabric", "evm"} <= done

            wait_until(both_anchored, timeout=120, interval=0.2)
        finally:
            fabric.close()
        pack = world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0001"})
        yield pack.data, world, deployment.trust_root_entry()


def _root(world: Any, *, fabric: bool, evm: dict[str, Any] | None) -> TrustRoot:
    obj: dict[str, Any] = {"v": 1, "type": "tiezheng.trust-root/v1",
                           "logs": [{"origin": world.log.origin, "public_key": world.log.signer.public.to_pem()}]}
    if fabric:
        obj["fabric"] = fabric_section(network_json_path())
    if evm is not None:
        obj["regulator_chains"] = [evm]
    return TrustRoot.from_bytes(json.dumps(obj).encode())


def test_pack_anchored_on_both_chains_is_dual_chain(anchored_pack: tuple[bytes, Any, dict[str, Any]]) -> None:
    data, world, chain = anchored_pack
    assert {"anchors/fabric.json", "anchors/evm.json"} <= {e.path for e in read_pack_zip(data)}

    both = verify_pack(data, trust_root=_root(world, fabric=True, evm=chain))
    fabric_only = verify_pack(data, trust_root=_root(world, fabric=True, evm=None))
    neither = verify_pack(data, trust_root=_root(world, fabric=False, evm=None))

    assert both.assurance == "dual-chain"
    outcomes = {o.kind: o for o in both.anchors}
    assert outcomes["fabric"].status == outcomes["evm"].status == "verified"
    assert "Org1MSP, Org2MSP" in outcomes["fabric"].detail
    assert fabric_only.assurance == "fabric"
    assert {o.kind: o.status for o in fabric_only.anchors}["evm"] == "not checked"
    assert neither.assurance == "signed"


@pytest.mark.parametrize("kind", ["fabric", "evm"])
def test_a_changed_chain_receipt_is_refused_as_its_kind(anchored_pack: tuple[bytes, Any, dict[str, Any]],
                                                       kind: str, tmp_path: Path) -> None:
    data, world, chain = anchored_pack

    def change(receipt: dict[str, Any]) -> None:
        if kind == "fabric":
            block = bytearray(base64.b64decode(receipt["block"]))
            block[len(block) // 2] ^= 0x01
            receipt["block"] = base64.b64encode(bytes(block)).decode()
        else:
            receipt["block_hash"] = "0x" + "00" * 32

    files = {e.path: e.data for e in read_pack_zip(data)}
    envelope = json.loads(files[f"anchors/{kind}.json"])
    change(envelope["receipts"][0])
    files[f"anchors/{kind}.json"] = canonical(envelope)
    tampered = resign(files, Signer.from_private_key(world.log_key))  # the service itself lying

    with pytest.raises((PackInvalid, PackUnusable)) as refused:
        verify_pack(tampered, trust_root=_root(world, fabric=True, evm=chain))
    error = refused.value
    assert isinstance(error, PackInvalid | PackUnusable) and error.reason == f"anchor-{kind}", error.message
    pack, trust = tmp_path / "tampered.zip", tmp_path / "trust-root.json"
    pack.write_bytes(tampered)
    trust.write_text(_root(world, fabric=True, evm=chain).to_json(), encoding="utf-8")
    (browser,) = node_reasons([pack], trust)  # verify.html's core
    assert (browser["reason"], browser["path"]) == (f"anchor-{kind}", f"anchors/{kind}.json"), browser


@pytest.mark.browser
def test_pack_anchored_on_both_chains_is_dual_chain_in_chromium(anchored_pack: tuple[bytes, Any, dict[str, Any]],
                                                                 pytestconfig: pytest.Config, tmp_path: Path) -> None:
    missing = chromium_missing()
    if missing:
        _missing_service(pytestconfig, missing)
    data, world, chain = anchored_pack
    pack, both, fabric_only = tmp_path / "pack.zip", tmp_path / "both.json", tmp_path / "fabric.json"
    pack.write_bytes(data)
    both.write_text(_root(world, fabric=True, evm=chain).to_json(), encoding="utf-8")
    fabric_only.write_text(_root(world, fabric=True, evm=None).to_json(), encoding="utf-8")

    with open_verifier(verify_html_path()) as page:
        verdict = page.verify(pack, both)
    with open_verifier(verify_html_path()) as page:
        fabric = page.verify(pack, fabric_only)

    assert (verdict.state, verdict.reason) == ("valid", ""), verdict.text
    assert "dual-chain" in verdict.text and "endorsed by Org1MSP, Org2MSP" in verdict.text, verdict.text
    assert fabric.state == "valid" and "dual-chain" not in fabric.text and "fabric" in fabric.text, fabric.text
