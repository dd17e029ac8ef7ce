"""Block headers, receipts and logs in the JSON form EVM receipts carry (docs/formats.md, "EVM receipt").

Every value is ``0x`` lower-case hex, as JSON-RPC spells it: quantities minimal (``0x0``, ``0x1a``), byte
strings in full. A header keeps exactly the fields its block has, in the order they are RLP-encoded
(Ethereum's header, with the fields London, Shanghai, Cancun and Prague appended), so an offline verifier
can re-encode it and compare its keccak-256 with the block hash.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HEADER_FIELDS", "QUANTITY_FIELDS", "block_evidence", "header_json", "log_json", "receipt_json"]

HEADER_FIELDS = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
    "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
    "baseFeePerGas",                                    # London (EIP-1559)
    "withdrawalsRoot",                                  # Shanghai (EIP-4895)
    "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",  # Cancun (EIP-4844, EIP-4788)
    "requestsHash",                                     # Prague (EIP-7685)
)
"""Header fields in RLP order; a block has the first 15 and then a prefix of the rest."""
QUANTITY_FIELDS = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}
)
"""Header fields that are integers (RLP: minimal big-endian bytes); the others are byte strings."""


def header_json(block: dict[str, Any]) -> dict[str, str]:
    """The header fields of a web3 ``block`` that it has, in RLP order, as hex text."""
    header: dict[str, str] = {}
    for name in HEADER_FIELDS:
        if block.get(name) is None:
            break
        header[name] = _quantity(block[name]) if name in QUANTITY_FIELDS else _bytes(block[name])
    return header


def log_json(log: dict[str, Any]) -> dict[str, Any]:
    """A web3 ``log`` as the receipt trie holds it: emitting address, topics, data."""
    return {"address": _bytes(log["address"]), "topics": [_bytes(t) for t in log["topics"]], "data": _bytes(log["data"])}


def receipt_json(receipt: dict[str, Any]) -> dict[str, Any]:
    """A web3 ``receipt`` reduced to what its receipt-trie entry encodes (EIP-2718 type, status, cumulative
    gas, bloom, logs)."""
    return {"type": _quantity(receipt.get("type", 0)), "status": _quantity(receipt["status"]),
            "cumulativeGasUsed": _quantity(receipt["cumulativeGasUsed"]), "logsBloom": _bytes(receipt["logsBloom"]),
            "logs": [log_json(lg) for lg in receipt["logs"]]}


def block_evidence(block: dict[str, Any], log: dict[str, Any]) -> dict[str, Any]:
    """Block number and hash, the log's block-wide index, the log and the header of ``block``."""
    return {"block_number": int(block["number"]), "block_hash": _bytes(block["hash"]), "log_index": int(log["logIndex"]),
            "log": log_json(log), "block_header": header_json(block)}


def _quantity(value: Any) -> str:
    return hex(int(value, 16) if isinstance(value, str) else int(value))


def _bytes(value: Any) -> str:
    if isinstance(value, str):
        return "0x" + value.removeprefix("0x").lower()
    return "0x" + bytes(value).hex()
