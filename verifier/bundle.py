"""Offline verification of one evidence bundle (``tiezheng.bundle/v1``), docs/formats.md "Bundle".

A bundle carries one event with everything needed to check it: the checkpoint, the inclusion proof, the
actor's attestation and payload when there are any, local anchors and the public keys. ``verify_bundle``
runs the numbered steps of docs/formats.md in order against a caller's ``TrustRoot`` and stops at the
first that fails. The bundle's own ``keys.log`` is never trusted; its ``keys.actor`` is used only once the
trusted log is shown to have committed the event whose signature that key must verify.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from verifier._json import (
    JSONObject,
    hex_list_field,
    int_field,
    list_field,
    loads,
    object_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.anchors import LocalAnchor, verify_local_anchor
from verifier.checkpoint import Checkpoint, key_hash, verify_checkpoint
from verifier.errors import KeyMismatch, MalformedInput, VerifierError
from verifier.events import (
    Attestation,
    Event,
    Payload,
    actor_key_binding,
    event_leaf_hash,
    verify_actor_signature,
    verify_attestation,
    verify_payload_commitment,
)
from verifier.evm import NOT_CHECKED_OFFLINE, NOT_CHECKED_TRANSACTION, EvmAnchor, verify_evm_anchor
from verifier.fabric import FabricReceipt, verify_fabric_anchor
from verifier.merkle import MAX_INCLUSION_HASHES, verify_inclusion
from verifier.report import (
    FABRIC_NOTE,
    Report,
    StepResult,
    assurance_level,
    chain_assurance,
    notes_for,
)
from verifier.sm import PublicKey
from verifier.timestamps import TIMESTAMP_KIND, TimestampAnchor, TimestampResult, verify_timestamp_anchor
from verifier.trust import LogKey, TrustRoot
from verifier.witness import COSIGNATURE_KIND, CosignedAnchor, Cosigner, count_quorum, verify_cosigned_anchor

__all__ = ["BUNDLE_FORMAT", "MAX_BUNDLE_BYTES", "Bundle", "verify_bundle", "verify_trusted_checkpoint"]

BUNDLE_FORMAT = "tiezheng.bundle/v1"
MAX_BUNDLE_BYTES = 64 * 1024 * 1024
_FIELDS = (
    "format", "event", "leaf_index", "attestation", "payload", "checkpoint", "inclusion_proof", "anchors", "keys"
)
_MAX_ANCHORS = 64


@dataclass(frozen=True)
class Bundle:
    """A parsed, structurally checked bundle. Keys are kept as PEM text, already known to parse."""

    event: Event
    leaf_index: int
    attestation: Attestation | None
    payload: Payload | None
    checkpoint: Checkpoint
    inclusion_proof: tuple[bytes, ...]
    anchors: tuple[LocalAnchor | FabricReceipt | EvmAnchor | TimestampAnchor | CosignedAnchor, ...]
    log_key_pem: str
    actor_key_pem: str

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        """Parse bundle JSON (step 1 of docs/formats.md).

        Raises ``MalformedInput`` (with ``step`` 1) when ``data`` is not JSON, has another format tag, or a
        field is missing, unknown, out of range or of the wrong shape: the event, attestation (present exactly
        for batch-signed events), payload, checkpoint text, proofs (``leaf_index`` below the tree size),
        anchors and both PEM keys are all checked here. ``data`` may be at most ``MAX_BUNDLE_BYTES``.
        """
        try:
            if len(data) > MAX_BUNDLE_BYTES:
                raise MalformedInput(f"bundle is {len(data)} bytes, want at most {MAX_BUNDLE_BYTES}")
            return cls._from_object(require_object(loads(data, "bundle"), "bundle"))
        except MalformedInput as exc:
            exc.step, exc.step_name = 1, "structure"
            raise

    @classmethod
    def _from_object(cls, obj: JSONObject) -> Bundle:
        fmt = str_field(obj, "format", "bundle")
        if fmt != BUNDLE_FORMAT:
            raise MalformedInput(f"bundle format is {fmt!r}, want {BUNDLE_FORMAT!r}")
        require_fields(obj, "bundle", required=_FIELDS)
        event = Event.from_json(obj["event"])
        keys = object_field(obj, "keys", "bundle")
        require_fields(keys, "bundle.keys", required=("log", "actor"))
        checkpoint = Checkpoint.from_text(str_field(obj, "checkpoint", "bundle"))
        return cls(
            event=event,
            leaf_index=_leaf_index(obj, checkpoint),
            attestation=_attestation(event, obj["attestation"]),
            payload=None if obj["payload"] is None else Payload.from_json(obj["payload"]),
            checkpoint=checkpoint,
            inclusion_proof=hex_list_field(obj, "inclusion_proof", "bundle", max_items=MAX_INCLUSION_HASHES),
            anchors=tuple(_anchor(a) for a in list_field(obj, "anchors", "bundle", max_items=_MAX_ANCHORS)),
            log_key_pem=_pem(keys, "log"),
            actor_key_pem=_pem(keys, "actor"),
        )


def verify_bundle(bundle: Bundle, *, trust_root: TrustRoot, evm_url: str | None = None) -> Report:
    """Run verification steps 2 to 7 of docs/formats.md on a parsed ``bundle`` (step 1 is parsing).

    ``trust_root`` names the keys the caller trusts (``--trust-root``); nothing in the bundle is trusted.
    Returns the report of a valid bundle. Raises ``UntrustedLog`` (exit 2) when the trust root names no key
    for the bundle's log, else ``VerificationFailed`` (a subclass naming the failed check); the error's
    ``step``, ``step_name`` and ``report`` say which step failed and which passed before it.

    2. Log key: the trust root's keys for the checkpoint's origin; the bundle's ``keys.log`` must be one.
    3. Checkpoint signature by a trusted key of that origin.
    4. Leaf hash and inclusion proof against the checkpoint root: the trusted log committed this event.
    5. Actor key and signature: the bundle's actor key must verify the signature (or the attestation) that
       the log committed; SM2 hashes the public key into the signed digest (Z_A), so no other key does.
       When ``key_id`` names a fingerprint, the key must have it.
    6. Payload commitment, if the payload is included.
    7. Each anchor: local: entry signed by a trusted key of the origin, its checkpoint by that key,
       consistency from the bundle checkpoint; fabric: the receipt's block checked against the trust root's
       Fabric orgs (``verifier.fabric``), the stored checkpoint signed by a trusted key and consistent with
       the bundle checkpoint; evm: ``verify_evm_anchor`` (registry named by the trust root, block header,
       receipts and transactions, the log's origin, size and root, consistency), and with ``evm_url`` also
       ``confirm_on_chain`` against that node (``CheckUnavailable`` if it cannot).
       Assurance (``chain_assurance``): ``fabric`` with a verified fabric anchor, ``dual-chain`` only when a
       verified fabric anchor and a verified evm anchor are of the same tree size and root.
    """
    run = _Run(bundle, trust_root=trust_root, evm_url=evm_url)
    with run.step(2, "log key"):
        trusted = _trusted_log_keys(bundle, trust_root)
        run.ok(
            f"trust root {trust_root.digest[:16]}… names {len(trusted)} key(s) for {bundle.checkpoint.origin!r}; "
            "the bundle's keys.log is one of them"
        )
    with run.step(3, "checkpoint signature"):
        signer = verify_trusted_checkpoint(bundle.checkpoint, trusted)
        run.log_key_fingerprint = signer.fingerprint
        run.ok(f"{bundle.checkpoint.origin} size {bundle.checkpoint.tree_size} signed by trusted key {signer.fingerprint}")
    with run.step(4, "leaf hash and inclusion proof"):
        leaf = event_leaf_hash(bundle.event)
        verify_inclusion(
            bundle.leaf_index, bundle.checkpoint.tree_size, leaf, bundle.inclusion_proof, bundle.checkpoint.root_hash
        )
        run.ok(f"leaf {leaf.hex()} is in the tree with root {bundle.checkpoint.root_hash.hex()}")
    with run.step(5, "actor signature"):
        run.ok(_check_actor(bundle, run))
    with run.step(6, "payload commitment"):
        _check_payload(bundle, run)
    _check_anchors(bundle, run, trusted)
    _check_quorum(bundle, run)
    return run.report(valid=True)


def _trusted_log_keys(bundle: Bundle, trust_root: TrustRoot) -> tuple[LogKey, ...]:
    """The trust root's keys for the bundle's origin; ``keys.log`` must be one of them (never used itself)."""
    origin = bundle.checkpoint.origin
    trusted = trust_root.log_keys(origin)
    carried = PublicKey.from_pem(bundle.log_key_pem).fingerprint()
    if carried not in {key.fingerprint for key in trusted}:
        raise KeyMismatch(
            f"bundle.keys.log {carried} is not a key the trust root names for {origin!r} "
            f"(trusted: {', '.join(k.fingerprint for k in trusted)})"
        )
    return trusted


def verify_trusted_checkpoint(checkpoint: Checkpoint, trusted: tuple[LogKey, ...]) -> LogKey:
    """Verify every signature line of a trusted key; return the first such key (``KeyMismatch`` if none)."""
    lines = {(s.name, s.key_hash) for s in checkpoint.signatures}
    signers = [k for k in trusted if (checkpoint.origin, key_hash(checkpoint.origin, k.public_key)) in lines]
    if not signers:
        found = ", ".join(f"{s.name} {s.key_hash.hex()}" for s in checkpoint.signatures)
        want = ", ".join(key_hash(checkpoint.origin, k.public_key).hex() for k in trusted)
        raise KeyMismatch(
            f"checkpoint has no signature by a log key the trust root names: want {checkpoint.origin} {want}, "
            f"got {found}"
        )
    for key in signers:
        verify_checkpoint(checkpoint, public_key_pem=key.public_key.to_pem())
    return signers[0]


@dataclass
class _Run:
    """Records the outcome of each step as ``verify_bundle`` goes, and builds the report."""

    bundle: Bundle
    trust_root: TrustRoot
    results: list[StepResult] = field(default_factory=list)
    current: tuple[int, str] = (1, "structure")
    log_key_fingerprint: str | None = None
    actor_key_binding: str | None = None
    evm_url: str | None = None
    fabric_anchored: set[tuple[int, bytes]] = field(default_factory=set)  # (size, root) of verified receipts
    evm_anchored: set[tuple[int, bytes]] = field(default_factory=set)
    extra_notes: list[str] = field(default_factory=list)
    timestamps: list[TimestampResult] = field(default_factory=list)
    cosigners: list[Cosigner] = field(default_factory=list)
    witnessed: bool = False
    fabric_note: str | None = None
    fabric_endorsed_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.results.append(StepResult(1, "structure", "ok", f"{BUNDLE_FORMAT} parsed"))

    @contextmanager
    def step(self, number: int, name: str) -> Iterator[None]:
        """Run one step; on a verifier error, stamp it with the step and the report so far, then re-raise."""
        self.current = (number, name)
        try:
            yield
        except VerifierError as exc:
            exc.step, exc.step_name = number, name
            self.results.append(StepResult(number, name, "failed", exc.message))
            exc.report = self.report(valid=False, failure=exc.diagnostics())
            raise

    def ok(self, detail: str) -> None:
        """Record the current step as passed, with ``detail``."""
        self.results.append(StepResult(*self.current, "ok", detail))

    def skip(self, detail: str) -> None:
        """Record the current step as skipped (nothing to check), with ``detail``."""
        self.results.append(StepResult(*self.current, "skipped", detail))

    def report(self, *, valid: bool, failure: str | None = None) -> Report:
        """The report of the steps recorded so far."""
        base = chain_assurance(fabric=self.fabric_anchored, evm=self.evm_anchored)
        assurance = assurance_level(base, tsa=bool(self.timestamps), witnessed=self.witnessed) if valid else None
        event = self.bundle.event
        fabric_notes = (self.fabric_note,) if valid and self.fabric_note else ()
        actor_fingerprint = PublicKey.from_pem(self.bundle.actor_key_pem).fingerprint()
        return Report(
            valid=valid,
            steps=tuple(self.results),
            trust_root=self.trust_root.digest,
            log_key_fingerprint=self.log_key_fingerprint,
            actor_key_fingerprint=actor_fingerprint,
            actor_key_id=str(event.actor["key_id"]),
            actor_key_binding=self.actor_key_binding,
            event_id=str(event.fields["event_id"]),
            origin=self.bundle.checkpoint.origin,
            tree_size=self.bundle.checkpoint.tree_size,
            leaf_index=self.bundle.leaf_index,
            assurance=assurance,
            failure=failure,
            timestamps=tuple(f"{t.authority} {_utc(t)}" for t in self.timestamps),
            cosigners=tuple(sorted({c.name for c in self.cosigners})),
            notes=fabric_notes + notes_for(
                assurance=assurance,
                actor_key_binding=self.actor_key_binding,
                actor_key_id=str(event.actor["key_id"]),
                actor_key_fingerprint=actor_fingerprint,
            ) + tuple(self.extra_notes),
            fabric_endorsed_by=self.fabric_endorsed_by if valid else (),
        )


def _check_actor(bundle: Bundle, run: _Run) -> str:
    actor = bundle.event.actor
    fingerprint = PublicKey.from_pem(bundle.actor_key_pem).fingerprint()
    who = f"actor {actor['type']}:{actor['id']} (key_id {actor['key_id']}, key {fingerprint})"
    if bundle.attestation is None:
        verify_actor_signature(bundle.event, public_key_pem=bundle.actor_key_pem)
        done = f"logged claim signed by {who}"
    else:
        verify_attestation(bundle.event, bundle.attestation, public_key_pem=bundle.actor_key_pem)
        done = f"logged batch attestation signed by {who} lists the claim hash"
    run.actor_key_binding = actor_key_binding(bundle.event, public_key_pem=bundle.actor_key_pem)
    return done + ("; key_id names this key" if run.actor_key_binding == "fingerprint" else "")


def _check_payload(bundle: Bundle, run: _Run) -> None:
    if bundle.payload is None:
        run.skip("payload not included")
        return
    verify_payload_commitment(bundle.event, bundle.payload)
    run.ok(f"payload matches commitment {bundle.event.payload_commitment.hex()}")


def _check_anchors(bundle: Bundle, run: _Run, trusted: tuple[LogKey, ...]) -> None:
    if not bundle.anchors:
        with run.step(7, "anchors"):
            run.skip("no anchors in the bundle")
    by_fingerprint = {key.fingerprint: key for key in trusted}
    for i, anchor in enumerate(bundle.anchors, start=1):
        if isinstance(anchor, EvmAnchor):
            _check_evm_anchor(i, anchor, run)
            continue
        if isinstance(anchor, FabricReceipt):
            _check_fabric_anchor(i, anchor, run, trusted)
            continue
        if isinstance(anchor, TimestampAnchor):
            _check_timestamp(i, anchor, bundle, run, trusted)
            continue
        if isinstance(anchor, CosignedAnchor):
            _check_cosigned(i, anchor, bundle, run, trusted)
            continue
        with run.step(7, f"anchor {i} (local journal seq {anchor.entry.seq})"):
            key = by_fingerprint.get(anchor.entry.key_id)
            if key is None:
                raise KeyMismatch(
                    f"journal entry seq {anchor.entry.seq} is signed by key {anchor.entry.key_id[:80]}, "
                    f"not a log key the trust root names for {bundle.checkpoint.origin!r}"
                )
            verify_local_anchor(anchor, checkpoint=bundle.checkpoint, public_key_pem=key.public_key.to_pem())
            run.ok(
                f"tree size {anchor.entry.tree_size} signed by trusted key {key.fingerprint} "
                "and consistent with the checkpoint"
            )


def _check_evm_anchor(i: int, anchor: EvmAnchor, run: _Run) -> None:
    ev = anchor.evidence
    with run.step(7, f"anchor {i} (evm chain {ev.chain_id} block {ev.block_number})"):
        verify_evm_anchor(anchor, checkpoint=run.bundle.checkpoint, trust_root=run.trust_root)
        detail = (f"registry {ev.contract} on chain {ev.chain_id}: block 0x{ev.block_hash.hex()} (number "
                  f"{ev.block_number}) holds the event for tree size {anchor.tree_size}, consistent with the checkpoint")
        if run.evm_url is None:
            unchecked = NOT_CHECKED_OFFLINE if ev.transactions is not None else NOT_CHECKED_TRANSACTION
            run.extra_notes.append(f"evm anchor {i}: {unchecked}")
        else:
            from verifier.evm_online import confirm_on_chain  # network only when asked

            detail += "; " + confirm_on_chain(ev, run.evm_url)
        run.evm_anchored.add((anchor.tree_size, anchor.root_hash))
        run.ok(detail)


def _check_fabric_anchor(i: int, anchor: FabricReceipt, run: _Run, trusted: tuple[LogKey, ...]) -> None:
    with run.step(7, f"anchor {i} (fabric block {anchor.block_number})"):
        network = run.trust_root.fabric
        if network is None:
            run.skip("the trust root has no fabric section (the orgs' CA certificates): not checked; add it with "
                     "tiezheng trust-root init --fabric-network network.json")
            return
        found = verify_fabric_anchor(anchor, checkpoint=run.bundle.checkpoint, network=network, log_keys=trusted)
        endorsers = ", ".join(found.endorsed_by)
        run.fabric_endorsed_by = found.endorsed_by
        run.fabric_anchored.add((found.tree_size, found.root_hash))
        run.fabric_note = FABRIC_NOTE.format(orderer=f"{found.orderer.msp_id} ({found.orderer.subject})",
                                             endorsers=endorsers)
        run.ok(f"tree size {found.tree_size} stored by chaincode {network.chaincode} on channel {network.channel} "
               f"in block {found.block_number} (tx {anchor.tx_id}), endorsed by {endorsers}, block signed by "
               f"{found.orderer.msp_id}; consistent with the checkpoint")


def _check_timestamp(i: int, anchor: TimestampAnchor, bundle: Bundle, run: _Run, trusted: tuple[LogKey, ...]) -> None:
    with run.step(7, f"anchor {i} (rfc3161 timestamp, tsa {anchor.label[:80]})"):
        verify_trusted_checkpoint(anchor.checkpoint, trusted)
        authorities = run.trust_root.timestamp_authorities
        if not authorities:
            run.skip("the trust root names no timestamp authority: the token is not checked and +tsa is not claimed")
            return
        result = verify_timestamp_anchor(anchor, checkpoint=bundle.checkpoint, authorities=authorities)
        run.timestamps.append(result)
        run.ok(f"tree size {anchor.checkpoint.tree_size}, signed by the log and consistent with the checkpoint, "
               f"existed at {_utc(result)} by the clock of trusted tsa {result.authority!r} "
               f"(token serial {result.serial_number}, {result.hash_algorithm} imprint)")


def _check_cosigned(i: int, anchor: CosignedAnchor, bundle: Bundle, run: _Run, trusted: tuple[LogKey, ...]) -> None:
    with run.step(7, f"anchor {i} (witness cosignature, {anchor.label[:80]})"):
        verify_trusted_checkpoint(anchor.checkpoint, trusted)
        cosigners = verify_cosigned_anchor(anchor, checkpoint=bundle.checkpoint,
                                           witnesses=run.trust_root.witnesses.keys)
        if not cosigners:
            run.skip(f"tree size {anchor.checkpoint.tree_size} carries no cosignature by a witness the trust root "
                     "names; not counted")
            return
        run.cosigners.extend(cosigners)
        run.ok(f"tree size {anchor.checkpoint.tree_size}, consistent with the checkpoint, cosigned by trusted "
               f"witness(es) {', '.join(c.name for c in cosigners)}")


def _check_quorum(bundle: Bundle, run: _Run) -> None:
    policy = run.trust_root.witnesses
    if policy.quorum == 0 and not any(isinstance(a, CosignedAnchor) for a in bundle.anchors):
        return
    with run.step(8, "witness quorum"):
        names = sorted({c.name for c in run.cosigners})
        if policy.quorum == 0:
            run.skip("the trust root sets no witness quorum: cosignatures are not counted and +witnessed is not claimed")
        elif count_quorum(run.cosigners, policy):
            run.witnessed = True
            run.ok(f"{len(names)} trusted witness(es) cosigned a tree containing the checkpoint "
                   f"({', '.join(names)}); the quorum is {policy.quorum}")
        else:
            run.skip(f"only {len(names)} of the {policy.quorum} trusted witnesses the quorum needs cosigned a tree "
                     f"containing the checkpoint ({', '.join(names) or 'none'}); +witnessed is not claimed")


def _utc(result: TimestampResult) -> str:
    return result.gen_time.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _leaf_index(obj: JSONObject, checkpoint: Checkpoint) -> int:
    index = int_field(obj, "leaf_index", "bundle")
    if index >= checkpoint.tree_size:
        raise MalformedInput(
            f"bundle.leaf_index {index} is not in the checkpoint's tree: want 0 <= leaf_index < {checkpoint.tree_size}"
        )
    return index


def _anchor(value: Any) -> LocalAnchor | FabricReceipt | EvmAnchor | TimestampAnchor | CosignedAnchor:
    kind = value.get("kind") if isinstance(value, dict) else None
    if kind == TIMESTAMP_KIND:
        return TimestampAnchor.from_json(value)
    if kind == COSIGNATURE_KIND:
        return CosignedAnchor.from_json(value)
    backend = value.get("backend") if isinstance(value, dict) else None
    if backend == "fabric":
        return FabricReceipt.from_json(value, in_bundle=True)
    if backend == "evm":
        return EvmAnchor.from_json(value)
    if isinstance(backend, str) and backend != "local":
        raise MalformedInput(f"unsupported anchor backend {backend[:40]!r}, want 'local', 'fabric' or 'evm' "
                             "(or a receipt of kind 'rfc3161' or 'cosignature/v1')")
    anchor = LocalAnchor.from_json(value)  # the backend first: its message is the clearer one
    require_fields(value, "bundle.anchor", required=("backend", "entry", "consistency_proof"))
    return anchor


def _attestation(event: Event, value: Any) -> Attestation | None:
    if (value is None) != (event.attestation_hash is None):
        want = "an attestation object" if event.attestation_hash is not None else "null"
        raise MalformedInput(f"bundle.attestation does not fit the event: want {want}")
    return None if value is None else Attestation.from_json(value)


def _pem(keys: JSONObject, name: str) -> str:
    text = str_field(keys, name, "bundle.keys")
    try:
        PublicKey.from_pem(text)
    except MalformedInput as exc:
        raise MalformedInput(f"bundle.keys.{name}: {exc.message}") from exc
    return text
