"""Offline checks of EVM receipts from the regulator chain's registry (docs/formats.md, "EVM receipt").

A receipt carries the registry's event log, the header of the block holding it and every receipt and
raw transaction of that block. Offline, the verifier shows that a block whose header hashes to
``block_hash`` commits (through its ``receiptsRoot`` and ``transactionsRoot``) to a successful
transaction, signed by a trusted operator, that calls the trusted registry with exactly this origin,
size and root (or tenant, date and digest) and whose log says the same. What it cannot show offline: that
the block is on the chain the regulator follows, and final. ``--evm URL`` (``verifier.evm_online``)
asks a node. A receipt from a node that could not serve raw transactions has ``transactions`` null:
then the transaction's hash and signer are not checked offline either, and the report says so.
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
from verifier.evm_fields import (
    MAX_RECEIPTS,
    BlockReceipt,
    EvmLog,
    address_field,
    hex0x_field,
    parse_header,
    parse_log,
    parse_receipt,
    parse_transactions,
)
from verifier.evm_tx import decode_transaction
from verifier.merkle import MAX_CONSISTENCY_HASHES, verify_consistency
from verifier.rlp import encode, keccak256, trie_root
from verifier.sm import sm3
from verifier.trust import RegulatorChain, TrustRoot

__all__ = [
    "CHECKPOINT_EVENT",
    "DIGEST_EVENT",
    "NOT_CHECKED_OFFLINE",
    "NOT_CHECKED_TRANSACTION",
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
NOT_CHECKED_OFFLINE = "not checked offline: that the block is on the regulator chain and final (pass --evm URL)"
"""What an offline report says it could not check about an EVM receipt."""
NOT_CHECKED_TRANSACTION = (
    "not checked offline: that the block is on the regulator chain and final, and, as the receipt carries no "
    "raw transactions, the transaction's hash and signer (pass --evm URL)"
)
"""The same, for a receipt without the block's raw transactions."""
CHECKPOINT_FUNCTION = "anchorCheckpoint(bytes32,uint64,bytes32)"
DIGEST_FUNCTION = "recordDigest(bytes32,uint32,bytes32)"

_EVIDENCE_FIELDS = ("chain_id", "contract", "tx_hash", "from", "transaction_index", "block_number", "block_hash",
                    "log_index", "log", "block_header", "receipts", "transactions")
_ANCHOR_FIELDS = ("backend", "tree_size", "root_hash", "origin", "origin_hash", *_EVIDENCE_FIELDS,
                  "consistency_proof")
_DIGEST_FIELDS = ("backend", "tenant_hash", "date", "digest", *_EVIDENCE_FIELDS)


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
    receipts: tuple[BlockReceipt, ...]
    transactions: tuple[bytes, ...] | None

    @classmethod
    def from_object(cls, obj: JSONObject, where: str) -> EvmEvidence:
        """Parse the evidence fields of an EVM receipt object (others are the caller's); ``MalformedInput``."""
        require_fields(obj, where, required=_EVIDENCE_FIELDS, optional=set(obj) - set(_EVIDENCE_FIELDS))
        receipts = list_field(obj, "receipts", where, max_items=MAX_RECEIPTS)
        return cls(
            chain_id=int_field(obj, "chain_id", where),
            contract=address_field(obj, "contract", where),
            tx_hash=hex0x_field(obj, "tx_hash", where, size=32),
            sender=address_field(obj, "from", where),
            transaction_index=int_field(obj, "transaction_index", where),
            block_number=int_field(obj, "block_number", where),
            block_hash=hex0x_field(obj, "block_hash", where, size=32),
            log_index=int_field(obj, "log_index", where),
            log=parse_log(obj["log"], f"{where}.log"),
            header=parse_header(object_field(obj, "block_header", where), f"{where}.block_header"),
            receipts=tuple(parse_receipt(r, f"{where}.receipts[{i}]") for i, r in enumerate(receipts)),
            transactions=parse_transactions(obj, where),
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


def verify_evm_evidence(evidence: EvmEvidence, *, trust_root: TrustRoot, topics: tuple[bytes, ...],
                        function: str) -> RegulatorChain:
    """Check, offline, that ``evidence``'s block commits to its log and that the log is the trusted
    registry's with ``topics``, written by a call of ``function`` (its signature text) with the logged
    arguments; return the registry's trust-root entry. Raises ``ChainMismatch``.

    1. The trust root names the registry (chain id and contract); its sender is one of the operators.
    2. keccak-256(RLP(block_header)) is ``block_hash``, and the header's number is ``block_number``.
    3. The receipts rebuild the header's ``receiptsRoot`` (Merkle-Patricia trie keyed by RLP(index)).
    4. The receipt at ``transaction_index`` succeeded and holds, at the block-wide ``log_index``, the log.
    5. That log was emitted by the registry contract, with exactly ``topics``.
    6. Unless ``transactions`` is null: they rebuild the header's ``transactionsRoot``; the one at
       ``transaction_index`` hashes to ``tx_hash``, is signed by ``from`` (recovered from its signature),
       for this chain, to the registry, with no value, calling ``function`` with the log's topic 1 and data.
    """
    chain = _trusted_chain(evidence, trust_root)
    _checkparse_header(evidence)
    _check_receipts(evidence)
    log = evidence.log
    if "0x" + log.address.hex() != chain.contract:
        raise ChainMismatch(f"evm log emitted by 0x{log.address.hex()}, not the registry {chain.contract}")
    if log.topics != topics:
        got, want = [t.hex() for t in log.topics], [t.hex() for t in topics]
        raise ChainMismatch(f"evm log topics mismatch: got {got}, want {want}")
    if evidence.transactions is not None:
        _check_transaction(evidence, chain, function)
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
                                topics=(keccak256(CHECKPOINT_EVENT.encode()), want_hash), function=CHECKPOINT_FUNCTION)
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
                                topics=(keccak256(DIGEST_EVENT.encode()), tenant_hash), function=DIGEST_FUNCTION)
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


def _checkparse_header(evidence: EvmEvidence) -> None:
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


def _check_transaction(evidence: EvmEvidence, chain: RegulatorChain, function: str) -> None:
    transactions, index = evidence.transactions or (), evidence.transaction_index
    root, want = trie_root(list(transactions)), evidence.header_field("transactionsRoot")
    if root != want:
        raise ChainMismatch(f"evm block transactions rebuild transactionsRoot {root.hex()}, the header says {want.hex()}")
    if len(transactions) != len(evidence.receipts):
        raise ChainMismatch(f"evm block has {len(transactions)} transactions but {len(evidence.receipts)} receipts")
    calculated = keccak256(transactions[index])
    if calculated != evidence.tx_hash:
        raise ChainMismatch(f"evm tx_hash {evidence.tx_hash.hex()} is not transaction {index} of the block, which "
                            f"hashes to {calculated.hex()}")
    try:
        tx = decode_transaction(transactions[index])
    except ValueError as exc:
        raise ChainMismatch(f"evm transaction {index} of the block: {exc}") from exc
    if tx.sender != evidence.sender:
        raise ChainMismatch(f"evm transaction {index} is signed by {tx.sender}, not by from {evidence.sender}")
    target = "0x" + tx.to.hex() if tx.to is not None else None
    if (tx.chain_id, target, tx.value) != (evidence.chain_id, chain.contract, 0):
        raise ChainMismatch(f"evm transaction {index} is for chain {tx.chain_id} to {target} with value {tx.value}, "
                            f"want chain {evidence.chain_id} to {chain.contract} with value 0")
    calldata = keccak256(function.encode())[:4] + evidence.log.topics[1] + evidence.log.data
    if tx.data != calldata:
        raise ChainMismatch(f"evm transaction {index} does not call {function} with the logged arguments")


def _require_data(log: EvmLog, number: int, value: bytes, what: str, *, bits: int) -> None:
    if len(log.data) != 64:
        raise ChainMismatch(f"evm log data is {len(log.data)} bytes, want 64 ({what})")
    got_number, got_value = int.from_bytes(log.data[:32], "big"), log.data[32:]
    if got_number >= 1 << bits:
        raise ChainMismatch(f"evm log data word 0 is {got_number}, beyond uint{bits}")
    if (got_number, got_value) != (number, value):
        raise ChainMismatch(f"evm log {what} mismatch: got {got_number} {got_value.hex()}, want {number} {value.hex()}")


