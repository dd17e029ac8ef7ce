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
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor, wait
from datetime import datetime, timedelta
from typing import Any

import orjson

from evidence_api.services.detectors import detector_id
from evidence_api.services.errors import Forbidden, ServiceError, TooLarge
from evidence_api.services.keys import ActorKey, KeyRegistry
from evidence_api.services.monitored import read_values
from ledger import strict_json
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.errors import InvalidSignature, LedgerError, MalformedInput
from ledger.events import (
    LeafTemplate,
    attestation_digest,
    check_attestation,
    check_claim,
    check_commitment,
    claim_fast_safe,
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

    def prepare_packed(self, tenant: str, body: Any, *, share: tuple[int, int] | None = None,
                       received_at: str | None = None) -> PackedSubmission:
        """``prepare`` in the plain shape a worker process sends back (``unpack_submission`` rebuilds it).

        ``share=(k, n)`` prepares only the k-th of n slices of the events (``share_bounds``), stamped with
        ``received_at`` (one stamp for the whole body): ``IntakePool`` spreads one individually signed body over
        its workers so. The body's shape is checked whole; each event is checked (claim, key, signature,
        commitment) only by the share it is in, and a refusal of any share has ``IntakePool`` prepare the whole
        body again, unsplit, which decides and words it. A batch attestation covers every claim, so a share of
        an attested body still checks them all."""
        items, attestation = self._split(body)
        received_at = received_at or self._clock.stamp()
        lo, hi = share_bounds(len(items), share)
        first = lo if attestation is None else 0  # what this call checks: [first, end), relative positions below
        end = hi if attestation is None else len(items)
        for position in range(first, end):
            try:
                check_claim(items[position]["event"], tenant=tenant)
            except MalformedInput as exc:
                raise MalformedInput(f"events[{position}]: {exc}") from exc
        keys = [self._actor_key(tenant, items[position]["event"], position) for position in range(first, end)]
        claims = [claim_of(items[position]["event"]) for position in range(first, end)]
        # one canonical form per claim: hashed, verified, and spliced into the leaf (ledger.events.leaf_parts)
        canonical_claims = [canonical(claim, known_fast=claim_fast_safe(claim)) for claim in claims]
        hashes = [sm3(canonical_claim) for canonical_claim in canonical_claims]
        digest = self._check_signatures(tenant, items[first:end], claims, canonical_claims, hashes, keys,
                                        attestation, (lo - first, hi - first), first)
        received = (received_at, digest.hex() if digest else None, parse_rfc3339(received_at, "received_at"))
        prepared = [self._prepare_one(tenant, items[i], hashes[i - first], keys[i - first], received,
                                      canonical_claims[i - first]) for i in range(lo, hi)]
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
                          attestation: dict[str, Any] | None, bounds: tuple[int, int], offset: int) -> bytes | None:
        """``bounds`` (relative to ``items``) are the events whose own signatures are checked; ``offset`` is the
        position of ``items[0]`` in the body (for the messages)."""
        if attestation is None:
            self._verify_each(items, claims, canonical_claims, keys, bounds, offset)
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
                     keys: list[ActorKey], bounds: tuple[int, int], offset: int) -> None:
        for position in range(*bounds):
            try:
                verify_event_signature(claims[position], items[position]["event"].get("signature"),
                                       keys[position].public, canonical_claim=canonical_claims[position])
            except InvalidSignature as exc:
                raise InvalidSignature(f"events[{position + offset}]: {exc}") from exc

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


def share_bounds(count: int, share: tuple[int, int] | None) -> tuple[int, int]:
    """The positions ``[lo, hi)`` of share ``(k, n)`` of ``count`` events (None: all of them); the n shares
    cover every position once, in order, and differ in size by one at most.

    >>> [share_bounds(5, (k, 2)) for k in range(2)]
    [(0, 2), (2, 5)]
    """
    if share is None:
        return 0, count
    k, n = share
    return count * k // n, count * (k + 1) // n


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


_log = logging.getLogger(__name__)
_worker_intake: EventIntake | None = None
_worker_engine: Any = None
_worker_ready: Any = None  # the pool's start-up barrier (a multiprocessing.Barrier, inherited at spawn)
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


def _start_worker(server: int, database_url: str, master_key: bytes, limits: dict[str, Any], ready: Any) -> None:
    """Process-pool initializer: tie the worker's life to ``server``; then its own engine, keys and wrapper."""
    global _worker_intake, _worker_engine, _worker_ready
    _die_with(server)
    # The log writer in the server process is the one serial stage of intake; workers yield the CPU to it.
    os.nice(_WORKER_NICENESS)
    _worker_engine, _worker_ready = make_engine(database_url), ready
    _worker_intake = EventIntake(KeyRegistry(_worker_engine), LocalKeyWrapper(master_key), **limits)


def _warm_up(timeout: float) -> int:
    """The start-up task, one per worker: connect to the database once (SQLAlchemy loads its dialect and opens
    the pool's connection on first use, which the first request would pay), then wait at the barrier until
    every worker of the pool has come this far (so each ran one of these tasks); returns the worker's pid."""
    assert _worker_intake is not None and _worker_ready is not None, "intake worker was not initialised"
    with _worker_engine.connect():
        pass
    _worker_ready.wait(timeout)
    return os.getpid()


def _prepare_in_worker(tenant: str, body: bytes, share: tuple[int, int] | None = None,
                       received_at: str | None = None) -> PackedSubmission:
    assert _worker_intake is not None, "intake worker was not initialised"
    return _worker_intake.prepare_packed(tenant, parse_body(body), share=share, received_at=received_at)


def _prepare_item_in_worker(tenant: str, body: bytes, received_at: str) -> PackedSubmission:
    assert _worker_intake is not None, "intake worker was not initialised"
    return _worker_intake.prepare_packed(tenant, {"events": [parse_body(body)]}, received_at=received_at)


_SHARE_BYTES = 32 * 1024
"""An individually signed body this large (≈ 50 events, ≈ 25 ms of SM2 verification) is spread over the
workers; below it a second worker's start-up costs more than it saves."""
_ATTESTED = b'"attestation"'


class IntakePool:
    """Runs ``EventIntake.prepare`` on raw bodies in ``workers`` processes (0: in a thread of this process)."""

    def __init__(self, local: EventIntake, *, workers: int, database_url: str, master_key: bytes) -> None:
        self.local, self.workers, self._pool, self._started = local, max(workers, 0), None, workers <= 0
        self._clock = Clock()
        self._busy = 0  # bodies being prepared now (``prepare`` runs on the event loop only)
        if workers > 0:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(
                workers, mp_context=context, initializer=_start_worker,
                initargs=(os.getpid(), database_url, master_key, local.limits, context.Barrier(workers)))

    def start(self, timeout: float = 120.0) -> list[int]:
        """Spawn every worker now and wait until each one has imported the intake code, run its initializer
        and answered a warm-up task, so that no request pays for it (a spawned worker imports for a second or
        more, and the pool would otherwise spawn its workers one by one, on demand, inside the first requests).
        Returns the workers' pids. Call it on the thread that stays for the pool's life (``_die_with``: the
        service's event-loop thread). Raises ``RuntimeError`` saying what went wrong if a worker cannot start
        within ``timeout`` seconds; the pool is closed then."""
        if self._pool is None or self._started:
            return []
        began = time.monotonic()
        # No worker is idle before it has run a task, so each of these submits spawns one more process.
        futures = [self._pool.submit(_warm_up, timeout) for _ in range(self.workers)]
        _, pending = wait(futures, timeout=timeout + 5)
        try:
            if pending:
                raise TimeoutError(f"{len(pending)} of {self.workers} did not answer within {timeout:.0f} s")
            pids = [future.result() for future in futures]
        except Exception as exc:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise RuntimeError(f"intake worker processes did not start: {exc!r}. A worker's own error, if it had "
                               "one, is logged above it; set TIEZHENG_INTAKE_WORKERS=0 to run intake in the server "
                               "process instead") from exc
        self._started = True
        _log.info("intake: %d worker processes ready in %.2f s (pids %s)", len(pids), time.monotonic() - began,
                  " ".join(map(str, sorted(pids))))
        return pids

    async def prepare(self, tenant: str, body: bytes) -> Submission:
        """Check and seal a request body for ``tenant``; raises what ``EventIntake.prepare`` raises.

        A large individually signed body (no ``"attestation"`` in it) that arrives while no other body is being
        prepared is split: every worker checks the body's shape and checks, verifies and seals its share of the
        events (SM2 verification is nearly all of the work), so one request uses every core (a split costs each
        extra share one parse of the body, and the server one more task each way). While other bodies are being
        prepared they already keep the workers busy: a body goes whole then. If any share is refused, the whole
        body is prepared again in one worker, which decides and words the refusal exactly as an unsplit body
        would get it."""
        pool = self._pool
        if pool is None:
            return await asyncio.to_thread(lambda: self.local.prepare(tenant, parse_body(body)))
        split = self.workers > 1 and not self._busy and len(body) >= _SHARE_BYTES and _ATTESTED not in body
        self._busy += 1
        try:
            if not split:
                return unpack_submission(await asyncio.wrap_future(pool.submit(_prepare_in_worker, tenant, body)))
            return await self._prepare_split(pool, tenant, body)
        finally:
            self._busy -= 1

    async def _prepare_split(self, pool: ProcessPoolExecutor, tenant: str, body: bytes) -> Submission:
        received_at = self._clock.stamp()  # the workers' clock: the system's (they are built without the server's)
        futures = [pool.submit(_prepare_in_worker, tenant, body, (k, self.workers), received_at)
                   for k in range(self.workers)]
        try:
            shares = await asyncio.gather(*(asyncio.wrap_future(future) for future in futures))
        except (LedgerError, ServiceError):
            for future in futures:
                future.cancel()
            return unpack_submission(await asyncio.wrap_future(pool.submit(_prepare_in_worker, tenant, body)))
        # every share checked the same attestation, if an escaped key hid one from the test above
        return unpack_submission(([event for share in shares for event in share[0]], shares[0][1], shares[0][2]))

    async def prepare_item(self, tenant: str, body: bytes, *, received_at: str) -> Submission:
        """Check and seal one signed item as sent (``{"event", "payload", "salt"}``: a permit action's body) for
        ``tenant`` in a worker, as ``prepare`` checks a body holding just that event, received at
        ``received_at`` (the caller's clock); raises what ``EventIntake.prepare`` raises (``events[0]: ...``)."""
        pool = self._pool
        if pool is None:
            return await asyncio.to_thread(lambda: unpack_submission(self.local.prepare_packed(
                tenant, {"events": [parse_body(body)]}, received_at=received_at)))
        return unpack_submission(await asyncio.wrap_future(pool.submit(_prepare_item_in_worker, tenant, body,
                                                                       received_at)))

    def close(self) -> None:
        """Stop the worker processes."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
