"""Offline verification of one evidence bundle (``tiezheng.bundle/v1``), docs/formats.md "Bundle".

A bundle carries one event with everything needed to check it: the checkpoint, the inclusion proof, the
actor's attestation and payload when there are any, local anchors and the public keys. ``verify_bundle``
runs the numbered steps of docs/formats.md in order and stops at the first that fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from verifier._json import (
    JSONObject,
    hex_list_field,
    int_field,
    loads,
    object_field,
    require_object,
    str_field,
)
from verifier.anchors import LocalAnchor, verify_local_anchor
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.errors import MalformedInput, VerifierError
from verifier.events import (
    Attestation,
    Event,
    Payload,
    event_leaf_hash,
    verify_actor_signature,
    verify_attestation,
    verify_payload_commitment,
)
from verifier.merkle import verify_inclusion
from verifier.report import ASSURANCE_SIGNED, Report, StepResult, notes_for
from verifier.sm import PublicKey

__all__ = ["BUNDLE_FORMAT", "Bundle", "verify_bundle"]

BUNDLE_FORMAT = "tiezheng.bundle/v1"


@dataclass(frozen=True)
class Bundle:
    """A parsed, structurally checked bundle. Keys are kept as PEM text, already known to parse."""

    event: Event
    leaf_index: int
    attestation: Attestation | None
    payload: Payload | None
    checkpoint: Checkpoint
    inclusion_proof: tuple[bytes, ...]
    anchors: tuple[LocalAnchor, ...]
    log_key_pem: str
    actor_key_pem: str

    @classmethod
    def from_bytes(cls, data: bytes) -> Bundle:
        """Parse bundle JSON (step 1 of docs/formats.md).

        Raises ``MalformedInput`` (with ``step`` 1) when ``data`` is not JSON, has another format tag, or a
        field is missing or of the wrong shape: the event, attestation (present exactly for batch-signed
        events), payload, checkpoint text, proofs, anchors and both PEM keys are all checked here.
        """
        try:
            return cls._from_object(require_object(loads(data, "bundle"), "bundle"))
        except MalformedInput as exc:
            exc.step, exc.step_name = 1, "structure"
            raise

    @classmethod
    def _from_object(cls, obj: JSONObject) -> Bundle:
        fmt = str_field(obj, "format", "bundle")
        if fmt != BUNDLE_FORMAT:
            raise MalformedInput(f"bundle format is {fmt!r}, want {BUNDLE_FORMAT!r}")
        event = Event.from_json(_get(obj, "event"))
        keys = object_field(obj, "keys", "bundle")
        return cls(
            event=event,
            leaf_index=int_field(obj, "leaf_index", "bundle"),
            attestation=_attestation(event, _get(obj, "attestation")),
            payload=None if _get(obj, "payload") is None else Payload.from_json(obj["payload"]),
            checkpoint=Checkpoint.from_text(str_field(obj, "checkpoint", "bundle")),
            inclusion_proof=hex_list_field(obj, "inclusion_proof", "bundle"),
            anchors=_anchors(_get(obj, "anchors")),
            log_key_pem=_pem(keys, "log"),
            actor_key_pem=_pem(keys, "actor"),
        )


def verify_bundle(bundle: Bundle, *, log_key_pem: str | None = None) -> Report:
    """Run verification steps 2 to 7 of docs/formats.md on a parsed ``bundle`` (step 1 is parsing).

    ``log_key_pem`` is the trusted log key (``--log-key``); when ``None`` the bundle's own key is used and
    the report says it was not pinned. Returns the report of a valid bundle. Raises ``VerificationFailed``
    (a subclass naming the failed check) or ``MalformedInput`` (an unusable pinned key); the error's
    ``step``, ``step_name`` and ``report`` say which step failed and which passed before it.

    2. Log key: the pinned key if given, else the bundle's.
    3. Checkpoint signature by the log key.
    4. Actor signature over the claim, or the attestation's signature, claim-hash membership and actor.
    5. Payload commitment, if the payload is included.
    6. Leaf hash and inclusion proof against the checkpoint root.
    7. Each anchor: entry signature and checkpoint by the log key, consistency from the bundle checkpoint.
    """
    run = _Run(bundle, pinned=log_key_pem is not None)
    log_key = log_key_pem if log_key_pem is not None else bundle.log_key_pem
    with run.step(2, "log key"):
        run.log_key_fingerprint = PublicKey.from_pem(log_key).fingerprint()
        run.ok(
            f"{run.log_key_fingerprint} "
            + ("pinned with --log-key" if run.pinned else "from the bundle (not pinned)")
        )
    with run.step(3, "checkpoint signature"):
        verify_checkpoint(bundle.checkpoint, public_key_pem=log_key)
        run.ok(f"{bundle.checkpoint.origin} size {bundle.checkpoint.tree_size} signed by the log key")
    with run.step(4, "actor signature"):
        run.ok(_check_actor(bundle))
    with run.step(5, "payload commitment"):
        _check_payload(bundle, run)
    with run.step(6, "leaf hash and inclusion proof"):
        leaf = event_leaf_hash(bundle.event)
        verify_inclusion(
            bundle.leaf_index,
            bundle.checkpoint.tree_size,
            leaf,
            bundle.inclusion_proof,
            bundle.checkpoint.root_hash,
        )
        run.ok(f"leaf {leaf.hex()} is in the tree with root {bundle.checkpoint.root_hash.hex()}")
    _check_anchors(bundle, run, log_key)
    return run.report(valid=True)


@dataclass
class _Run:
    """Records the outcome of each step as ``verify_bundle`` goes, and builds the report."""

    bundle: Bundle
    pinned: bool
    results: list[StepResult] = field(default_factory=list)
    current: tuple[int, str] = (1, "structure")
    log_key_fingerprint: str | None = None

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
        assurance = ASSURANCE_SIGNED if valid else None
        event = self.bundle.event
        return Report(
            valid=valid,
            steps=tuple(self.results),
            log_key_pinned=self.pinned,
            log_key_fingerprint=self.log_key_fingerprint,
            actor_key_fingerprint=PublicKey.from_pem(self.bundle.actor_key_pem).fingerprint(),
            actor_key_id=str(event.actor["key_id"]),
            event_id=str(event.fields["event_id"]),
            origin=self.bundle.checkpoint.origin,
            tree_size=self.bundle.checkpoint.tree_size,
            leaf_index=self.bundle.leaf_index,
            assurance=assurance,
            failure=failure,
            notes=notes_for(log_key_pinned=self.pinned, assurance=assurance),
        )


def _check_actor(bundle: Bundle) -> str:
    actor = bundle.event.actor
    who = f"actor {actor['type']}:{actor['id']} (key_id {actor['key_id']}, key {PublicKey.from_pem(bundle.actor_key_pem).fingerprint()})"
    if bundle.attestation is None:
        verify_actor_signature(bundle.event, public_key_pem=bundle.actor_key_pem)
        return f"claim signed by {who}"
    verify_attestation(bundle.event, bundle.attestation, public_key_pem=bundle.actor_key_pem)
    return f"batch attestation signed by {who} lists the claim hash"


def _check_payload(bundle: Bundle, run: _Run) -> None:
    if bundle.payload is None:
        run.skip("payload not included")
        return
    verify_payload_commitment(bundle.event, bundle.payload)
    run.ok(f"payload matches commitment {bundle.event.payload_commitment.hex()}")


def _check_anchors(bundle: Bundle, run: _Run, log_key_pem: str) -> None:
    if not bundle.anchors:
        with run.step(7, "anchors"):
            run.skip("no anchors in the bundle")
    for i, anchor in enumerate(bundle.anchors, start=1):
        with run.step(7, f"anchor {i} (local journal seq {anchor.entry.seq})"):
            verify_local_anchor(anchor, checkpoint=bundle.checkpoint, public_key_pem=log_key_pem)
            run.ok(
                f"tree size {anchor.entry.tree_size} signed by the log key and consistent with the checkpoint"
            )


def _get(obj: JSONObject, key: str) -> Any:
    if key not in obj:
        raise MalformedInput(f"bundle is missing field {key!r}")
    return obj[key]


def _attestation(event: Event, value: Any) -> Attestation | None:
    if (value is None) != (event.attestation_hash is None):
        want = "an attestation object" if event.attestation_hash is not None else "null"
        raise MalformedInput(f"bundle.attestation does not fit the event: want {want}")
    return None if value is None else Attestation.from_json(value)


def _anchors(value: Any) -> tuple[LocalAnchor, ...]:
    if not isinstance(value, list):
        raise MalformedInput("bundle.anchors must be a list")
    return tuple(LocalAnchor.from_json(item) for item in value)


def _pem(keys: JSONObject, name: str) -> str:
    text = str_field(keys, name, "bundle.keys")
    try:
        PublicKey.from_pem(text)
    except MalformedInput as exc:
        raise MalformedInput(f"bundle.keys.{name}: {exc.message}") from exc
    return text
