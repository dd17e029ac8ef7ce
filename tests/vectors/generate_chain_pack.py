"""Capture the two-chain pack golden vector ``tests/vectors/chainpack/two-chain.json``: a permit's pack whose log
anchored its checkpoint on a real Fabric network (the Fabric 2.1.1 network of ``network/fabric``) and on a real
anvil registry, as the service's pack builder writes it (with a placeholder verify.html, so the vector stays
small). Both verifiers are tested against it offline (``verifier/web/test/chainpack.test.js``, the tamper
suite's chain sources, the Chromium tests); only capturing needs the chains.

Run (the shared network and a fresh anvil of its own, stopped at the end):
    source /work/wt/services.env; .venv/bin/python -m tests.vectors.generate_chain_pack
``TIEZHENG_TEST_FABRIC_NETWORK`` names the network.json, ``TIEZHENG_TEST_EVM_URL`` an EVM node (else an anvil
is started from network/nodes/anvil.sh). The log key is in the vector, since the tamper suite plays a lying
service with it; it is a test key of a throwaway log, nothing else.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.evm import EvmAnchor
from ledger.anchors.fabric import FabricAnchor
from ledger.clock import Clock
from ledger.evm import Registry, Transactor
from ledger.fabric.profile import FabricProfile
from tests.evm_support import EVM_ENV, AnvilNode, compile_registry, funded_operator
from tests.helpers import wait_until
from tests.integration.fabric_cli import network_json_path
from tests.vectors.pack_world import TENANT, open_world, permit_story
from verifier.fabric_profile import fabric_section

OUT = Path(__file__).resolve().parent / "chainpack" / "two-chain.json"


def capture(evm_url: str, scratch: Path) -> dict[str, Any]:
    """Anchor a fresh log's checkpoint on both chains and build its permit's pack; the vector as an object."""
    origin = f"vectors.tiezheng/chain-pack-{uuid.uuid4().hex[:8]}"
    operator = funded_operator(evm_url)
    artifact = compile_registry(scratch / "contracts")
    registry, deployment = Registry.deploy(evm_url, operator, bytecode=artifact.bytecode)
    with open_world(scratch / "world", origin=origin, small_viewer=True) as world:
        permit_story(world, "HW-0001", keyframes=2)
        world.settle()
        profile = FabricProfile.from_file(network_json_path())
        fabric = FabricAnchor(profile.client(clock=Clock()), origin=origin, log_key_pem=world.log.signer.public.to_pem())
        anchorer = Anchorer(world.log, [fabric, EvmAnchor(Transactor(registry, operator), origin=origin)])
        done: set[str] = set()

        def both_anchored() -> bool:
            done.update(r.backend for r in anchorer.run_once())
            return {"fabric", "evm"} <= done

        try:
            wait_until(both_anchored, timeout=120, interval=0.2)
        finally:
            fabric.close()
        pack = world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0001"})
        trust_root = {"v": 1, "type": "tiezheng.trust-root/v1",
                      "logs": [{"origin": origin, "public_key": world.log.signer.public.to_pem()}],
                      "fabric": fabric_section(network_json_path()),
                      "regulator_chains": [deployment.trust_root_entry()]}
        return {"desc": "a permit's pack anchored on the Fabric 2.1.1 network (block signed by the orderer, endorsed "
                        "by Org1MSP and Org2MSP) and on an anvil registry (prague block, raw transactions); "
                        "verifies as dual-chain with trust_root",
                "pack": base64.b64encode(pack.data).decode(), "trust_root": trust_root,
                "log_key_pem": world.log_key.to_pem()}


def main() -> None:
    """Write the vector (see the module docstring)."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        node = None if os.environ.get(EVM_ENV) else AnvilNode(scratch / "anvil").up()
        try:
            vector = capture(os.environ.get(EVM_ENV) or node.url, scratch)  # type: ignore[union-attr]
        finally:
            if node is not None:
                node.down()
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(vector, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
