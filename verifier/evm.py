"""Offline checks of EVM receipts from the regulator chain's registry (docs/formats.md, "EVM receipt").

A receipt carries the registry's event log, the header of the block holding it and every receipt of that
block. Offline, the verifier shows that a block whose header hashes to ``block_hash`` commits (through
its ``receiptsRoot``) to a successful transaction whose log, emitted by the trusted registry contract,
says exactly this origin, size and root (or tenant, date and digest). What it cannot show offline: that
the block is on the chain the regulator follows (and final), and the transaction's hash and sender (the
block's transactions are not carried; the contract itself lets only operators write). ``--evm URL``
(``verifier.evm_online``) checks those against a node.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from verifier._json import (
    JSONObject,
    hex_field,
    hex_list_field,
    int_field,
    list_field,
    object_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.checkpoint import Checkpoint
from verifier.errors import ChainMismatch, MalformedInput
from verifier.merkle import MAX_CONSISTENCY_HASHES, verify_consistency
from verifier.rlp import encode, encode_int, keccak256, trie_root
from verifier.sm import sm3
from verifier.trust import RegulatorChain, TrustRoot

__all__ = [
    "CHECKPOINT_EVENT",
    "DIGEST_EVENT",
    "NOT_CHECKED_OFFLINE",
    "EvmAnchor",
    "EvmDigestReceipt",
    "EvmEvidence",
    "EvmLog",
    "verify_evm_anchor",
    "verify_evm_digest",
    "verify_evm_evidence",
]

CHECKPOINT_EVENT = "CheckpointAnchored(bytes32,uint64,bytes32)"
"""The registry's checkpoint event; its log's topic 0 is keccak-256 of this text."""
DIGEST_EVENT = "DigestRecorded(bytes32,uint32,bytes32)"
"""The registry's digest event."""
NOT_CHECKED_OFFLINE = (
    "not checked offline: that the block is on the regulator chain and final, and the transaction hash and "
    "sender (pass --evm URL to ask a node)"
)
"""What an offline report says it could not check about an EVM receipt."""

HEADER_FIELDS = (
    "parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
    "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
    "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot", "requestsHash",
)
_QUANTITIES = frozenset(
    {"difficulty", "number", "gasLimit", "gasUsed", "timestamp", "baseFeePerGas", "blobGasUsed", "excessBlobGas"}
)
_EVIDENCE_FIELDS = ("chain_id", "contract", "tx_hash", "from", "transaction_index", "block_number", "block_hash",
                    "log_index", "log", "block_header", "receipts")
_ANCHOR_FIELDS = ("backend", "tree_size", "root_hash", "origin", "origin_hash", *_EVIDENCE_FIELDS,
                  "consistency_proof")
_DIGEST_FIELDS = ("backend", "tenant_hash", "date", "digest", *_EVIDENCE_FIELDS)
_MAX_RECEIPTS, _MAX_LOGS, _MAX_TOPICS, _MAX_DATA = 100_000, 10_000, 4, 1 << 20
_UINT64 = 2**64 - 1


@dataclass(frozen=True)
class EvmLog:
    """An event log: emitting contract (20 bytes), topics (32 bytes each), data."""

    address: bytes
    topics: tuple[bytes, ...]
    data: bytes

    def rlp_item(self) -> list[Any]:
        """The log as the receipt trie encodes it: [address, [topics], data]."""
        return [self.address, list(self.topics), self.data]


@dataclass(frozen=True)
class _BlockReceipt:
    type: int
    status: int
    cumulative_gas: int
    bloom: bytes
    logs: tuple[EvmLog, ...]

    def trie_value(self) -> bytes:
        body = encode([encode_int(self.status), encode_int(self.cumulative_gas), self.bloom,
                       [log.rlp_item() for log in self.logs]])
        return body if self.type == 0 else bytes([self.type]) + body


@dataclass(frozen=True)
class EvmEvidence:
    """Where a registry log sits: chain, contract, transaction, block (header and receipts), the log."""

    chain_id: int
    contract: str
    tx_hash: bytes
    sender: str
    transaction_index: int
    block_number: int
    block_hash: bytes
    log_index: int
    log: EvmLog
    header: tuple[tuple[str, bytes], ...]
    receipts: tuple[_BlockReceipt, ...]

    @classmethod
    def from_object(cls, obj: JSONObject, where: str) -> EvmEvidence:
        """Parse the evidence fields of an EVM receipt object; raises ``MalformedInput``."""
        receipts = list_field(obj, "receipts", where, max_items=_MAX_RECEIPTS)
        return cls(
            chain_id=int_field(obj, "chain_id", where),
            contract=_address(obj, "contract", where),
            tx_hash=_hex0x(obj, "tx_hash", where, size=32),
            sender=_address(obj, "from", where),
            transaction_index=int_field(obj, "transaction_index", where),
            block_number=int_field(obj, "block_number", where),
            block_hash=_hex0x(obj, "block_hash", where, size=32),
            log_index=int_field(obj, "log_index", where),
            log=_log(obj["log"], f"{where}.log"),
            header=_header(object_field(obj, "block_header", where), f"{where}.block_header"),
            receipts=tuple(_receipt(r, f"{where}.receipts[{i}]") for i, r in enumerate(receipts)),
        )

    def header_field(self, name: str) -> bytes:
        """The raw value of header field ``name`` (quantities as minimal big-endian bytes)."""
        return dict(self.header)[name]


@dataclass(frozen=True)
class EvmAnchor:
    """A bundle's ``evm`` anchor: the checkpoint it anchors, its evidence, the proof from the bundle tree."""

    tree_size: int
    root_hash: bytes
    origin: str
    origin_hash: bytes
    evidence: EvmEvidence
    consistency_proof: tuple[bytes, ...]

    @classmethod
    def from_json(cls, value: Any) -> EvmAnchor:
        """Parse an ``evm`` anchor of a bundle (exactly the fields of docs/formats.md); ``MalformedInput``."""
        obj = require_object(value, "evm anchor")
        require_fields(obj, "evm anchor", required=_ANCHOR_FIELDS)
        if obj["backend"] != "evm":
            raise MalformedInput(f"evm anchor.backend must be 'evm', got {obj['backend']!r:.40}")
        return cls(
            tree_size=int_field(obj, "tree_size", "evm anchor"),
            root_hash=hex_field(obj, "root_hash", "evm anchor"),
            origin=str_field(obj, "origin", "evm anchor"),
            origin_hash=hex_field(obj, "origin_hash", "evm anchor"),
            evidence=EvmEvidence.from_object(obj, "evm anchor"),
            consistency_proof=hex_list_field(obj, "consistency_proof", "evm anchor", max_items=MAX_CONSISTENCY_HASHES),
        )


@dataclass(frozen=True)
class EvmDigestReceipt:
    """A daily digest's EVM receipt (``ledger.evm.DigestReceipt.to_json``)."""

    tenant_hash: bytes
    day: date
    digest: bytes
    evidence: EvmEvidence

    @classmethod
    def from_json(cls, value: Any) -> EvmDigestReceipt:
        """Parse a digest receipt; raises ``MalformedInput``."""
        obj = require_object(value, "evm digest receipt")
        require_fields(obj, "evm digest receipt", required=_DIGEST_FIELDS)
        if obj["backend"] != "evm":
            raise MalformedInput(f"evm digest receipt.backend must be 'evm', got {obj['backend']!r:.40}")
        try:
            day = date.fromisoformat(str_field(obj, "date", "evm digest receipt"))
        except ValueError as exc:
            raise MalformedInput(f"evm digest receipt.date must be YYYY-MM-DD: {exc}") from exc
        return cls(hex_field(obj, "tenant_hash", "evm digest receipt"), day,
                   hex_field(obj, "digest", "evm digest receipt"), EvmEvidence.from_object(obj, "evm digest receipt"))


def verify_evm_evidence(evidence: EvmEvidence, *, trust_root: TrustRoot, topics: tuple[bytes, ...]) -> RegulatorChain:
    """Check, offline, that ``evidence``'s block commits to its log and that the log is the trusted
    registry's with ``topics``; return the registry's trust-root entry. Raises ``ChainMismatch``.

    1. The trust root names the registry (chain id and contract); its sender is one of the operators.
    2. keccak-256(RLP(block_header)) is ``block_hash``, and the header's number is ``block_number``.
    3. The receipts rebuild the header's ``receiptsRoot`` (Merkle-Patricia trie keyed by RLP(index)).
    4. The receipt at ``transaction_index`` succeeded and holds, at the block-wide ``log_index``, the log.
    5. That log was emitted by the registry contract, with exactly ``topics``.
    """
    chain = _trusted_chain(evidence, trust_root)
    _check_header(evidence)
    _check_receipts(evidence)
    log = evidence.log
    if "0x" + log.address.hex() != chain.contract:
        raise ChainMismatch(f"evm log emitted by 0x{log.address.hex()}, not the registry {chain.contract}")
    if log.topics != topics:
        got, want = [t.hex() for t in log.topics], [t.hex() for t in topics]
        raise ChainMismatch(f"evm log topics mismatch: got {got}, want {want}")
    return chain


def verify_evm_anchor(anchor: EvmAnchor, *, checkpoint: Checkpoint, trust_root: TrustRoot) -> RegulatorChain:
    """Check that the ``evm`` anchor covers ``checkpoint`` (a verified bundle checkpoint); offline.

    1. ``origin`` is the checkpoint's, ``origin_hash`` is SM3 of it (the log's key on chain).
    2. The evidence verifies (``verify_evm_evidence``) with topics [CheckpointAnchored, origin_hash].
    3. The log's data decodes to exactly (``tree_size``, ``root_hash``).
    4. The tree is at least the checkpoint's, and the consistency proof leads from it to the anchored root.
    Raises ``ChainMismatch``, ``InvalidProof`` or ``RootMismatch``.
    """
    if anchor.origin != checkpoint.origin:
        raise ChainMismatch(f"evm anchor origin mismatch: got {anchor.origin!r:.80}, want {checkpoint.origin!r}")
    want_hash = sm3(checkpoint.origin.encode("utf-8"))
    if anchor.origin_hash != want_hash:
        raise ChainMismatch(f"evm anchor origin_hash mismatch: got {anchor.origin_hash.hex()}, want {want_hash.hex()}")
    chain = verify_evm_evidence(anchor.evidence, trust_root=trust_root,
                                topics=(keccak256(CHECKPOINT_EVENT.encode()), want_hash))
    _require_data(anchor.evidence.log, anchor.tree_size, anchor.root_hash, "tree size and root", bits=64)
    if anchor.tree_size < checkpoint.tree_size:
        raise ChainMismatch(f"evm anchor tree size {anchor.tree_size} is smaller than the checkpoint tree size "
                            f"{checkpoint.tree_size}")
    verify_consistency(checkpoint.tree_size, anchor.tree_size, checkpoint.root_hash, anchor.root_hash,
                       anchor.consistency_proof)
    return chain


def verify_evm_digest(receipt: EvmDigestReceipt, *, trust_root: TrustRoot, tenant_hash: bytes, day: date,
                      digest: bytes) -> RegulatorChain:
    """Check that ``receipt`` records exactly ``digest`` for ``tenant_hash`` and ``day`` on a trusted
    registry (offline, as ``verify_evm_evidence``); raises ``ChainMismatch``."""
    got = (receipt.tenant_hash, receipt.day, receipt.digest)
    if got != (tenant_hash, day, digest):
        raise ChainMismatch(f"evm digest receipt is for tenant {receipt.tenant_hash.hex()} on {receipt.day} digest "
                            f"{receipt.digest.hex()}, want {tenant_hash.hex()} on {day} digest {digest.hex()}")
    chain = verify_evm_evidence(receipt.evidence, trust_root=trust_root,
                                topics=(keccak256(DIGEST_EVENT.encode()), tenant_hash))
    number = day.year * 10000 + day.month * 100 + day.day
    _require_data(receipt.evidence.log, number, digest, "date and digest", bits=32)
    return chain


def _trusted_chain(evidence: EvmEvidence, trust_root: TrustRoot) -> RegulatorChain:
    chain = trust_root.regulator_chain(evidence.chain_id, evidence.contract)
    if chain is None:
        named = ", ".join(f"{c.chain_id}:{c.contract}" for c in trust_root.regulator_chains) or "none"
        raise ChainMismatch(f"the trust root names no registry {evidence.contract} on chain {evidence.chain_id} "
                            f"(it names: {named})")
    if evidence.sender not in chain.operators:
        raise ChainMismatch(f"evm transaction sender {evidence.sender} is not an operator of the registry "
                            f"(operators: {', '.join(chain.operators)})")
    return chain


def _check_header(evidence: EvmEvidence) -> None:
    calculated = keccak256(encode([value for _, value in evidence.header]))
    if calculated != evidence.block_hash:
        raise ChainMismatch(f"evm block header hashes to {calculated.hex()}, not the block hash "
                            f"{evidence.block_hash.hex()}")
    number = int.from_bytes(evidence.header_field("number"), "big")
    if number != evidence.block_number:
        raise ChainMismatch(f"evm block header number is {number}, want block_number {evidence.block_number}")


def _check_receipts(evidence: EvmEvidence) -> None:
    root, want = trie_root([r.trie_value() for r in evidence.receipts]), evidence.header_field("receiptsRoot")
    if root != want:
        raise ChainMismatch(f"evm block receipts rebuild receiptsRoot {root.hex()}, the header says {want.hex()}")
    if evidence.transaction_index >= len(evidence.receipts):
        raise ChainMismatch(f"evm transaction_index {evidence.transaction_index} is not in the block "
                            f"({len(evidence.receipts)} receipts)")
    receipt = evidence.receipts[evidence.transaction_index]
    if receipt.status != 1:
        raise ChainMismatch(f"evm transaction {evidence.transaction_index} of the block failed (status {receipt.status})")
    first = sum(len(r.logs) for r in evidence.receipts[: evidence.transaction_index])
    position = evidence.log_index - first
    if not 0 <= position < len(receipt.logs):
        raise ChainMismatch(f"evm log_index {evidence.log_index} is not a log of transaction "
                            f"{evidence.transaction_index} (its logs are {first}..{first + len(receipt.logs) - 1})")
    if receipt.logs[position] != evidence.log:
        raise ChainMismatch(f"evm log differs from log {evidence.log_index} of the block's receipts")


def _require_data(log: EvmLog, number: int, value: bytes, what: str, *, bits: int) -> None:
    if len(log.data) != 64:
        raise ChainMismatch(f"evm log data is {len(log.data)} bytes, want 64 ({what})")
    got_number, got_value = int.from_bytes(log.data[:32], "big"), log.data[32:]
    if got_number >= 1 << bits:
        raise ChainMismatch(f"evm log data word 0 is {got_number}, beyond uint{bits}")
    if (got_number, got_value) != (number, value):
        raise ChainMismatch(f"evm log {what} mismatch: got {got_number} {got_value.hex()}, want {number} {value.hex()}")


# -- parsing -------------------------------------------------------------------------------------
def _hex0x(obj: JSONObject, key: str, where: str, *, size: int | None = None) -> bytes:
    text = str_field(obj, key, where)
    return _bytes0x(text, f"{where}.{key}", size)


def _bytes0x(text: Any, where: str, size: int | None, *, limit: int = _MAX_DATA) -> bytes:
    body = text[2:] if isinstance(text, str) and text.startswith("0x") else None
    if body is None or len(body) % 2 or len(body) > 2 * limit or body != body.lower():
        raise MalformedInput(f"{where} must be 0x and lower-case hex bytes, got {str(text)[:80]!r}")
    try:
        raw = bytes.fromhex(body)
    except ValueError as exc:
        raise MalformedInput(f"{where} must be 0x and lower-case hex bytes, got {str(text)[:80]!r}") from exc
    if size is not None and len(raw) != size:
        raise MalformedInput(f"{where} must be {size} bytes, got {len(raw)}")
    return raw


def _quantity(text: Any, where: str) -> int:
    body = text[2:] if isinstance(text, str) and text.startswith("0x") else ""
    if not body or len(body) > 64 or (body != "0" and body.startswith("0")) or body != body.lower():
        raise MalformedInput(f"{where} must be a minimal 0x hex quantity, got {str(text)[:80]!r}")
    try:
        return int(body, 16)
    except ValueError as exc:
        raise MalformedInput(f"{where} must be a minimal 0x hex quantity, got {str(text)[:80]!r}") from exc


def _address(obj: JSONObject, key: str, where: str) -> str:
    return "0x" + _hex0x(obj, key, where, size=20).hex()


def _log(value: Any, where: str) -> EvmLog:
    obj = require_object(value, where)
    require_fields(obj, where, required=("address", "topics", "data"))
    topics = list_field(obj, "topics", where, max_items=_MAX_TOPICS)
    return EvmLog(_hex0x(obj, "address", where, size=20),
                  tuple(_bytes0x(t, f"{where}.topics[{i}]", 32) for i, t in enumerate(topics)),
                  _hex0x(obj, "data", where))


def _receipt(value: Any, where: str) -> _BlockReceipt:
    obj = require_object(value, where)
    require_fields(obj, where, required=("type", "status", "cumulativeGasUsed", "logsBloom", "logs"))
    kind, status = _quantity(obj["type"], f"{where}.type"), _quantity(obj["status"], f"{where}.status")
    if kind > 0x7F or status > 1:
        raise MalformedInput(f"{where}: type must be below 0x80 and status 0 or 1, got {kind:#x} and {status:#x}")
    logs = list_field(obj, "logs", where, max_items=_MAX_LOGS)
    return _BlockReceipt(kind, status, _quantity(obj["cumulativeGasUsed"], f"{where}.cumulativeGasUsed"),
                         _hex0x(obj, "logsBloom", where, size=256),
                         tuple(_log(lg, f"{where}.logs[{i}]") for i, lg in enumerate(logs)))


def _header(obj: JSONObject, where: str) -> tuple[tuple[str, bytes], ...]:
    names = HEADER_FIELDS[: len(obj)]
    if len(obj) < 15 or set(obj) != set(names):
        raise MalformedInput(f"{where} must have the header fields {', '.join(HEADER_FIELDS[:15])} and a prefix of "
                             f"{', '.join(HEADER_FIELDS[15:])}; got {', '.join(sorted(obj))[:300]}")
    return tuple((name, encode_int(_quantity(obj[name], f"{where}.{name}")) if name in _QUANTITIES
                  else _bytes0x(obj[name], f"{where}.{name}", None)) for name in names)
