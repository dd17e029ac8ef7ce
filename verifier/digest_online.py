"""``tiezheng digest verify ... --evm URL`` / ``--fabric ADDRESS``: confirm a verified digest's chain receipts
against live nodes, what no offline check can show (that the blocks are on the chains the regulator follows).

The only network access of ``digest verify``, and only when asked: ``--evm`` asks a regulator-chain node for
the block of the EVM anchor and of the registry record (``verifier.evm_online``); ``--fabric`` asks a Fabric
peer for the block of the Fabric anchor (``verifier.fabric_live``). Trust in the node is the caller's.
"""

from __future__ import annotations

from dataclasses import replace

from verifier._json import JSONObject, object_field
from verifier.digest import DigestFile, DigestReport
from verifier.errors import MalformedInput
from verifier.evm import EvmAnchor, EvmDigestReceipt, EvmEvidence
from verifier.evm_online import confirm_on_chain
from verifier.fabric import FabricReceipt
from verifier.fabric_live import compare_with_peer

__all__ = ["confirm_online"]


def confirm_online(digest: DigestFile, report: DigestReport, *, evm: str | None = None, fabric: str | None = None,
                   fabric_profile: str | None = None) -> DigestReport:
    """``report`` (of ``digest``, valid) with the confirmations of ``evm`` (a JSON-RPC URL) and ``fabric`` (a
    peer's host:port, asked as the identity of the client profile ``fabric_profile``) added.

    Raises ``MalformedInput`` when a flag has nothing verified to confirm or lacks its profile,
    ``CheckUnavailable`` / ``VerificationFailed`` when a node cannot be asked / disagrees."""
    confirmed = list(report.confirmed)
    if evm:
        evidences = _evm_evidence(digest, report)
        if not evidences:
            raise MalformedInput("--evm was given but the digest carries no verified evm receipt or registry record")
        confirmed += [f"{what}: {confirm_on_chain(evidence, evm)}" for what, evidence in evidences]
    if fabric:
        receipt = _receipt(digest, "fabric") if report.anchors.get("fabric") == "verified" else None
        if receipt is None:
            raise MalformedInput("--fabric was given but the digest carries no verified fabric receipt")
        if not fabric_profile:
            raise MalformedInput("--fabric needs --fabric-profile (or TIEZHENG_FABRIC_PROFILE): the client profile "
                                 "that names the peer's tls root and an identity the peer serves blocks to")
        parsed = FabricReceipt.from_json(receipt)
        confirmed.append(f"fabric anchor: {compare_with_peer(parsed, address=fabric, profile=fabric_profile)}")
    return replace(report, confirmed=tuple(confirmed))


def _evm_evidence(digest: DigestFile, report: DigestReport) -> list[tuple[str, EvmEvidence]]:
    found = []
    anchor = _receipt(digest, "evm") if report.anchors.get("evm") == "verified" else None
    if anchor is not None:
        found.append(("evm anchor", EvmAnchor.from_json({**anchor, "consistency_proof": []}).evidence))
    if report.registry == "verified" and digest.registry is not None:
        record = object_field(digest.registry, "receipt", "registry")
        found.append(("registry record", EvmDigestReceipt.from_json(record).evidence))
    return found


def _receipt(digest: DigestFile, backend: str) -> JSONObject | None:
    entry = next((a for a in digest.anchors if a["backend"] == backend and a["status"] == "anchored"), None)
    return object_field(entry, "receipt", f"anchors.{backend}") if entry is not None else None
