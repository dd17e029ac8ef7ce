"""The chain receipts of a regulator digest, checked offline (docs/formats.md, "Verifying a digest", step 6
and 7): a Fabric receipt and an EVM receipt of the digest's day-end tree, and the EVM registry's record of
the digest hash.

Each check takes the receipt as served (its structure unchecked) and what the digest, already verified by
steps 1-5, says; it returns a ``ChainFinding`` or raises ``VerificationFailed`` / ``MalformedInput``. A
trust root that names no Fabric network (or no regulator chain) leaves the receipt ``unchecked``: it is
not relied on, and the report says why. The checks are the ones evidence packs use (``verifier.fabric``,
``verifier.evm``), so a receipt passes here exactly when it would pass in a pack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from verifier._json import JSONObject
from verifier.checkpoint import Checkpoint
from verifier.errors import AnchorMismatch
from verifier.evm import (
    NOT_CHECKED_OFFLINE,
    NOT_CHECKED_TRANSACTION,
    EvmAnchor,
    EvmDigestReceipt,
    verify_evm_anchor,
    verify_evm_digest,
)
from verifier.fabric import FabricReceipt, verify_fabric_anchor
from verifier.trust import TrustRoot

__all__ = ["ChainFinding", "check_evm_anchor", "check_fabric_anchor", "check_registry_record"]


@dataclass(frozen=True)
class ChainFinding:
    """What one receipt showed: ``verified`` (it counts for the assurance level) or not, and a line for the
    report (the transaction, block and signers, or why it was not checked)."""

    verified: bool
    detail: str


def check_fabric_anchor(receipt: JSONObject, *, checkpoint: Checkpoint | None,
                        trust_root: TrustRoot) -> ChainFinding:
    """The Fabric receipt of the digest's tree: its block, endorsements and write set verify against the
    trust root's Fabric network and store exactly ``checkpoint`` (the digest's verified day-end checkpoint),
    as a checkpoint text signed by a log key the trust root names (``verifier.fabric.verify_fabric_anchor``)."""
    network = trust_root.fabric
    parsed = FabricReceipt.from_json(receipt)
    if network is None:
        return ChainFinding(False, "the trust root names no Fabric network")
    day_end = _required(checkpoint, "fabric")
    # no consistency proof: the receipt's tree must be the checkpoint's own (same size, same root)
    found = verify_fabric_anchor(parsed, checkpoint=day_end, network=network,
                                 log_keys=trust_root.log_keys(day_end.origin))
    return ChainFinding(True, f"fabric tx {parsed.tx_id} in block {parsed.block_number} of channel "
                              f"{network.channel}, endorsed by {', '.join(found.endorsed_by)}")


def check_evm_anchor(receipt: JSONObject, *, checkpoint: Checkpoint | None, trust_root: TrustRoot) -> ChainFinding:
    """The EVM receipt of the digest's tree: a block that commits to a successful registry call by a
    trusted operator whose ``CheckpointAnchored`` log is exactly this origin, size and root
    (``verifier.evm.verify_evm_anchor``; offline, so whether the block is final on the chain is not shown)."""
    parsed = EvmAnchor.from_json({**receipt, "consistency_proof": []})
    if not trust_root.regulator_chains:
        return ChainFinding(False, "the trust root names no regulator chain")
    chain = verify_evm_anchor(parsed, checkpoint=_required(checkpoint, "evm"), trust_root=trust_root)
    evidence = parsed.evidence
    return ChainFinding(True, f"evm tx 0x{evidence.tx_hash.hex()} in block {evidence.block_number} of chain "
                              f"{chain.chain_id}, registry {chain.contract}; {_unchecked(evidence.transactions)}")


def check_registry_record(receipt: JSONObject, *, tenant_hash: bytes, day: date, digest_hash: bytes,
                          trust_root: TrustRoot) -> ChainFinding:
    """The EVM registry's record of the digest: a ``DigestRecorded`` log of a trusted registry, by a trusted
    operator, of exactly this tenant hash, date and digest hash (``verifier.evm.verify_evm_digest``)."""
    parsed = EvmDigestReceipt.from_json(receipt)
    if not trust_root.regulator_chains:
        return ChainFinding(False, "the trust root names no regulator chain")
    chain = verify_evm_digest(parsed, trust_root=trust_root, tenant_hash=tenant_hash, day=day, digest=digest_hash)
    evidence = parsed.evidence
    return ChainFinding(True, f"recordDigest tx 0x{evidence.tx_hash.hex()} in block {evidence.block_number} of chain "
                              f"{chain.chain_id}; {_unchecked(evidence.transactions)}")


def _required(checkpoint: Checkpoint | None, backend: str) -> Checkpoint:
    if checkpoint is None:
        raise AnchorMismatch(f"the digest's tree is empty, yet it carries a {backend} receipt: an empty tree is "
                             "never anchored")
    return checkpoint


def _unchecked(transactions: tuple[bytes, ...] | None) -> str:
    return NOT_CHECKED_TRANSACTION if transactions is None else NOT_CHECKED_OFFLINE
