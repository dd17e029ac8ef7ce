"""The verifier on real EVM receipts from anvil: a bundle with an ``evm`` anchor verifies offline (block
header, receipts trie, the log's origin, size and root), each field changed is refused with its exact
reason, and ``--evm URL`` confirms the block on the chain (and catches what offline checks cannot)."""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ledger.anchors.evm import EvmAnchor as EvmBackend
from ledger.evm import DigestRecorder, OperatorKey, Registry, Transactor, origin_hash, tenant_hash
from tests.evm_support import funded_operator, mine, set_automine
from tests.unit.verifier.verifier_testkit import (
    ORIGIN,
    KeyPair,
    make_bundle,
    ref_consistency,
    ref_root,
    trust_root_json,
)
from verifier.bundle import Bundle, verify_bundle
from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, verify_command
from verifier.errors import ChainMismatch, CheckUnavailable, InvalidProof, MalformedInput, RootMismatch
from verifier.evm import EvmDigestReceipt, verify_evm_digest
from verifier.trust import TrustRoot

pytestmark = pytest.mark.evm

ANCHORED = 11  # the anchored tree; the bundle's checkpoint has 7 leaves (verifier_testkit.make_bundle)


@pytest.fixture(scope="module")
def chain(evm_url: str, registry_artifact: Any) -> dict[str, Any]:
    """A bundle whose evm anchor was mined on anvil in a block with two other registry writes."""
    log, actor = KeyPair.generate(), KeyPair.generate()
    parts = make_bundle(log, actor, anchor_sizes=(3, ANCHORED))
    key = funded_operator(evm_url)
    registry, deployment = Registry.deploy(evm_url, key, bytecode=registry_artifact.bytecode)
    transactor = Transactor(registry, key)
    set_automine(evm_url, False)
    try:  # three writes of one account in one block: the anchor is the second receipt
        digests = DigestRecorder(transactor)
        first = digests.prepare(tenant_hash("acme"), date(2026, 11, 30), b"\x55" * 32)
        digests.submit(first)
        tx = registry.sign_anchor(key, origin_hash(ORIGIN), ANCHORED, ref_root(parts.leaves[:ANCHORED]),
                                  nonce=transactor.next_nonce())
        transactor.send(tx)
        last = digests.prepare(tenant_hash("acme"), date(2026, 12, 1), b"\x66" * 32)
        digests.submit(last)
        mine(evm_url)
    finally:
        set_automine(evm_url, True)
    (receipt,) = EvmBackend(transactor, origin=ORIGIN).recover(None)
    anchor = {**receipt.to_json(), "consistency_proof": [h.hex() for h in ref_consistency(7, parts.leaves[:ANCHORED])]}
    bundle = parts.with_changes(anchors=[*parts.bundle["anchors"], anchor])
    root = trust_root_json(log, regulator_chains=[deployment.trust_root_entry()])
    return {"bundle": bundle, "root": root, "key": key, "digest": digests.status(last), "url": evm_url,
            "registry": registry}


def _verify(bundle: dict[str, Any], root: bytes, **kwargs: Any) -> Any:
    return verify_bundle(Bundle.from_bytes(json.dumps(bundle).encode()), trust_root=TrustRoot.from_bytes(root),
                         **kwargs)


def _changed(bundle: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(bundle)
    target = out["anchors"][-1]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value(target[path[-1]]) if callable(value) else value
    return out


def test_evm_anchor_verifies_offline(chain: dict[str, Any]) -> None:
    report = _verify(chain["bundle"], chain["root"])

    assert report.valid and report.assurance == "signed"  # the regulator chain alone is not dual-chain
    step = report.steps[-1]
    assert step.name.startswith("anchor 2 (evm chain 31337 block") and step.status == "ok"
    assert f"tree size {ANCHORED}, consistent with the checkpoint" in step.detail
    assert any("not checked offline: that the block is on the regulator chain" in n for n in report.notes)
    anchor = chain["bundle"]["anchors"][-1]
    assert anchor["transaction_index"] == 1 and len(anchor["receipts"]) == 3 and anchor["log_index"] == 1


def test_evm_anchor_confirmed_online(chain: dict[str, Any]) -> None:
    report = _verify(chain["bundle"], chain["root"], evm_url=chain["url"])

    assert report.valid
    assert f"confirmed at {chain['url']}: block" in report.steps[-1].detail
    assert not any("not checked offline" in n for n in report.notes)


def _hex_flip(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


TAMPERED = [
    (("tree_size",), ANCHORED + 1, ChainMismatch, "evm log tree size and root mismatch: got 11"),
    (("root_hash",), lambda v: "00" * 32, ChainMismatch, "evm log tree size and root mismatch"),
    (("origin",), "other.example/log", ChainMismatch, "evm anchor origin mismatch: got 'other.example/log'"),
    (("origin_hash",), "00" * 32, ChainMismatch, "evm anchor origin_hash mismatch: got 0000"),
    (("chain_id",), 1, ChainMismatch, "the trust root names no registry 0x[0-9a-f]{40} on chain 1"),
    (("contract",), "0x" + "ab" * 20, ChainMismatch, "the trust root names no registry 0xabab"),
    (("from",), "0x" + "cd" * 20, ChainMismatch, "evm transaction sender 0xcdcd.* is not an operator"),
    (("block_hash",), _hex_flip, ChainMismatch, "evm block header hashes to [0-9a-f]{64}, not the block hash"),
    (("block_number",), lambda v: v + 1, ChainMismatch, "evm block header number is [0-9]+, want block_number"),
    (("block_header", "stateRoot"), _hex_flip, ChainMismatch, "evm block header hashes to"),
    (("block_header", "receiptsRoot"), _hex_flip, ChainMismatch, "evm block header hashes to"),
    (("transaction_index",), 7, ChainMismatch, "evm transaction_index 7 is not in the block \\(3 receipts\\)"),
    (("transaction_index",), 0, ChainMismatch, "evm log_index 1 is not a log of transaction 0"),
    (("log_index",), 0, ChainMismatch, "evm log_index 0 is not a log of transaction 1 \\(its logs are 1..1\\)"),
    (("log", "data"), _hex_flip, ChainMismatch, "evm log differs from log 1 of the block's receipts"),
    (("log", "topics", 1), _hex_flip, ChainMismatch, "evm log differs from log 1"),
    (("log", "address"), _hex_flip, ChainMismatch, "evm log differs from log 1"),
    (("receipts", 1, "status"), "0x0", ChainMismatch, "evm block receipts rebuild receiptsRoot [0-9a-f]{64}, the header"),
    (("receipts", 1, "logs", 0, "data"), _hex_flip, ChainMismatch, "evm block receipts rebuild receiptsRoot"),
    (("receipts", 0, "cumulativeGasUsed"), "0x1", ChainMismatch, "evm block receipts rebuild receiptsRoot"),
    (("consistency_proof", 0), lambda v: "00" * 32, RootMismatch, "root mismatch"),
    (("consistency_proof",), [], InvalidProof, "wrong proof length: got 0 hashes, want 5"),
]


@pytest.mark.parametrize(("path", "value", "error", "match"), TAMPERED, ids=lambda v: str(v)[:40])
def test_evm_anchor_tampered_field_refused(chain: dict[str, Any], path: tuple[Any, ...], value: Any,
                                           error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match) as failed:
        _verify(_changed(chain["bundle"], path, value), chain["root"])
    assert failed.value.step == 7  # type: ignore[attr-defined]


@pytest.mark.parametrize(("path", "value", "match"), [
    (("block_header", "extra"), "0x", "block_header must have the header fields"),
    (("block_header", "number"), "0x01", "block_header.number must be a minimal 0x hex quantity"),
    (("log", "data"), "0xABCD", "log.data must be 0x and lower-case hex bytes"),
    (("receipts", 0, "status"), "0x2", "status 0 or 1"),
    (("tx_hash",), "0x1234", "tx_hash must be 32 bytes, got 2"),
    (("receipts",), {}, "receipts must be a list"),
])
def test_evm_anchor_malformed_refused(chain: dict[str, Any], path: tuple[Any, ...], value: Any, match: str) -> None:
    with pytest.raises(MalformedInput, match=match):
        _verify(_changed(chain["bundle"], path, value), chain["root"])


def test_evm_tx_hash_is_checked_online_only(chain: dict[str, Any]) -> None:
    tampered = _changed(chain["bundle"], ("tx_hash",), lambda v: "0x" + "11" * 32)
    assert _verify(tampered, chain["root"]).valid  # offline: the block's transactions are not carried

    with pytest.raises(ChainMismatch, match="the node has no receipt for transaction 0x1111"):
        _verify(tampered, chain["root"], evm_url=chain["url"])


def test_evm_online_unreachable_node_is_unusable(chain: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(CheckUnavailable, match="cannot ask the evm node at http://127.0.0.1:9"):
        _verify(chain["bundle"], chain["root"], evm_url="http://127.0.0.1:9")
    bundle, root = tmp_path / "bundle.json", tmp_path / "root.json"
    bundle.write_text(json.dumps(chain["bundle"]))
    root.write_bytes(chain["root"])
    assert verify_command(str(bundle), trust_root=str(root), json_output=True, verbose=False,
                          evm="http://127.0.0.1:9") == EXIT_UNUSABLE
    assert verify_command(str(bundle), trust_root=str(root), json_output=True, verbose=False,
                          evm=chain["url"]) == EXIT_VALID
    bundle.write_text(json.dumps(_changed(chain["bundle"], ("tree_size",), ANCHORED + 1)))
    assert verify_command(str(bundle), trust_root=str(root), json_output=True, verbose=False) == EXIT_INVALID


def test_evm_digest_receipt_verifies(chain: dict[str, Any]) -> None:
    receipt = EvmDigestReceipt.from_json(json.loads(json.dumps(chain["digest"].to_json())))
    root = TrustRoot.from_bytes(chain["root"])
    verify_evm_digest(receipt, trust_root=root, tenant_hash=tenant_hash("acme"), day=date(2026, 12, 1),
                      digest=b"\x66" * 32)
    with pytest.raises(ChainMismatch, match="evm digest receipt is for tenant .* on 2026-12-01 digest 6666"):
        verify_evm_digest(receipt, trust_root=root, tenant_hash=tenant_hash("acme"), day=date(2026, 12, 1),
                          digest=b"\x77" * 32)


def test_evm_anchor_of_an_untrusted_operator_key(chain: dict[str, Any], evm_url: str) -> None:
    stranger: OperatorKey = funded_operator(evm_url)
    root = json.loads(chain["root"])
    root["regulator_chains"][0]["operators"] = [stranger.address.lower()]
    with pytest.raises(ChainMismatch, match="is not an operator of the registry"):
        _verify(chain["bundle"], json.dumps(root).encode())
