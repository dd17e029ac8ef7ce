"""The evidence checks of a pack, steps 11 to 19 of docs/formats.md ("Verification order").

Each function raises the refusal of its reason class and returns what the report shows. They run after the
manifest signature and every file hash passed, so what they catch is a service that signed wrong evidence
(or whoever holds its key): events reordered, proofs for other leaves, an older checkpoint, a broken chain.
"""

from __future__ import annotations

from verifier._json import canonical
from verifier.checkpoint import Checkpoint, key_hash, verify_checkpoint
from verifier.errors import BadSignature, VerificationFailed
from verifier.events import (
    Event,
    actor_key_binding,
    claim,
    verify_attestation,
    verify_payload_commitment,
)
from verifier.hashing import leaf_hash
from verifier.merkle import verify_consistency, verify_inclusion
from verifier.pack_content import PackContent
from verifier.pack_errors import refuse
from verifier.pack_manifest import ManifestFile
from verifier.sm import PublicKey, verify_sm2
from verifier.trust import LogKey

__all__ = [
    "check_chain",
    "check_checkpoints",
    "check_consistency",
    "check_event_signatures",
    "check_inclusion",
    "check_media",
    "check_payloads",
    "check_scope",
]


def check_checkpoints(content: PackContent, trusted: tuple[LogKey, ...]) -> str:
    """Step 11: every checkpoint is the origin's, named by its size, and signed by a trusted log key; so is
    ``keys/log.pem``. Returns the fingerprint of the key that signed the pack checkpoint."""
    if content.log_key.fingerprint() not in {k.fingerprint for k in trusted}:
        refuse("checkpoint-signature", f"keys/log.pem {content.log_key.fingerprint()} is not a trusted key of "
                                       f"{content.manifest.origin!r}", path="keys/log.pem")
    signer = ""
    for size, checkpoint in sorted(content.checkpoints.items()):
        path = f"checkpoints/{size}.txt"
        if checkpoint.origin != content.manifest.origin or checkpoint.tree_size != size:
            refuse("checkpoint-signature", f"{path} is for {checkpoint.origin[:80]!r} size {checkpoint.tree_size}, "
                                           f"want {content.manifest.origin!r} size {size}", path=path)
        fingerprint = _signed_by(checkpoint, trusted, path)
        signer = fingerprint if size == content.manifest.tree_size else signer
    return signer


def _signed_by(checkpoint: Checkpoint, trusted: tuple[LogKey, ...], path: str) -> str:
    lines = {(s.name, s.key_hash) for s in checkpoint.signatures}
    signers = [k for k in trusted if (checkpoint.origin, key_hash(checkpoint.origin, k.public_key)) in lines]
    if not signers:
        refuse("checkpoint-signature", f"{path} has no signature line of a trusted key of {checkpoint.origin!r}",
               path=path)
    for key in signers:
        try:
            verify_checkpoint(checkpoint, public_key_pem=key.public_key.to_pem())
        except VerificationFailed as exc:
            refuse("checkpoint-signature", f"{path}: {exc.message}", path=path)
    return signers[0].fingerprint


def check_inclusion(content: PackContent) -> None:
    """Step 12: one proof per event, leaf indices ascending, all against the pack checkpoint, each valid."""
    path, checkpoint = "proofs/inclusion.json", content.checkpoint
    if content.inclusion_size != checkpoint.tree_size or len(content.inclusion) != len(content.events):
        refuse("inclusion-proof", f"{len(content.inclusion)} proofs at size {content.inclusion_size} for "
                                  f"{len(content.events)} events, want one each at size {checkpoint.tree_size}", path=path)
    previous = -1
    for line, (raw, proof) in enumerate(zip(content.event_lines, content.inclusion, strict=True), start=1):
        if not previous < proof.leaf_index < checkpoint.tree_size:
            refuse("inclusion-proof", f"proof {line} is for leaf {proof.leaf_index}: leaf indices must ascend, "
                                      f"below {checkpoint.tree_size}", path=path)
        try:
            verify_inclusion(proof.leaf_index, checkpoint.tree_size, leaf_hash(raw), proof.audit_path,
                             checkpoint.root_hash)
        except VerificationFailed as exc:
            refuse("inclusion-proof", f"event on line {line} (leaf {proof.leaf_index}): {exc.message}", path=path)
        previous = proof.leaf_index


def check_event_signatures(content: PackContent) -> dict[str, str]:
    """Step 13: each event's signature (or attestation) by the key its ``key_id`` names in ``keys/actors.json``.
    Returns key id → how the key is bound (``fingerprint`` or ``signature``)."""
    bindings: dict[str, str] = {}
    for line, event in enumerate(content.events, start=1):
        key_id = str(event.actor["key_id"])
        entry = content.actor_keys.get(key_id)
        if entry is None:
            refuse("event-signature", f"event on line {line}: key {key_id[:80]!r} is not in keys/actors.json",
                   path="events.jsonl")
        try:
            _verify_actor(content, event, entry.key)
            if key_id not in bindings:  # the binding depends on the key id and the key only
                bindings[key_id] = actor_key_binding(event, public_key_pem=entry.key.to_pem())
        except VerificationFailed as exc:
            refuse("event-signature", f"event on line {line} ({event.fields['event_id']}): {exc.message}",
                   path="events.jsonl")
    return bindings


def _verify_actor(content: PackContent, event: Event, key: PublicKey) -> None:
    if event.attestation_hash is None:
        assert event.signature is not None  # an event carries exactly one of signature and attestation
        try:
            verify_sm2(key, canonical(claim(event)), event.signature)
        except BadSignature as exc:
            raise BadSignature(f"actor signature over the claim does not verify: {exc}") from exc
        return
    attestation = content.attestations.get(event.attestation_hash)
    if attestation is None:
        raise VerificationFailed(f"attestation {event.attestation_hash.hex()} is not in attestations.jsonl")
    verify_attestation(event, attestation, public_key_pem=key.to_pem())


def check_payloads(content: PackContent) -> int:
    """Step 14: every disclosed payload names a leaf of the pack and matches its commitment. Returns the count."""
    by_index = {p.leaf_index: e for p, e in zip(content.inclusion, content.events, strict=True)}
    for index, payload in sorted(content.payloads.items()):
        path = f"payloads/{index}.json"
        event = by_index.get(index)
        if event is None:
            refuse("payload-commitment", f"{path} names leaf {index}, which is not an event of the pack", path=path)
        try:
            verify_payload_commitment(event, payload)
        except VerificationFailed as exc:
            refuse("payload-commitment", f"{path}: {exc.message}", path=path)
    return len(content.payloads)


def check_scope(content: PackContent) -> None:
    """Step 15: every event is of the manifest's tenant and inside its scope."""
    scope, tenant = content.manifest.scope, content.manifest.tenant
    for line, event in enumerate(content.events, start=1):
        subject = event.fields["subject"]
        why = _outside(scope, subject, str(event.fields["received_at"]))
        if event.fields["tenant"] != tenant:
            why = f"tenant {str(event.fields['tenant'])[:80]!r}, want {tenant!r}"
        if why:
            refuse("scope", f"event on line {line} ({event.fields['event_id']}) is outside the scope: {why}",
                   path="events.jsonl")


def _outside(scope: dict[str, object] | object, subject: object, received_at: str) -> str | None:
    assert isinstance(scope, dict) and isinstance(subject, dict)
    kind = scope["kind"]
    if kind == "permit" and subject.get("permit") != scope["permit"]:
        return f"permit {subject.get('permit')!r}, want {scope['permit']!r}"
    if kind == "worker" and subject.get("worker") != scope["worker"]:
        return f"worker {subject.get('worker')!r}, want {scope['worker']!r}"
    if kind == "area":
        permits = scope["permits"]
        assert isinstance(permits, list)
        if subject.get("permit") not in permits:
            return f"permit {subject.get('permit')!r} is not a listed permit of area {scope['area']!r}"
        if not str(scope["from"]) <= received_at < str(scope["to"]):
            return f"received_at {received_at} is not in [{scope['from']}, {scope['to']})"
    return None


def check_chain(content: PackContent) -> str:
    """Step 16: the ``prev`` chain (docs/formats.md, "Scope"). Returns what the chain proves."""
    kind = content.manifest.scope["kind"]
    if kind == "worker":
        return "worker events are not chained: their completeness is the service's statement"
    last: dict[str, bytes] = {}
    for line, (event, raw) in enumerate(zip(content.events, content.event_lines, strict=True), start=1):
        permit = str(event.fields["subject"].get("permit"))
        prev = event.fields.get("prev")
        want = last.get(permit)
        first_of_area_permit = kind == "area" and want is None
        if not first_of_area_permit and prev != (want.hex() if want is not None else None):
            refuse("chain-gap", f"event on line {line} ({event.fields['event_id']}) has prev {prev}, want "
                                f"{want.hex() if want is not None else 'null'}: an event is missing, extra or out "
                                "of order", path="events.jsonl")
        last[permit] = leaf_hash(raw)
    if kind == "permit":
        return f"all {len(content.events)} events of the permit, chained from its first (prev null)"
    return "each permit's events in the range are consecutive in its chain"


def check_media(content: PackContent) -> tuple[int, int]:
    """Steps 17 and 18: media files match their entries and events; deleted media have their deletion event.
    Returns (present, deleted)."""
    by_index = {p.leaf_index: e for p, e in zip(content.inclusion, content.events, strict=True)}
    present, listed = 0, content.manifest.listed()
    for entry in content.media:
        event, payload = by_index.get(entry.event), content.payloads.get(entry.event)
        value = payload.value if payload is not None else None
        if (event is None or not isinstance(value, dict) or value.get("sm3") != entry.sm3.hex()
                or value.get("size") != entry.size or event.fields["subject"].get("media") != entry.media):
            refuse("media-hash", f"media {entry.media} {entry.path}: leaf {entry.event} is not a disclosed event of "
                                 "this media whose payload has its sm3 and size", path="media/index.json")
        if entry.state == "present":
            present += 1
            _check_present(listed, entry.path, entry.sm3, entry.size, entry.deleted_by)
        else:
            _check_deleted(content, by_index, entry.media, entry.path, entry.deleted_by)
    return present, len(content.media) - present


def _check_present(listed: dict[str, ManifestFile], path: str | None, digest: bytes, size: int,
                   deleted_by: int | None) -> None:
    found = listed.get(path) if path is not None else None
    if found is None or found.size != size or found.sm3 != digest:  # the file's own hash was checked (step 9)
        refuse("media-hash", f"media file {path} is missing or its size or sm3 is not its entry's",
               path=path or "media/index.json")
    if deleted_by is not None:
        refuse("media-deletion", f"media file {path} is present but names deletion event {deleted_by}",
               path="media/index.json")


def _check_deleted(content: PackContent, by_index: dict[int, Event], media: str, path: str | None,
                   deleted_by: int | None) -> None:
    event = by_index.get(deleted_by) if deleted_by is not None else None
    if (path is not None or event is None or event.fields["kind"] != "media.deleted"
            or event.fields["subject"].get("media") != media):
        refuse("media-deletion", f"deleted media {media}: leaf {deleted_by} is not a media.deleted event of it "
                                 "in the pack (or a path is given)", path="media/index.json")


def check_consistency(content: PackContent) -> int:
    """Step 19: every other checkpoint is linked to the pack checkpoint by a valid consistency proof.
    Returns how many."""
    base = content.checkpoint
    proofs = {(a, b): path for a, b, path in content.consistency}
    others = sorted(s for s in content.checkpoints if s != base.tree_size)
    for size in others:
        other = content.checkpoints[size]
        low, high = sorted((base, other), key=lambda c: c.tree_size)
        proof = proofs.get((low.tree_size, high.tree_size))
        if proof is None:
            refuse("consistency-proof", f"no consistency proof from {low.tree_size} to {high.tree_size}",
                   path="proofs/consistency.json")
        try:
            verify_consistency(low.tree_size, high.tree_size, low.root_hash, high.root_hash, proof)
        except VerificationFailed as exc:
            refuse("consistency-proof", f"{low.tree_size} -> {high.tree_size}: {exc.message}",
                   path="proofs/consistency.json")
    if len(proofs) != len(others):
        refuse("consistency-proof", f"{len(proofs)} consistency proofs for {len(others)} other checkpoints",
               path="proofs/consistency.json")
    return len(others)
