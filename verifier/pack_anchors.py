"""Anchor receipts of a pack, one plug-in per receipt kind (docs/formats.md, "Anchors"; step 20).

``anchors/<kind>.json`` is a versioned envelope; ``CHECKERS`` maps (kind, kind_version) to the function that
checks its receipts. A new receipt kind plugs in by adding its checker here (``fabric``, ``evm``,
``rfc3161``, ``witness`` as they land): it gets the receipts and an ``AnchorContext`` and returns an
``AnchorOutcome`` or raises a verifier error, which becomes reason ``anchor-<kind>``. Before any checker
runs, every receipt must cover a tree at least as large as the pack checkpoint whose checkpoint is in the
pack with the receipt's root (step 19 already linked it by a consistency proof).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from verifier._json import b64_field, int_field, require_fields, str_field
from verifier.anchors import JournalEntry, verify_journal_entry
from verifier.checkpoint import Checkpoint, key_hash, verify_checkpoint
from verifier.errors import AnchorMismatch, KeyMismatch, MalformedInput, VerifierError
from verifier.evm import EvmAnchor, verify_evm_anchor
from verifier.fabric import FabricReceipt, verify_fabric_receipt
from verifier.pack_content import PackContent, Receipts
from verifier.pack_errors import refuse
from verifier.report import chain_assurance
from verifier.timestamps import MAX_TOKEN_BYTES, verify_token
from verifier.trust import LogKey, TrustRoot
from verifier.witness import Cosigner, count_quorum, verify_cosignatures

__all__ = ["CHECKERS", "FABRIC_OFFLINE", "AnchorChecker", "AnchorContext", "AnchorOutcome", "assurance_of", "check_anchors"]


@dataclass(frozen=True)
class AnchorContext:
    """What a receipt checker may use: the parsed pack, the caller's trust root and its log keys."""

    content: PackContent
    trust_root: TrustRoot
    log_keys: tuple[LogKey, ...]


@dataclass(frozen=True)
class AnchorOutcome:
    """One kind's result: ``verified`` (counts for the assurance level) or ``not checked`` (and why).
    ``receipts`` are what the certificate and report show (tree size, tx id, block number, ...)."""

    kind: str
    status: Literal["verified", "not checked"]
    detail: str
    receipts: tuple[dict[str, Any], ...] = field(default=())


AnchorChecker = Callable[[Receipts, AnchorContext], AnchorOutcome]


def _check_local(receipts: Receipts, context: AnchorContext) -> AnchorOutcome:
    """``local``: each receipt's journal entry is signed by a trusted log key and names the receipt's tree."""
    keys = {k.fingerprint: k for k in context.log_keys}
    shown = []
    for receipt in receipts.receipts:
        if set(receipt) != {"tree_size", "root_hash", "entry"}:
            raise MalformedInput(f"local receipt fields are {sorted(receipt)}, want entry, root_hash, tree_size")
        entry = JournalEntry.from_json(receipt["entry"])
        key = keys.get(entry.key_id)
        if key is None:
            raise MalformedInput(f"journal entry seq {entry.seq} is signed by {entry.key_id[:80]}, not a trusted log key")
        verify_journal_entry(entry, public_key_pem=key.public_key.to_pem())
        if (entry.tree_size, entry.root_hash.hex()) != (receipt["tree_size"], receipt["root_hash"]):
            raise MalformedInput(f"journal entry seq {entry.seq} is for size {entry.tree_size}, not the receipt's")
        shown.append({"tree_size": entry.tree_size, "tx_id": entry.entry_hash().hex(), "seq": entry.seq,
                      "anchored_at": entry.fields["anchored_at"]})
    return AnchorOutcome("local", "verified", f"{len(shown)} journal entr{'y' if len(shown) == 1 else 'ies'} signed "
                         "by the log key (proves nothing against the operator)", tuple(shown))


FABRIC_OFFLINE = ("not checked offline: that the block is on the channel's ledger, and its validation code VALID, "
                  "which the serving peer writes and no orderer signs")
"""What a verified Fabric receipt of a pack cannot show offline (verify.html says the same)."""


def _check_fabric(receipts: Receipts, context: AnchorContext) -> AnchorOutcome:
    """``fabric``: each receipt's block is checked against the trust root's Fabric orgs (``verifier.fabric``),
    and the checkpoint the chaincode stored is the receipt's tree, signed by a trusted log key."""
    network = context.trust_root.fabric
    if network is None:
        return AnchorOutcome("fabric", "not checked", "the trust root names no Fabric network")
    shown: list[dict[str, Any]] = []
    orderers: set[str] = set()
    for receipt in receipts.receipts:
        _no_bundle_fields(receipt, "fabric", ("backend",))
        parsed = FabricReceipt.from_json({**receipt, "backend": "fabric"})
        found = verify_fabric_receipt(parsed, network=network)
        if (found.tree_size, found.root_hash) != (parsed.tree_size, parsed.root_hash):
            raise AnchorMismatch(f"fabric block {found.block_number} stores size {found.tree_size} root "
                                 f"{found.root_hash.hex()}, not the receipt's size {parsed.tree_size}")
        stored = Checkpoint.from_text(found.checkpoint_text)
        if (stored.origin, stored.tree_size, stored.root_hash) != (found.origin, found.tree_size, found.root_hash):
            raise AnchorMismatch("fabric anchor: the stored checkpoint text does not match the stored record")
        if stored.origin != context.content.manifest.origin:
            raise AnchorMismatch(f"fabric anchor stores a checkpoint of log {stored.origin[:80]!r}, not of "
                                 f"{context.content.manifest.origin!r}")
        _trusted(stored, context)
        shown.append({"tree_size": parsed.tree_size, "root_hash": parsed.root_hash.hex(), "tx_id": parsed.tx_id,
                      "block_number": parsed.block_number, "endorsed_by": ", ".join(found.endorsed_by)})
        orderers.add(found.orderer.msp_id)
    orgs = sorted({org for r in shown for org in str(r["endorsed_by"]).split(", ")})
    return AnchorOutcome("fabric", "verified", f"{len(shown)} Fabric transaction(s) on channel {network.channel}, "
                         f"endorsed by {', '.join(orgs)}, block signed by {', '.join(sorted(orderers))} "
                         f"({FABRIC_OFFLINE})", tuple(shown))


def _check_evm(receipts: Receipts, context: AnchorContext) -> AnchorOutcome:
    """``evm``: each receipt's block header, receipts and transaction commit to a registry event of the trust
    root's regulator chain that stores exactly the receipt's tree (``verifier.evm``; offline, so whether the
    block is on the canonical chain is not checked)."""
    if not context.trust_root.regulator_chains:
        return AnchorOutcome("evm", "not checked", "the trust root names no regulator chain")
    shown: list[dict[str, Any]] = []
    for receipt in receipts.receipts:
        # The pack links every receipt's tree to the pack checkpoint itself (step 19), so the receipt is
        # checked against the pack's checkpoint of its own size, which needs no further proof.
        _no_bundle_fields(receipt, "evm", ("backend", "consistency_proof"))
        parsed = EvmAnchor.from_json({**receipt, "backend": "evm", "consistency_proof": []})
        chain = verify_evm_anchor(parsed, checkpoint=context.content.checkpoints[parsed.tree_size],
                                  trust_root=context.trust_root)
        shown.append({"tree_size": parsed.tree_size, "root_hash": parsed.root_hash.hex(),
                      "tx_id": parsed.evidence.tx_hash.hex(), "block_number": parsed.evidence.block_number,
                      "chain_id": chain.chain_id, "contract": chain.contract})
    return AnchorOutcome("evm", "verified", f"{len(shown)} regulator-chain transaction(s) logging the checkpoint "
                         "(offline: that the block is on the canonical chain is not checked)", tuple(shown))


def _no_bundle_fields(receipt: Any, kind: str, names: tuple[str, ...]) -> None:
    """A pack's receipt carries its kind's fields only: the envelope names the kind, step 19 the proof."""
    extra = [name for name in names if isinstance(receipt, dict) and name in receipt]
    if extra:
        raise MalformedInput(f"{kind} receipt has unknown field {extra[0]!r} (a pack's receipt has no {', '.join(names)})")


def _check_rfc3161(receipts: Receipts, context: AnchorContext) -> AnchorOutcome:
    """``rfc3161``: each token timestamps its log-signed checkpoint, by a TSA the trust root names."""
    if not context.trust_root.timestamp_authorities:
        return AnchorOutcome("rfc3161", "not checked", "the trust root names no timestamp authority")
    shown: list[dict[str, str | int]] = []
    times: list[str] = []
    for receipt in receipts.receipts:
        require_fields(receipt, "rfc3161 receipt", required=("tree_size", "root_hash", "kind", "tsa", "hash_algorithm",
                                                            "checkpoint", "token", "gen_time"))
        note = _log_signed(receipt, context)
        token = b64_field(receipt, "token", "rfc3161 receipt")
        if len(token) > MAX_TOKEN_BYTES:
            raise MalformedInput(f"rfc3161 token is {len(token)} bytes, want at most {MAX_TOKEN_BYTES}")
        result = verify_token(token, message=note.text.encode("utf-8"),
                              authorities=context.trust_root.timestamp_authorities)
        times.append(result.gen_time.isoformat().replace("+00:00", "Z"))
        shown.append({"tree_size": note.tree_size, "tsa": result.authority, "serial": str(result.serial_number),
                      "gen_time": times[-1]})
    return AnchorOutcome("rfc3161", "verified", f"{len(shown)} timestamp token(s) of trusted tsa(s) over the log's "
                         f"checkpoints, the earliest at {min(times)}", tuple(shown))


def _check_witness(receipts: Receipts, context: AnchorContext) -> AnchorOutcome:
    """``witness``: the cosignatures of trusted witnesses on log-signed checkpoints, against the quorum."""
    policy = context.trust_root.witnesses
    if policy.quorum == 0:
        return AnchorOutcome("witness", "not checked", "the trust root sets no witness quorum")
    cosigners: list[Cosigner] = []
    shown: list[dict[str, Any]] = []
    for receipt in receipts.receipts:
        require_fields(receipt, "witness receipt", required=("tree_size", "root_hash", "kind", "witness", "timestamp",
                                                            "checkpoint"))
        int_field(receipt, "timestamp", "witness receipt")
        found = verify_cosignatures(_log_signed(receipt, context), policy.keys)
        cosigners += found
        shown += [{"tree_size": receipt["tree_size"], "witness": c.name, "timestamp": c.timestamp} for c in found]
    names = sorted({c.name for c in cosigners})
    if not count_quorum(cosigners, policy):
        return AnchorOutcome("witness", "not checked", f"only {len(names)} of the {policy.quorum} trusted witnesses "
                             f"the quorum needs cosigned ({', '.join(names) or 'none'})", tuple(shown))
    return AnchorOutcome("witness", "verified", f"cosigned by {len(names)} trusted witness(es): {', '.join(names)}; "
                         f"quorum {policy.quorum}", tuple(shown))


def _log_signed(receipt: Any, context: AnchorContext) -> Checkpoint:
    """The receipt's checkpoint note, for its tree and root, signed by a trusted log key."""
    note = Checkpoint.from_text(str_field(receipt, "checkpoint", "receipt"))
    if (note.tree_size, note.root_hash.hex()) != (receipt["tree_size"], receipt["root_hash"]):
        raise MalformedInput(f"receipt checkpoint is for size {note.tree_size}, not the receipt's {receipt['tree_size']}")
    return _trusted(note, context)


def _trusted(note: Checkpoint, context: AnchorContext) -> Checkpoint:
    """``note`` itself, once a trusted log key's signature on it verifies (``KeyMismatch`` without one)."""
    lines = {(s.name, s.key_hash) for s in note.signatures}
    keys = [k for k in context.log_keys if (note.origin, key_hash(note.origin, k.public_key)) in lines]
    if not keys:
        raise KeyMismatch(f"receipt checkpoint of size {note.tree_size} has no signature by a trusted log key")
    for key in keys:
        verify_checkpoint(note, public_key_pem=key.public_key.to_pem())
    return note


CHECKERS: dict[tuple[str, int], AnchorChecker] = {("local", 1): _check_local, ("fabric", 1): _check_fabric,
                                                  ("evm", 1): _check_evm, ("rfc3161", 1): _check_rfc3161,
                                                  ("witness", 1): _check_witness}
"""Receipt checkers by (kind, kind_version); add a kind here when its verifier module lands."""


def check_anchors(content: PackContent, trust_root: TrustRoot, log_keys: tuple[LogKey, ...]) -> list[AnchorOutcome]:
    """Step 20: check every ``anchors/<kind>.json`` a checker exists for; the others are ``not checked``."""
    context = AnchorContext(content, trust_root, log_keys)
    outcomes = []
    for envelope in sorted(content.anchors, key=lambda r: r.kind):
        checker = CHECKERS.get((envelope.kind, envelope.kind_version))
        if checker is None:
            outcomes.append(AnchorOutcome(envelope.kind, "not checked", f"this verifier does not know receipt kind "
                                          f"{envelope.kind!r} version {envelope.kind_version}"))
            continue
        try:
            _check_covered(content, envelope)
            outcomes.append(checker(envelope, context))
        except VerifierError as exc:
            refuse(f"anchor-{envelope.kind}", f"anchors/{envelope.kind}.json: {exc.message}",
                   path=f"anchors/{envelope.kind}.json")
    return outcomes


def _check_covered(content: PackContent, envelope: Receipts) -> None:
    for receipt in envelope.receipts:
        size, root = receipt["tree_size"], receipt["root_hash"]
        checkpoint = content.checkpoints.get(size)
        if size < content.manifest.tree_size or checkpoint is None or checkpoint.root_hash.hex() != root:
            raise MalformedInput(f"receipt for size {size} root {str(root)[:64]} does not match a checkpoint of the "
                                 f"pack at least as large as the pack checkpoint ({content.manifest.tree_size})")


def assurance_of(outcomes: list[AnchorOutcome]) -> str:
    """The assurance level (ARCHITECTURE.md "Anchoring") from the kinds verified."""
    verified = {o.kind for o in outcomes if o.status == "verified"}
    pairs = {kind: [(int(r["tree_size"]), bytes.fromhex(str(r["root_hash"]))) for o in outcomes
                    if o.kind == kind and o.status == "verified" for r in o.receipts] for kind in ("fabric", "evm")}
    level = chain_assurance(fabric=pairs["fabric"], evm=pairs["evm"])
    level += "+tsa" if "rfc3161" in verified else ""
    return level + ("+witnessed" if "witness" in verified else "")
