"""Chain receipts in the tamper suite: the real two-chain pack (``tests/vectors/chainpack/two-chain.json``, a
Fabric block and an anvil block) as a source, and a lying service's changes to its ``anchors/fabric.json`` and
``anchors/evm.json`` (manifest re-signed with the real log key), each refused as ``anchor-fabric`` or
``anchor-evm`` by both verifiers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ledger.canonical import canonical
from ledger.sm import Signer, SM2PrivateKey

__all__ = ["CHAIN_VECTOR", "chain_anchor_changes", "chain_source", "merged_trust_root"]

CHAIN_VECTOR = Path(__file__).resolve().parents[1] / "vectors" / "chainpack" / "two-chain.json"
Change = Callable[[dict[str, bytes]], None]


def chain_source() -> Any:
    """The two-chain pack as a ``PackSource`` (its log key plays the lying service) and its trust root (an object)."""
    from tests.tamper.packs import PackSource

    vector = json.loads(CHAIN_VECTOR.read_text(encoding="utf-8"))
    signer = Signer.from_private_key(SM2PrivateKey.from_pem(vector["log_key_pem"]))
    stranger = Signer.from_private_key(SM2PrivateKey.generate())
    return PackSource("two-chain", base64.b64decode(vector["pack"]), signer, stranger), vector["trust_root"]


def merged_trust_root(base_json: str, chain_root: dict[str, Any]) -> str:
    """One trust root for the world's packs and the two-chain pack: both logs, the chain pack's chains."""
    base = json.loads(base_json)
    merged = {**base, "logs": [*base["logs"], *chain_root["logs"]], "fabric": chain_root["fabric"],
              "regulator_chains": chain_root["regulator_chains"]}
    return json.dumps(merged, ensure_ascii=False, indent=1)


def _receipt_change(kind: str, edit: Callable[[dict[str, Any]], None]) -> Change:
    def change(files: dict[str, bytes]) -> None:
        envelope = json.loads(files[f"anchors/{kind}.json"])
        edit(envelope["receipts"][0])
        files[f"anchors/{kind}.json"] = canonical(envelope)
    return change


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda receipt: receipt.__setitem__(key, value(receipt[key]) if callable(value) else value)


def _flip_block(at: float) -> Callable[[dict[str, Any]], None]:
    def edit(receipt: dict[str, Any]) -> None:
        block = bytearray(base64.b64decode(receipt["block"]))
        block[int(len(block) * at)] ^= 0x01
        receipt["block"] = base64.b64encode(bytes(block)).decode()
    return edit


def _hex_flip(text: str) -> str:
    return text[:-1] + ("0" if text[-1] != "0" else "1")


_FABRIC: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("block-flipped-mid", _flip_block(0.5)),
    ("block-flipped-header", _flip_block(0.001)),
    ("block-flipped-signatures", _flip_block(0.93)),
    ("tx-id-forged", _set("tx_id", "0" * 64)),
    ("validation-code", _set("validation_code", "MVCC_READ_CONFLICT")),
    ("block-number", _set("block_number", lambda n: n + 1)),
    ("tx-index", _set("tx_index", 1)),
    ("channel", _set("channel", "other")),
    ("root-forged", _set("root_hash", "00" * 32)),
    ("bundle-field", _set("backend", "fabric")),
]
_EVM: list[tuple[str, Callable[[dict[str, Any]], None]]] = [
    ("block-hash", _set("block_hash", _hex_flip)),
    ("log-data", lambda r: r["log"].__setitem__("data", _hex_flip(r["log"]["data"]))),
    ("receipt-status", lambda r: r["receipts"][r["transaction_index"]].__setitem__("status", "0x0")),
    ("transaction-changed", lambda r: r["transactions"].__setitem__(0, r["transactions"][0][:-2] + "00")),
    ("from-other", _set("from", "0x" + "cd" * 20)),
    ("origin-other", _set("origin", "other.example/log")),
    ("tx-hash-forged", _set("tx_hash", "0x" + "11" * 32)),
    ("header-state-root", lambda r: r["block_header"].__setitem__("stateRoot", _hex_flip(r["block_header"]["stateRoot"]))),
    ("hex-with-space", _set("block_hash", lambda h: h[:10] + " " + h[11:])),
    ("bundle-field", _set("consistency_proof", [])),
]


def chain_anchor_changes(files: dict[str, bytes]) -> Iterator[tuple[str, Change, str]]:
    """A lying service's changes to the pack's chain receipts: (name, change, reason class)."""
    for kind, edits in (("fabric", _FABRIC), ("evm", _EVM)):
        if f"anchors/{kind}.json" in files:
            for name, edit in edits:
                yield f"{kind}-{name}", _receipt_change(kind, edit), f"anchor-{kind}"
