"""Evidence-event intake: check a batch completely (shape, keys, signatures, commitments), seal payloads,
then hand it to the log as one submission. Nothing is written unless every event of the batch passes.

Two ways to sign a batch (docs/formats.md): every event signed by its actor, or one actor attestation over
the list of the events' claim hashes (detectors sending many readings).

All of this is CPU work that needs no log position (SM2 verification alone is ~0.5 ms, and GmSSL holds the
GIL), so ``IntakePool`` runs it in worker processes: the server process only parses HTTP and appends to the
log, and both cores work. With ``workers=0`` it runs in-process (tests, small deployments).
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import orjson

from evidence_api.services.detectors import detector_id
from evidence_api.services.errors import Forbidden, TooLarge
from evidence_api.services.keys import ActorKey, KeyRegistry
from evidence_api.services.monitored import read_values
from ledger import strict_json
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.errors import InvalidSignature, MalformedInput
from ledger.events import (
    LeafTemplate,
    attestation_digest,
    check_attestation,
    check_claim,
    check_commitment,
    claim_of,
    clock_flags,
    leaf_parts,
    parse_rfc3339,
    verify_event_signature,
)
from ledger.keystore import DataKeyWrapper, LocalKeyWrapper, seal
from ledger.log import PreparedEvent, Submission
from ledger.packing import pack_template
from ledger.sm import sm3

__all__ = ["EventIntake", "IntakePool", "PackedEvent", "PackedSubmission", "parse_body", "unpack_submission"]


def parse_body(body: bytes) -> Any:
    """The JSON of a request body, kept exactly as sent (signatures cover its values), parsed strictly
    (``ledger.strict_json``: duplicate keys, non-finite numbers, unsafe integers refused). The one parse of an
    intake body; it runs in the intake worker."""
    return strict_json.loads(body)


class EventIntake:
    """Turns a request body into a checked ``Submission`` for the log."""

    def __init__(self, keys: KeyRegistry, wrapper: DataKeyWrapper, *, max_batch: int = 1000,
                 max_skew: timedelta = timedelta(minutes=5), max_age: timedelta = timedelta(days=1),
                 max_delay: timedelta = timedelta(minutes=5), clock: Clock | None = None) -> None:
        self._keys, self._wrapper, self.max_batch, self._clock = keys, wrapper, max_batch, clock or Clock()
        self._max_skew, self._max_age, self._max_delay = max_skew, max_age, max_delay

    @property
    def limits(self) -> dict[str, Any]:
        """The intake's limits as keyword arguments of ``EventIntake``: what a worker process is built with,
        so a setting applies whether intake runs in workers or in the server."""
        return {"max_batch": self.max_batch, "max_skew": self._max_skew, "max_age": self._max_age,
                "max_delay": self._max_delay}

    def prepare(self, tenant: str, body: Any) -> Submission:
        """Check a ``POST /v1/events`` body for ``tenant``; raises a ledger or service error naming the problem."""
        return unpack_submission(self.prepare_packed(tenant, body))

    def prepare_packed(self, tenant: str, body: Any) -> PackedSubmission:
        """``prepare`` in the plain shape a worker process sends back (``unpack_submission`` rebuilds it)."""
        items, attestation = self._split(body)
        received_at = self._clock.stamp()
        for position, item in enumerate(items):
            try:
                check_claim(item["event"], tenant=tenant)
            except MalformedInput as exc:
                raise MalformedInput(f"events[{position}]: {exc}") from exc
        keys = [self._actor_key(tenant, item["event"], position) for position, item in enumerate(items)]
        claims = [claim_of(item["event"]) for item in items]
        # one canonical form per claim: hashed, verified, and spliced into the leaf (ledger.events.leaf_parts)
        canonical_claims = [canonical(claim) for claim in claims]
        hashes = [sm3(canonical_claim) for canonical_claim in canonical_claims]
        digest = self._check_signatures(tenant, items, claims, canonical_claims, hashes, keys, attestation)
        received = (received_at, digest.hex() if digest else None, parse_rfc3339(received_at, "received_at"))
        prepared = [self._prepare_one(tenant, item, digest_, key, received, canonical_claim)
                    for item, digest_, key, canonical_claim in zip(items, hashes, keys, canonical_claims, strict=True)]
        return prepared, attestation, digest

    def _split(self, body: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        if not isinstance(body, dict) or not isinstance(body.get("events"), list) or set(body) - {"events", "attestation"}:
            raise MalformedInput("body must be an object {\"events\": [{\"event\", \"payload\", \"salt\"}, ...], \"attestation\"?}")
        items = body["events"]
        if not items:
            raise MalformedInput("events must not be empty")
        if len(items) > self.max_batch:
            raise TooLarge(f"batch of {len(items)} events exceeds the limit of {self.max_batch}; split it")
        for position, item in enumerate(items):
            if not isinstance(item, dict) or set(item) != {"event", "payload", "salt"} or not isinstance(item["event"], dict):
                raise MalformedInput(f"events[{position}] must be an object with exactly event, payload and salt")
        return items, body.get("attestation")

    def _actor_key(self, tenant: str, event: dict[str, Any], position: int) -> ActorKey:
        actor = event["actor"]
        key = self._keys.get(tenant, actor["key_id"])
        if (key.actor_type, key.actor_id) != (actor["type"], actor["id"]):
            raise Forbidden(f"events[{position}]: key {actor['key_id']!r} belongs to {key.actor_type} "
                            f"{key.actor_id!r}, not to {actor['type']} {actor['id']!r}")
        return key

    def _check_signatures(self, tenant: str, items: list[dict[str, Any]], claims: list[dict[str, Any]],
                          canonical_claims: list[bytes], hashes: list[bytes], keys: list[ActorKey],
                          attestation: dict[str, Any] | None) -> bytes | None:
        if attestation is None:
            self._verify_each(items, claims, canonical_claims, keys)
            return None
        if not isinstance(attestation, dict) or attestation.get("tenant") != tenant:
            raise MalformedInput(f"attestation must be an object for tenant {tenant!r}")
        if any("signature" in item["event"] for item in items):
            raise MalformedInput("events of an attested batch carry no signature of their own")
        if any(item["event"]["actor"] != attestation.get("actor") for item in items):
            raise MalformedInput("every event of an attested batch must have the attestation's actor")
        check_attestation(attestation, hashes, keys[0].public)
        return attestation_digest(attestation)

    def _verify_each(self, items: list[dict[str, Any]], claims: list[dict[str, Any]], canonical_claims: list[bytes],
                     keys: list[ActorKey]) -> None:
        for position, (item, claim, message, key) in enumerate(zip(items, claims, canonical_claims, keys, strict=True)):
            try:
                verify_event_signature(claim, item["event"].get("signature"), key.public, canonical_claim=message)
            except InvalidSignature as exc:
                raise InvalidSignature(f"events[{position}]: {exc}") from exc

    def _prepare_one(self, tenant: str, item: dict[str, Any], claim_digest: bytes, key: ActorKey,
                     received: tuple[str, str | None, datetime], canonical_claim: bytes) -> PackedEvent:
        received_at, attestation_hex, received_time = received
        event = item["event"]
        salt = check_commitment(event, item["salt"], item["payload"])
        context = f"{tenant}|{event['event_id']}".encode()
        plaintext = _stored_payload(item["payload"], salt)
        sealed, wrapped = seal(self._wrapper, tenant, plaintext, context=context)
        occurred = parse_rfc3339(event["occurred_at"], "occurred_at")
        flags = clock_flags(occurred, received_time, max_skew=self._max_skew, max_age=self._max_age)
        observed, detector = None, None
        if event["kind"] == "detector.reading":
            detector = detector_id(item["payload"])  # checked against the registry in the server, unopened
            if received_time - occurred > self._max_delay:
                flags.append("received_late")  # relayed late (a gateway's outbox was offline): kept, and said so
            if event["subject"].get("permit") is not None and event["actor"]["type"] != "service":
                # decided here, where the plaintext is (services.monitored); a service-signed one gets the full check
                observed = read_values(item["payload"])
        head, tail = leaf_parts(canonical_claim, received_at=received_at, signature=event.get("signature"),
                                attestation=attestation_hex)
        # the leaf's stored form too (ledger.packing), so the log writer, the one serial stage, does not pack it
        return (event["event_id"], tenant, event["kind"], event["subject"].get("permit"), key.key_id, claim_digest,
                head, tail, pack_template(head, tail), sealed, wrapped, received_at, tuple(flags), observed, detector)


PackedEvent = tuple[str, str, str, "str | None", str, bytes, bytes, bytes, "tuple[bytes, bytes] | None", bytes, bytes,
                    str, tuple[str, ...], object, "str | None"]
"""A ``PreparedEvent`` as plain values, in field order with the leaf as head, tail and packed form: what a
worker process pickles back (several times cheaper to pickle and unpickle than the objects)."""
PackedSubmission = tuple[list[PackedEvent], "dict[str, Any] | None", "bytes | None"]
"""A ``Submission`` as (events, attestation, attestation digest)."""


def unpack_submission(packed: PackedSubmission) -> Submission:
    """The ``Submission`` of what ``EventIntake.prepare_packed`` returned."""
    events, attestation, digest = packed
    return Submission([PreparedEvent(e, t, kind, permit, key, claim, LeafTemplate(head, tail, packed), sealed, wrapped,
                                     at, flags, observed, detector)
                       for e, t, kind, permit, key, claim, head, tail, packed, sealed, wrapped, at, flags, observed,
                       detector in events],
                      attestation, digest)


def _stored_payload(payload: Any, salt: bytes) -> bytes:
    """The plaintext sealed for an event (stored, not hashed); raises ``MalformedInput`` if JSON cannot hold it."""
    try:
        return orjson.dumps({"payload": payload, "salt": salt.hex()})
    except orjson.JSONEncodeError as exc:
        raise MalformedInput(f"payload cannot be stored: {exc}; nest it less deeply") from exc


_worker_intake: EventIntake | None = None
_WORKER_NICENESS = 10
_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with(server: int) -> None:
    """Make this worker die when ``server`` (the process that spawned it) dies, even by ``kill -9``.

    On Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` has the worker killed the moment its
    parent exits. That needs no code to run in the worker, so it holds while the worker's main thread is
    blocked on the call-queue pipe or busy in C code holding the GIL, and SIGKILL cannot be caught. The
    signal follows the *thread* that spawned the worker: the pool spawns from ``submit``, i.e. from the
    event-loop thread, which outlives the pool (the lifespan closes it on that thread).

    ``server`` is the pid the server passed in, never ``os.getppid()`` read here: a spawned worker imports
    for a second or more before its initializer runs, and a server killed in that window has already
    re-parented it to PID 1. The old poll captured that 1 as "the parent" and waited for it to change
    forever, while the worker blocked on the call-queue pipe (whose write ends the workers hold themselves)
    and kept the resource tracker's pipe open, so the tracker lived on too. Hence the check after prctl.
    Elsewhere a daemon thread polls for the same thing (best effort: it needs the GIL).
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    else:
        threading.Thread(target=_poll_parent, args=(server,), daemon=True).start()
    if os.getppid() != server:  # the server died before the line above took effect
        os._exit(0)


def _poll_parent(server: int) -> None:
    """Exit once this process is no longer ``server``'s child (where prctl does not exist)."""
    while os.getppid() == server:
        time.sleep(1)
    os._exit(0)


def _start_worker(server: int, database_url: str, master_key: bytes, limits: dict[str, Any]) -> None:
    """Process-pool initializer: tie the worker's life to ``server``; then its own engine, keys and wrapper."""
    global _worker_intake
    _die_with(server)
    # The log writer in the server process is the one serial stage of intake; workers yield the CPU to it.
    os.nice(_WORKER_NICENESS)
    keys = KeyRegistry(make_engine(database_url))
    _worker_intake = EventIntake(keys, LocalKeyWrapper(master_key), **limits)


def _prepare_in_worker(tenant: str, body: bytes) -> PackedSubmission:
    assert _worker_intake is not None, "intake worker was not initialised"
    return _worker_intake.prepare_packed(tenant, parse_body(body))


class IntakePool:
    """Runs ``EventIntake.prepare`` on raw bodies in ``workers`` processes (0: in a thread of this process)."""

    def __init__(self, local: EventIntake, *, workers: int, database_url: str, master_key: bytes) -> None:
        self.local, self._pool = local, None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker,
                initargs=(os.getpid(), database_url, master_key, local.limits))

    async def prepare(self, tenant: str, body: bytes) -> Submission:
        """Check and seal a request body for ``tenant``; raises what ``EventIntake.prepare`` raises."""
        if self._pool is None:
            return await asyncio.to_thread(lambda: self.local.prepare(tenant, parse_body(body)))
        return unpack_submission(await asyncio.wrap_future(self._pool.submit(_prepare_in_worker, tenant, body)))

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
