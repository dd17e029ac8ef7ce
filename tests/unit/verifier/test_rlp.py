"""Keccak-256, RLP and the Merkle-Patricia trie root (``verifier.rlp``): known answers from the Yellow
Paper's RLP examples and the Ethereum constants, and a real block mined by anvil (``tests/vectors/evm``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from verifier.errors import ChainMismatch
from verifier.evm import CHECKPOINT_EVENT, EvmEvidence, verify_evm_evidence
from verifier.rlp import EMPTY_TRIE_ROOT, encode, encode_int, keccak256, trie_root
from verifier.trust import TrustRoot

VECTOR = Path(__file__).resolve().parents[2] / "vectors" / "evm" / "anvil-prague-three-receipts.json"


def test_keccak256_known_answers() -> None:
    assert keccak256(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    # the ERC-20 Transfer event's topic 0, printed in every block explorer
    assert keccak256(b"Transfer(address,address,uint256)").hex() == (
        "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")


@pytest.mark.parametrize(("item", "want"), [
    (b"dog", "83646f67"),
    ([b"cat", b"dog"], "c88363617483646f67"),
    (b"", "80"),
    ([], "c0"),
    (encode_int(0), "80"),
    (b"\x0f", "0f"),
    (encode_int(1024), "820400"),
    ([[], [[]], [[], [[]]]], "c7c0c1c0c3c0c1c0"),
    (b"Lorem ipsum dolor sit amet, consectetur adipisicing elit",
     "b8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e6720656c6974"),
])
def test_encode_known_answers(item: object, want: str) -> None:
    assert encode(item).hex() == want


def test_encode_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="rlp encodes bytes and lists only, got int"):
        encode(5)
    with pytest.raises(ValueError, match="unsigned integers only"):
        encode_int(-1)


def test_empty_trie_root_is_ethereums() -> None:
    assert EMPTY_TRIE_ROOT.hex() == "56e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421"
    assert trie_root([]) == EMPTY_TRIE_ROOT


def _vector() -> tuple[EvmEvidence, TrustRoot, dict[str, object]]:
    data = json.loads(VECTOR.read_text())
    root = TrustRoot.from_bytes(json.dumps({"v": 1, "type": "tiezheng.trust-root/v1", "logs": [],
                                            "regulator_chains": [data["chain"]]}).encode())
    return EvmEvidence.from_object(data["evidence"], "evidence"), root, data["evidence"]


def test_anvil_block_header_and_receipts_trie() -> None:
    evidence, root, raw = _vector()
    topics = (keccak256(CHECKPOINT_EVENT.encode()), bytes.fromhex(raw["log"]["topics"][1][2:]))  # type: ignore[index]
    chain = verify_evm_evidence(evidence, trust_root=root, topics=topics)
    assert chain.chain_id == 31337 and len(evidence.receipts) == 3
    assert trie_root([r.trie_value() for r in evidence.receipts]) == evidence.header_field("receiptsRoot")


def test_anvil_block_receipts_reordered_refused() -> None:
    evidence, root, _ = _vector()
    swapped = EvmEvidence(**{**evidence.__dict__, "receipts": (evidence.receipts[2], evidence.receipts[1],
                                                               evidence.receipts[0])})
    with pytest.raises(ChainMismatch, match="evm block receipts rebuild receiptsRoot"):
        verify_evm_evidence(swapped, trust_root=root, topics=evidence.log.topics)
