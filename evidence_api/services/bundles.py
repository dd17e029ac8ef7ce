"""Export one event as a self-contained bundle that ``tiezheng verify`` checks offline (docs/formats.md)."""

from __future__ import annotations

from typing import Any

import orjson

from evidence_api.services.errors import NotFound
from evidence_api.services.keys import KeyRegistry
from ledger.keystore import DataKeyWrapper, open_sealed
from ledger.log import TransparencyLog

__all__ = ["build_bundle"]


def build_bundle(log: TransparencyLog, keys: KeyRegistry, wrapper: DataKeyWrapper, *, tenant: str,
                 event_id: str) -> dict[str, Any]:
    """The bundle of ``event_id`` against the newest checkpoint; ``NotFound`` if no checkpoint covers it yet."""
    row = log.event(tenant, event_id)
    if row is None:
        raise NotFound(f"event {event_id} is not in the log of tenant {tenant!r}")
    attestation = log.attestation(tenant, row.attestation_digest) if row.attestation_digest is not None else None
    checkpoint = log.latest_checkpoint()
    if checkpoint is None or checkpoint.checkpoint.tree_size <= row.leaf_index:
        raise NotFound(f"event {event_id} is logged but no checkpoint covers it yet; retry in a second")
    size = checkpoint.checkpoint.tree_size
    plain = open_sealed(wrapper, tenant, row.payload_sealed, row.payload_key, context=f"{tenant}|{event_id}".encode())
    sealed_payload = orjson.loads(plain)
    event = orjson.loads(row.leaf)
    return {
        "format": "tiezheng.bundle/v1",
        "event": event,
        "leaf_index": row.leaf_index,
        "attestation": attestation,
        "payload": {"salt": sealed_payload["salt"], "value": sealed_payload["payload"]},
        "checkpoint": checkpoint.text,
        "inclusion_proof": [h.hex() for h in log.inclusion_proof(row.leaf_index, size)],
        "anchors": [_bundle_anchor(a) for a in log.anchors_covering(size)],
        "keys": {"log": log.signer.public.to_pem(), "actor": keys.get(tenant, row.key_id).public.to_pem()},
    }



def _bundle_anchor(receipt: dict[str, Any]) -> dict[str, Any]:
    """A receipt as a bundle carries it (docs/formats.md): local, its journal entry; fabric and evm, the whole
    receipt (fabric: tx id, block number, validation code, the block; evm: tx hash, block header, receipts,
    the log); self-describing receipts (with a ``kind``: RFC 3161 tokens, witness cosignatures) whole; each
    with the consistency proof from the bundle's checkpoint."""
    if receipt["backend"] == "local" and "kind" not in receipt:
        return {"backend": "local", "entry": receipt.get("entry"), "consistency_proof": receipt["consistency_proof"]}
    return receipt
