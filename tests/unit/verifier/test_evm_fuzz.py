"""Hostile EVM receipts never crash the verifier: every value of a real anvil receipt (tests/vectors/evm)
replaced by each hostile value, or deleted, is refused with ``MalformedInput`` or ``VerificationFailed``,
but for ``transactions`` null (a node that serves no raw transactions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from verifier_testkit import DELETE, HOSTILE, replaced, value_paths

from verifier.errors import MalformedInput, VerificationFailed
from verifier.evm import CHECKPOINT_EVENT, CHECKPOINT_FUNCTION, EvmEvidence, verify_evm_evidence
from verifier.rlp import keccak256
from verifier.trust import TrustRoot

VECTOR = Path(__file__).resolve().parents[2] / "vectors" / "evm" / "anvil-prague-three-receipts.json"
_DATA = json.loads(VECTOR.read_text())
_NULL_ALLOWED = {("transactions",)}  # a node without raw transactions: then the report notes what is unchecked


def _check(evidence: Any) -> None:
    root = TrustRoot.from_bytes(json.dumps({"v": 1, "type": "tiezheng.trust-root/v1", "logs": [],
                                            "regulator_chains": [_DATA["chain"]]}).encode())
    topics = (keccak256(CHECKPOINT_EVENT.encode()), bytes.fromhex(_DATA["evidence"]["log"]["topics"][1][2:]))
    verify_evm_evidence(EvmEvidence.from_object(evidence, "evidence"), trust_root=root, topics=topics,
                        function=CHECKPOINT_FUNCTION)


def test_vector_verifies() -> None:
    _check(_DATA["evidence"])


@pytest.mark.parametrize("path", value_paths(_DATA["evidence"]), ids=lambda p: ".".join(map(str, p)))
def test_hostile_value_refused(path: tuple[Any, ...]) -> None:
    accepted = []
    for value in [*HOSTILE, DELETE]:
        try:
            _check(replaced(_DATA["evidence"], path, value))
        except (MalformedInput, VerificationFailed):
            continue
        accepted.append(value)
    if path in _NULL_ALLOWED:
        assert accepted == [None]
        return
    assert not accepted, f"{path} = {accepted[:3]!r} verified"
