"""Offline verification of a Fabric anchor receipt (docs/formats.md, "Fabric anchor receipt") against the
Fabric section of the trust root: the orgs' CA certificates, who must endorse, who orders.

The receipt carries the whole block that committed the anchoring transaction. ``verify_fabric_receipt``
checks, in order, and raises at the first that fails:

1. the block parses and is the receipt's block number;
2. its header's data hash is SHA-256 over its envelopes (so the header covers the transaction);
3. its orderer signature verifies, by an orderer of an orderer org of the trust root, and the block is in
   the one form Fabric writes, every metadata entry accounted for (``fabric_block``);
4. the envelope at ``tx_index`` is an endorser transaction of the trust root's channel with the receipt's
   tx id;
5. its validation code in the block metadata is VALID, as the receipt says;
6. the transaction's endorsements are valid signatures over its one proposal response payload, by peers
   whose certificates chain to the CA of their org, and every org the trust root requires endorsed;
7. that payload is the chaincode's (the trust root's name), answered 200, and its write set stores exactly
   the receipt's checkpoint (origin, tree size, root) under the chaincode's key for it.

The block bytes are parsed with the official protobuf bindings (``verifier._fabric_pb``), a format library;
the checks are the verifier's own. It imports nothing of the server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from verifier import _fabric_pb as pb
from verifier._json import (
    JSONObject,
    b64_field,
    hex_field,
    hex_list_field,
    int_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.checkpoint import Checkpoint, key_hash, verify_checkpoint
from verifier.errors import AnchorMismatch, BadSignature, KeyMismatch, MalformedInput
from verifier.fabric_block import (
    MAX_BLOCK_BYTES,
    Signer,
    check_block_form,
    check_data_hash,
    check_identity_signature,
    check_orderer_signature,
    parse,
    validation_code,
)
from verifier.merkle import MAX_CONSISTENCY_HASHES, verify_consistency
from verifier.trust import FabricNetwork, LogKey

__all__ = ["FabricFindings", "FabricReceipt", "check_endorsements", "checkpoint_key", "stored_record",
           "verify_fabric_anchor", "verify_fabric_receipt"]

_FIELDS = ("backend", "tree_size", "root_hash", "tx_id", "channel", "chaincode", "block_number", "tx_index",
           "validation_code", "block")
_ENDORSER_TRANSACTION = 3  # common.HeaderType
_MAX_TX_ID = 128


@dataclass(frozen=True)
class FabricReceipt:
    """A parsed Fabric anchor receipt; ``consistency_proof`` (from a bundle checkpoint) is () outside bundles."""

    tree_size: int
    root_hash: bytes
    tx_id: str
    channel: str
    chaincode: str
    block_number: int
    tx_index: int
    validation_code: str
    block: bytes
    consistency_proof: tuple[bytes, ...] = ()

    @classmethod
    def from_json(cls, value: Any, *, in_bundle: bool = False) -> FabricReceipt:
        """Check the receipt's structure (``MalformedInput`` naming the field); ``in_bundle`` also requires
        the ``consistency_proof`` a bundle adds."""
        obj = require_object(value, "fabric anchor")
        require_fields(obj, "fabric anchor", required=_FIELDS + (("consistency_proof",) if in_bundle else ()))
        if obj["backend"] != "fabric":
            raise MalformedInput(f"fabric anchor.backend must be 'fabric', got {obj['backend']!r}")
        block = b64_field(obj, "block", "fabric anchor")
        if len(block) > MAX_BLOCK_BYTES:
            raise MalformedInput(f"fabric anchor.block is {len(block)} bytes, want at most {MAX_BLOCK_BYTES}")
        proof = hex_list_field(obj, "consistency_proof", "fabric anchor", max_items=MAX_CONSISTENCY_HASHES) \
            if in_bundle else ()
        return cls(tree_size=int_field(obj, "tree_size", "fabric anchor"),
                   root_hash=hex_field(obj, "root_hash", "fabric anchor"),
                   tx_id=_short_text(obj, "tx_id"), channel=_short_text(obj, "channel"),
                   chaincode=_short_text(obj, "chaincode"),
                   block_number=int_field(obj, "block_number", "fabric anchor"),
                   tx_index=int_field(obj, "tx_index", "fabric anchor"),
                   validation_code=_short_text(obj, "validation_code"), block=block, consistency_proof=proof)


@dataclass(frozen=True)
class FabricFindings:
    """What a verified receipt shows: the checkpoint the chain stored (its text, as the chaincode took it),
    which orgs endorsed, and which orderer signed the block."""

    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint_text: str
    endorsed_by: tuple[str, ...]
    orderer: Signer
    block_number: int


def checkpoint_key(origin: str, tree_size: int) -> bytes:
    """The chaincode's state key of a checkpoint: Fabric's composite key ``tiezheng.checkpoint`` of
    (origin, tree size as 20 digits)."""
    return b"\x00" + b"\x00".join(p.encode() for p in ("tiezheng.checkpoint", origin, f"{tree_size:020d}")) + b"\x00"


def verify_fabric_receipt(receipt: FabricReceipt, *, network: FabricNetwork) -> FabricFindings:
    """Run steps 1 to 7 of this module's docstring on ``receipt`` against the trust root's ``network``.

    Returns the findings; raises ``MalformedInput`` (unparseable block content), ``AnchorMismatch``,
    ``BadSignature`` or ``KeyMismatch`` with the reason.
    """
    block = parse(pb.common.Block, receipt.block, "block")
    if int(block.header.number) != receipt.block_number:
        raise AnchorMismatch(f"fabric block number mismatch: block is {block.header.number}, receipt says "
                             f"{receipt.block_number}")
    check_data_hash(block)
    orderer = check_orderer_signature(block, network)
    check_block_form(block, receipt.block)
    payload = _transaction_payload(block, receipt, network)
    code = validation_code(block, receipt.tx_index)
    if code != 0 or receipt.validation_code != "VALID":
        raise AnchorMismatch(f"fabric transaction {receipt.tx_id} is not valid: block validation code {code}, "
                             f"receipt says {receipt.validation_code!r}; want 0 (VALID)")
    tx = parse(pb.transaction.Transaction, bytes(payload.data), "transaction")
    if len(tx.actions) != 1:
        raise AnchorMismatch(f"fabric transaction {receipt.tx_id} has {len(tx.actions)} actions, want 1")
    action = parse(pb.transaction.ChaincodeActionPayload, bytes(tx.actions[0].payload), "chaincode action")
    endorsed_by = check_endorsements(action.action, network, receipt.tx_id)
    record = stored_record(bytes(action.action.proposal_response_payload), receipt, network)
    return FabricFindings(origin=record["origin"], tree_size=receipt.tree_size, root_hash=receipt.root_hash,
                          checkpoint_text=record["checkpoint"], endorsed_by=endorsed_by, orderer=orderer,
                          block_number=receipt.block_number)


def verify_fabric_anchor(receipt: FabricReceipt, *, checkpoint: Checkpoint, network: FabricNetwork,
                         log_keys: tuple[LogKey, ...]) -> FabricFindings:
    """Check that a bundle's Fabric anchor covers ``checkpoint`` (a verified bundle checkpoint).

    ``log_keys`` are the trust root's keys for the checkpoint's origin. Steps:
    1. The receipt verifies (``verify_fabric_receipt``).
    2. The stored checkpoint is of the same log, at least as large (``AnchorMismatch``), and its text, as
       the chaincode stored it, has that origin, size and root and is signed by a trusted log key.
    3. The bundle's consistency proof leads from ``checkpoint`` to the stored root (``InvalidProof``,
       ``RootMismatch``).
    """
    found = verify_fabric_receipt(receipt, network=network)
    if found.origin != checkpoint.origin:
        raise AnchorMismatch(f"fabric anchor origin mismatch: got {found.origin[:80]!r}, want {checkpoint.origin!r}")
    if found.tree_size < checkpoint.tree_size:
        raise AnchorMismatch(f"fabric anchor tree size {found.tree_size} is smaller than the checkpoint tree size "
                             f"{checkpoint.tree_size}")
    stored = Checkpoint.from_text(found.checkpoint_text)
    if (stored.origin, stored.tree_size, stored.root_hash) != (found.origin, found.tree_size, found.root_hash):
        raise AnchorMismatch("fabric anchor: the stored checkpoint text does not match the stored record")
    _verify_by_trusted_key(stored, log_keys)
    verify_consistency(checkpoint.tree_size, found.tree_size, checkpoint.root_hash, found.root_hash,
                       receipt.consistency_proof)
    return found


def _verify_by_trusted_key(checkpoint: Checkpoint, log_keys: tuple[LogKey, ...]) -> None:
    lines = {(s.name, s.key_hash) for s in checkpoint.signatures}
    keys = [k for k in log_keys if (checkpoint.origin, key_hash(checkpoint.origin, k.public_key)) in lines]
    if not keys:
        raise KeyMismatch(f"fabric anchor: the stored checkpoint of size {checkpoint.tree_size} has no signature "
                          "by a log key the trust root names")
    verify_checkpoint(checkpoint, public_key_pem=keys[0].public_key.to_pem())


def _transaction_payload(block: Any, receipt: FabricReceipt, network: FabricNetwork) -> Any:
    """Step 4: the payload of the envelope at ``tx_index``, an endorser transaction with the receipt's tx id."""
    if receipt.tx_index >= len(block.data.data):
        raise AnchorMismatch(f"fabric anchor tx_index {receipt.tx_index} is not in block {receipt.block_number} "
                             f"of {len(block.data.data)} transactions")
    envelope = parse(pb.common.Envelope, bytes(block.data.data[receipt.tx_index]), "envelope")
    payload = parse(pb.common.Payload, bytes(envelope.payload), "payload")
    header = parse(pb.common.ChannelHeader, bytes(payload.header.channel_header), "channel header")
    got = (header.type, header.channel_id, header.tx_id)
    want = (_ENDORSER_TRANSACTION, network.channel, receipt.tx_id)
    if got != want or receipt.channel != network.channel:
        raise AnchorMismatch(f"fabric transaction {receipt.tx_index} of block {receipt.block_number} is not the "
                             f"receipt's: got (type, channel, tx id) {got}, want {want} (receipt channel "
                             f"{receipt.channel!r}, trust root channel {network.channel!r})")
    return payload


def check_endorsements(endorsed: Any, network: FabricNetwork, tx_id: str) -> tuple[str, ...]:
    """Step 6: every endorsement verifies over payload || endorser; each required org endorsed."""
    orgs = {org.msp_id: org for org in network.orgs if org.msp_id in network.endorsers}
    response = bytes(endorsed.proposal_response_payload)
    signers = []
    for i, endorsement in enumerate(endorsed.endorsements):
        endorser = bytes(endorsement.endorser)
        try:
            signers.append(check_identity_signature(endorser, response + endorser, bytes(endorsement.signature),
                                                    orgs, role="peer"))
        except BadSignature as exc:
            raise BadSignature(f"fabric transaction {tx_id} endorsement {i}: {exc.message}") from exc
    endorsed_by = tuple(sorted({s.msp_id for s in signers}))
    missing = [msp for msp in network.endorsers if msp not in endorsed_by]
    if missing:
        raise BadSignature(f"fabric transaction {tx_id} is not endorsed by {', '.join(missing)} (endorsed by: "
                           f"{', '.join(endorsed_by) or 'nobody'}); the trust root requires "
                           f"{', '.join(network.endorsers)}")
    return endorsed_by


def stored_record(response_payload: bytes, receipt: FabricReceipt, network: FabricNetwork) -> dict[str, Any]:
    """Step 7: the chaincode's write set stores exactly the receipt's checkpoint; returns that record."""
    response = parse(pb.proposal_response.ProposalResponsePayload, response_payload, "proposal response payload")
    action = parse(pb.proposal.ChaincodeAction, bytes(response.extension), "chaincode action result")
    if action.chaincode_id.name != network.chaincode or receipt.chaincode != network.chaincode:
        raise AnchorMismatch(f"fabric transaction {receipt.tx_id} ran chaincode {action.chaincode_id.name!r} "
                             f"(receipt says {receipt.chaincode!r}), want {network.chaincode!r}")
    if action.response.status != 200:
        raise AnchorMismatch(f"fabric transaction {receipt.tx_id} chaincode answered {action.response.status}")
    writes = _writes(bytes(action.results), network.chaincode)
    records = [(key, value) for key, value in writes.items() if key.startswith(b"\x00tiezheng.checkpoint\x00")]
    if len(records) != 1:
        raise AnchorMismatch(f"fabric transaction {receipt.tx_id} writes {len(records)} checkpoint records, want 1")
    key, value = records[0]
    record = _record(value, receipt.tx_id)
    got = (checkpoint_key(record["origin"], record["tree_size"]), record["tree_size"], record["root_hash"])
    want = (key, receipt.tree_size, receipt.root_hash.hex())
    if got != want:
        raise AnchorMismatch(f"fabric write set does not store the receipt's checkpoint: got key, size, root "
                             f"{_show(got)}, want {_show(want)}")
    latest = b"\x00tiezheng.latest\x00" + record["origin"].encode() + b"\x00"
    if writes.get(latest) != str(receipt.tree_size).encode():
        raise AnchorMismatch(f"fabric write set does not make tree size {receipt.tree_size} the latest of "
                             f"{record['origin']!r}")
    return record


def _writes(results: bytes, chaincode: str) -> dict[bytes, bytes]:
    """The chaincode namespace's writes (key → value) in a serialised ``TxReadWriteSet``."""
    rwset = parse(pb.rwset.TxReadWriteSet, results, "read-write set")
    found: dict[bytes, bytes] = {}
    for ns in rwset.ns_rwset:
        if ns.namespace == chaincode:
            kv = parse(pb.kv_rwset.KVRWSet, bytes(ns.rwset), "key-value write set")
            found.update({w.key.encode("utf-8", "surrogateescape"): bytes(w.value) for w in kv.writes
                          if not w.is_delete})
    return found


def _record(value: bytes, tx_id: str) -> dict[str, Any]:
    try:
        record = json.loads(value)
        ok = isinstance(record, dict) and isinstance(record.get("origin"), str) \
            and type(record.get("tree_size")) is int and isinstance(record.get("root_hash"), str) \
            and isinstance(record.get("checkpoint"), str)
    except ValueError:
        ok = False
    if not ok:
        raise MalformedInput(f"fabric transaction {tx_id} stores a checkpoint record that is not the chaincode's "
                             "json (origin, tree_size, root_hash, checkpoint)")
    return dict(record)


def _short_text(obj: JSONObject, key: str) -> str:
    text = str_field(obj, key, "fabric anchor")
    if not 0 < len(text) <= _MAX_TX_ID:
        raise MalformedInput(f"fabric anchor.{key} must be 1 to {_MAX_TX_ID} characters, got {len(text)}")
    return text


def _show(values: tuple[Any, ...]) -> str:
    return "(" + ", ".join(repr(v)[:120] for v in values) + ")"
