"""The registry contract's interface (``contracts/EvidenceRegistry.sol``) and the values it stores.

Only hashes, sizes, dates and counts go on chain (docs/formats.md, "Regulator chain"): a log is named by
``origin_hash`` = SM3(origin UTF-8), a tenant by ``tenant_hash`` (as digests name it), a day by the
number YYYYMMDD. The ABI is written out here, so the service needs no build artifact at run time; a test
checks it against the ABI solc-js compiles from the source.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.sm import sm3

__all__ = [
    "CHECKPOINT_EVENT",
    "DIGEST_EVENT",
    "REGISTRY_ABI",
    "date_number",
    "number_date",
    "origin_hash",
    "tenant_hash",
]

CHECKPOINT_EVENT = "CheckpointAnchored(bytes32,uint64,bytes32)"
"""The event signature of a checkpoint write; topic 0 of its log is keccak-256 of this text."""
DIGEST_EVENT = "DigestRecorded(bytes32,uint32,bytes32)"
"""The event signature of a digest write; topic 0 of its log is keccak-256 of this text."""


def _arg(name: str, kind: str, *, indexed: bool | None = None) -> dict[str, Any]:
    arg: dict[str, Any] = {"name": name, "type": kind, "internalType": kind}
    if indexed is not None:
        arg["indexed"] = indexed
    return arg


def _function(name: str, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]], mutability: str) -> dict[str, Any]:
    return {"type": "function", "name": name, "inputs": inputs, "outputs": outputs, "stateMutability": mutability}


REGISTRY_ABI: list[dict[str, Any]] = [
    {"type": "constructor", "inputs": [_arg("operators_", "address[]")], "stateMutability": "nonpayable"},
    {"type": "event", "name": "CheckpointAnchored", "anonymous": False, "inputs": [
        _arg("originHash", "bytes32", indexed=True), _arg("size", "uint64", indexed=False),
        _arg("root", "bytes32", indexed=False)]},
    {"type": "event", "name": "DigestRecorded", "anonymous": False, "inputs": [
        _arg("tenantHash", "bytes32", indexed=True), _arg("date", "uint32", indexed=False),
        _arg("digest", "bytes32", indexed=False)]},
    _function("anchorCheckpoint", [_arg("originHash", "bytes32"), _arg("size", "uint64"), _arg("root", "bytes32")],
              [], "nonpayable"),
    _function("recordDigest", [_arg("tenantHash", "bytes32"), _arg("date", "uint32"), _arg("digest", "bytes32")],
              [], "nonpayable"),
    _function("latestCheckpoint", [_arg("originHash", "bytes32")],
              [_arg("size", "uint64"), _arg("root", "bytes32")], "view"),
    _function("rootAt", [_arg("originHash", "bytes32"), _arg("size", "uint64")], [_arg("", "bytes32")], "view"),
    _function("digestOf", [_arg("tenantHash", "bytes32"), _arg("date", "uint32")], [_arg("", "bytes32")], "view"),
    _function("operators", [], [_arg("", "address[]")], "view"),
    _function("isOperator", [_arg("", "address")], [_arg("", "bool")], "view"),
]
"""The registry's ABI (JSON ABI spec), as solc-js emits it for ``contracts/EvidenceRegistry.sol``."""


def origin_hash(origin: str) -> bytes:
    """The 32-byte key of the log ``origin`` on chain: SM3 of its UTF-8 text."""
    return sm3(origin.encode("utf-8"))


def tenant_hash(tenant: str) -> bytes:
    """The 32-byte key of the tenant ``tenant`` on chain: SM3 of ``tiezheng.tenant/v1`` LF its UTF-8 id, the
    ``tenant`` a regulator digest carries (so a verifier holding the digest checks the record's key)."""
    return sm3(b"tiezheng.tenant/v1\n" + tenant.encode("utf-8"))


def date_number(day: date) -> int:
    """``day`` as the contract stores it: the number YYYYMMDD (2026-12-01 → 20261201)."""
    return day.year * 10000 + day.month * 100 + day.day


def number_date(number: int) -> date:
    """Inverse of ``date_number``; raises ``ValueError`` for a number that is not a valid YYYYMMDD date."""
    return date(number // 10000, number // 100 % 100, number % 100)
