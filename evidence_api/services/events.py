"""Evidence-event intake: check a batch completely (shape, keys, signatures, commitments), seal payloads,
then hand it to the log as one submission. Nothing is written unless every event of the batch passes.

Two ways to sign a batch (docs/formats.md): every event signed by its actor, or one actor attestation over
the list of the events' claim hashes (detectors sending many readings). SM2 verification (~0.5 ms each, and
GmSSL holds the GIL) runs in a process pool for large individually signed batches, so both cores verify.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import timedelta
from typing import Any

from evidence_api.services.errors import Forbidden, TooLarge
from evidence_api.services.keys import ActorKey, KeyRegistry
from ledger.canonical import canonical
from ledger.errors import InvalidSignature, MalformedInput
from ledger.events import (
    attestation_digest, check_attestation, check_claim, check_commitment, claim_hash, claim_of,
    clock_flags, parse_rfc3339, verify_event_signature,
)
from ledger.keystore import DataKeyWrapper, seal
from ledger.log import PreparedEvent, Submission, utc_now
from ledger.sm import SM2PublicKey

__all__ = ["EventIntake"]

_POOL_THRESHOLD = 64


def _verify_chunk(items: Sequence[tuple[bytes, dict[str, Any], str]]) -> list[str | None]:
    """Verify (key point, claim, signature) triples; the error text for each failure, None for success."""
    results: list[str | None] = []
    for point, claim, signature in items:
        try:
            verify_event_signature(claim, signature, SM2PublicKey(point))
            results.append(None)
        except InvalidSignature as exc:
            results.append(str(exc))
    return results


class EventIntake:
    """Turns a request body into a checked ``Submission`` for the log."""

    def __init__(self, keys: KeyRegistry, wrapper: DataKeyWrapper, *, max_batch: int = 1000,
                 max_skew: timedelta = timedelta(minutes=5), max_age: timedelta = timedelta(days=1),
                 verify_workers: int | None = None) -> None:
        self._keys, self._wrapper, self.max_batch = keys, wrapper, max_batch
        self._max_skew, self._max_age = max_skew, max_age
        workers = verify_workers if verify_workers is not None else (os.cpu_count() or 1)
        self._pool = ProcessPoolExecutor(workers) if workers > 1 else None

    def close(self) -> None:
        """Stop the verification pool."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def prepare(self, tenant: str, body: Any) -> Submission:
        """Check a ``POST /v1/events`` body for ``tenant``; raises a ledger or service error naming the problem."""
        items, attestation = self._split(body)
        received_at = utc_now()
        for position, item in enumerate(items):
            try:
                check_claim(item["event"], tenant=tenant)
            except MalformedInput as exc:
                raise MalformedInput(f"events[{position}]: {exc}") from exc
        keys = [self._actor_key(tenant, item["event"], position) for position, item in enumerate(items)]
        claims = [claim_of(item["event"]) for item in items]
        hashes = [claim_hash(claim) for claim in claims]
        digest = self._check_signatures(tenant, items, claims, hashes, keys, attestation)
        prepared = [self._prepare_one(tenant, item, digest_, key, received_at)
                    for item, digest_, key in zip(items, hashes, keys, strict=True)]
        return Submission(prepared, attestation, digest)

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
                          hashes: list[bytes], keys: list[ActorKey], attestation: dict[str, Any] | None) -> bytes | None:
        if attestation is None:
            self._verify_each(items, claims, keys)
            return None
        if not isinstance(attestation, dict) or attestation.get("tenant") != tenant:
            raise MalformedInput(f"attestation must be an object for tenant {tenant!r}")
        if any("signature" in item["event"] for item in items):
            raise MalformedInput("events of an attested batch carry no signature of their own")
        if any(item["event"]["actor"] != attestation.get("actor") for item in items):
            raise MalformedInput("every event of an attested batch must have the attestation's actor")
        check_attestation(attestation, hashes, keys[0].public)
        return attestation_digest(attestation)

    def _verify_each(self, items: list[dict[str, Any]], claims: list[dict[str, Any]], keys: list[ActorKey]) -> None:
        work = [(k.public.point, c, i["event"].get("signature")) for i, c, k in zip(items, claims, keys, strict=True)]
        if self._pool is None or len(work) < _POOL_THRESHOLD:
            results = _verify_chunk(work)
        else:
            size = -(-len(work) // (os.cpu_count() or 1))
            chunks = [work[i : i + size] for i in range(0, len(work), size)]
            results = [r for part in self._pool.map(_verify_chunk, chunks) for r in part]
        for position, error in enumerate(results):
            if error is not None:
                raise InvalidSignature(f"events[{position}]: {error}")

    def _prepare_one(self, tenant: str, item: dict[str, Any], claim_digest: bytes, key: ActorKey,
                     received_at: str) -> PreparedEvent:
        event = item["event"]
        salt = check_commitment(event, item["salt"], item["payload"])
        context = f"{tenant}|{event['event_id']}".encode()
        plaintext = canonical({"payload": item["payload"], "salt": salt.hex()})
        sealed, wrapped = seal(self._wrapper, tenant, plaintext, context=context)
        flags = clock_flags(parse_rfc3339(event["occurred_at"], "occurred_at"), parse_rfc3339(received_at, "received_at"),
                            max_skew=self._max_skew, max_age=self._max_age)
        return PreparedEvent(event=event, claim_hash=claim_digest, key_id=key.key_id, payload_sealed=sealed,
                             payload_key=wrapped, received_at=received_at, flags=tuple(flags))
