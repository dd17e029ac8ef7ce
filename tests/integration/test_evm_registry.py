"""The registry contract on a real anvil: who may write, what it refuses (with its own reason), its events."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from web3 import Web3

from ledger.errors import EvmTransactionError
from ledger.evm import (
    CHECKPOINT_EVENT,
    DIGEST_EVENT,
    REGISTRY_ABI,
    Artifact,
    OperatorKey,
    Registry,
    Transactor,
    date_number,
    origin_hash,
    tenant_hash,
)
from tests.evm_support import funded_operator

pytestmark = pytest.mark.evm

ORIGIN = origin_hash("test.tiezheng/log")
TENANT = tenant_hash("acme-chem")
DAY = date(2026, 12, 1)


def _mined(registry: Registry, key: OperatorKey, kind: str, *args: Any) -> dict[str, Any]:
    """Sign, send and wait for one write; the receipt, or EvmTransactionError with the contract's reason."""
    transactor = Transactor(registry, key)
    sign = registry.sign_anchor if kind == "anchor" else registry.sign_digest
    tx = sign(key, *args, nonce=transactor.next_nonce())
    transactor.send(tx)
    receipt = transactor.outcome(tx)  # anvil mines on arrival
    assert receipt is not None
    return receipt


def test_abi_is_the_compiled_one(registry_artifact: Artifact) -> None:
    def shape(abi: list[dict[str, Any]]) -> list[Any]:
        return sorted((e["type"], e.get("name", ""), [(i["type"], i.get("indexed")) for i in e.get("inputs", [])],
                       [o["type"] for o in e.get("outputs", [])], e.get("stateMutability")) for e in abi)

    assert shape(REGISTRY_ABI) == shape(registry_artifact.abi)
    assert registry_artifact.evm_version == "prague" and "0.8.37" in registry_artifact.compiler


def test_anchor_checkpoint_stores_and_emits(registry: Registry, operator: OperatorKey) -> None:
    receipt = _mined(registry, operator, "anchor", ORIGIN, 10, b"\x11" * 32)
    (log,) = receipt["logs"]
    assert bytes(log["topics"][0]) == bytes(Web3.keccak(text=CHECKPOINT_EVENT))
    assert bytes(log["topics"][1]) == ORIGIN
    assert bytes(log["data"]) == (10).to_bytes(32, "big") + b"\x11" * 32
    assert registry.latest_checkpoint(ORIGIN) == (10, b"\x11" * 32)
    _mined(registry, operator, "anchor", ORIGIN, 11, b"\x22" * 32)
    assert registry.latest_checkpoint(ORIGIN) == (11, b"\x22" * 32)
    assert registry.operators() == [operator.address.lower()]


@pytest.mark.parametrize("size", [10, 9])
def test_anchor_checkpoint_refuses_a_rewrite(registry: Registry, operator: OperatorKey, size: int) -> None:
    _mined(registry, operator, "anchor", ORIGIN, 10, b"\x11" * 32)
    with pytest.raises(EvmTransactionError, match="EvidenceRegistry: size not larger than the last checkpoint") as e:
        _mined(registry, operator, "anchor", ORIGIN, size, b"\x33" * 32)
    assert e.value.reason == "EvidenceRegistry: size not larger than the last checkpoint"
    assert registry.latest_checkpoint(ORIGIN) == (10, b"\x11" * 32)


def test_anchor_checkpoint_origins_are_independent(registry: Registry, operator: OperatorKey) -> None:
    _mined(registry, operator, "anchor", ORIGIN, 10, b"\x11" * 32)
    other = origin_hash("other.tiezheng/log")
    _mined(registry, operator, "anchor", other, 3, b"\x44" * 32)
    assert registry.latest_checkpoint(other) == (3, b"\x44" * 32)


def test_writes_by_a_non_operator_are_reverted(registry: Registry, evm_url: str) -> None:
    stranger = funded_operator(evm_url)
    with pytest.raises(EvmTransactionError, match="EvidenceRegistry: caller is not an operator"):
        _mined(registry, stranger, "anchor", ORIGIN, 1, b"\x11" * 32)
    with pytest.raises(EvmTransactionError, match="EvidenceRegistry: caller is not an operator"):
        _mined(registry, stranger, "digest", TENANT, DAY, b"\x55" * 32)
    assert registry.latest_checkpoint(ORIGIN) == (0, bytes(32)) and registry.digest_of(TENANT, DAY) is None


def test_record_digest_stores_and_emits(registry: Registry, operator: OperatorKey) -> None:
    receipt = _mined(registry, operator, "digest", TENANT, DAY, b"\x55" * 32)
    (log,) = receipt["logs"]
    assert bytes(log["topics"][0]) == bytes(Web3.keccak(text=DIGEST_EVENT)) and bytes(log["topics"][1]) == TENANT
    assert bytes(log["data"]) == date_number(DAY).to_bytes(32, "big") + b"\x55" * 32
    assert registry.digest_of(TENANT, DAY) == b"\x55" * 32
    _mined(registry, operator, "digest", TENANT, date(2026, 12, 2), b"\x66" * 32)
    _mined(registry, operator, "digest", tenant_hash("other"), DAY, b"\x77" * 32)


def test_record_digest_refuses_a_second_for_the_same_date(registry: Registry, operator: OperatorKey) -> None:
    _mined(registry, operator, "digest", TENANT, DAY, b"\x55" * 32)
    with pytest.raises(EvmTransactionError, match="EvidenceRegistry: digest already recorded for this date"):
        _mined(registry, operator, "digest", TENANT, DAY, b"\x66" * 32)
    assert registry.digest_of(TENANT, DAY) == b"\x55" * 32


@pytest.mark.parametrize(("kind", "args", "reason"), [
    ("anchor", (ORIGIN, 5, bytes(32)), "zero root"),
    ("anchor", (bytes(32), 5, b"\x11" * 32), "zero origin hash"),
    ("digest", (TENANT, DAY, bytes(32)), "zero digest"),
    ("digest", (bytes(32), DAY, b"\x55" * 32), "zero tenant hash"),
    ("digest", (TENANT, date(1969, 12, 31), b"\x55" * 32), "date is not YYYYMMDD"),
])
def test_writes_of_empty_values_are_reverted(registry: Registry, operator: OperatorKey, kind: str,
                                             args: tuple[Any, ...], reason: str) -> None:
    with pytest.raises(EvmTransactionError, match=f"EvidenceRegistry: {reason}"):
        _mined(registry, operator, kind, *args)


def test_deploy_refuses_no_operators(evm_url: str, operator: OperatorKey, registry_artifact: Artifact) -> None:
    with pytest.raises(EvmTransactionError, match="deployment .* reverted"):
        Registry.deploy(evm_url, operator, bytecode=registry_artifact.bytecode, operators=[])


def test_audit_trail_reads_back_every_write_decoded(registry: Registry, operator: OperatorKey) -> None:
    _mined(registry, operator, "anchor", ORIGIN, 10, b"\x11" * 32)
    _mined(registry, operator, "digest", TENANT, DAY, b"\x55" * 32)

    trail = registry.audit_trail()

    calls = [(t["function"], t["args"]) for t in trail if "function" in t]
    events = [(t["event"], t["args"]) for t in trail if "event" in t]
    assert calls == [("anchorCheckpoint", {"originHash": "0x" + ORIGIN.hex(), "size": 10, "root": "0x" + "11" * 32}),
                     ("recordDigest", {"tenantHash": "0x" + TENANT.hex(), "date": 20261201, "digest": "0x" + "55" * 32})]
    assert events == [("CheckpointAnchored", {"originHash": "0x" + ORIGIN.hex(), "size": 10, "root": "0x" + "11" * 32}),
                      ("DigestRecorded", {"tenantHash": "0x" + TENANT.hex(), "date": 20261201, "digest": "0x" + "55" * 32})]
