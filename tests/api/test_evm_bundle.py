"""The service with ``TIEZHENG_ANCHOR_BACKENDS=local,evm`` on a real anvil: checkpoints go to the registry
on their own worker, ``GET /v1/log/anchors`` serves the EVM receipt, and an event's bundle carries it and
verifies offline and online (``--evm``) against a trust root naming the registry."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from evidence_api.config import Settings
from ledger.evm import OperatorKey, Registry, origin_hash
from tests.api.support import ADMIN_TOKEN, MAX_BATCH, MAX_BODY_BYTES, Api, bearer
from tests.evm_support import operator_key_file as make_key_file
from tests.helpers import signed_item, wait_until
from verifier.bundle import Bundle, verify_bundle
from verifier.trust import TrustRoot

pytestmark = pytest.mark.evm


@pytest.fixture
def operator_key_file(tmp_path: Path, evm_url: str) -> Path:
    """A fresh operator key, funded on the node, in a key file as `tiezheng evm deploy` takes it (mode 0600)."""
    return make_key_file(tmp_path, evm_url)[0]


@pytest.fixture
def operator(operator_key_file: Path) -> OperatorKey:
    """The key of ``operator_key_file``; the ``registry`` fixture deploys with it as the one operator."""
    return OperatorKey.from_file(operator_key_file)


@pytest.fixture
def settings(tmp_path: Path, database_url: str, registry: Registry, operator_key_file: Path, evm_url: str) -> Settings:
    return Settings(environment="dev", data_dir=tmp_path / "data", database_url=database_url,
                    admin_token=ADMIN_TOKEN, intake_workers=0, checkpoint_interval=0.05, anchor_interval=0.1,
                    max_batch=MAX_BATCH, max_body_bytes=MAX_BODY_BYTES, anchor_backends="local,evm",
                    evm_rpc_url=evm_url, evm_contract=registry.contract, evm_operator_key=operator_key_file)


def _bundle_with(api: Api, event_id: str, backends: set[str]) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        resp = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(api.reader))
        body: dict[str, Any] = resp.json() if resp.status_code == 200 else {}
        return body if {a["backend"] for a in body.get("anchors", [])} == backends else None

    found: dict[str, Any] = wait_until(probe)
    return found


def test_service_anchors_to_the_registry_and_the_bundle_verifies(api: Api, registry: Registry, operator: OperatorKey,
                                                                  evm_url: str) -> None:
    items = [signed_item(api.guardian, payload={"gas_ppm": n}) for n in range(3)]
    api.post_events({"events": items})

    bundle = _bundle_with(api, items[1]["event"]["event_id"], {"local", "evm"})

    evm = next(a for a in bundle["anchors"] if a["backend"] == "evm")
    size, _ = registry.latest_checkpoint(origin_hash(evm["origin"]))
    assert size >= evm["tree_size"] >= 3 and evm["from"] == operator.address.lower()
    served = api.client.get(f"/v1/log/anchors?tree_size={evm['tree_size']}", headers=bearer(api.reader)).json()
    assert "evm" in {a["backend"] for a in served["anchors"]}
    chain = {"chain_id": evm["chain_id"], "contract": registry.contract.lower(), "operators": [evm["from"]]}
    trust = json.loads(api.trust_root().to_json())
    root_file = TrustRoot.from_bytes(json.dumps({**trust, "regulator_chains": [chain]}).encode())
    data = json.dumps(bundle).encode()
    report = verify_bundle(Bundle.from_bytes(data), trust_root=root_file)
    assert report.valid and report.assurance == "signed"  # no Fabric receipt: not dual-chain
    anchor_steps = [s.name for s in report.steps if s.name.startswith("anchor")]
    assert len(anchor_steps) == 2 and any("(evm chain" in n for n in anchor_steps)
    assert any("(local journal" in n for n in anchor_steps)
    online = verify_bundle(Bundle.from_bytes(data), trust_root=root_file, evm_url=evm_url)
    assert online.valid and any("confirmed at" in s.detail for s in online.steps)
