"""Builders shared by tests: actors with keys, signed items, prepared submissions."""

from __future__ import annotations

import time
from typing import Any

from ingest.signing import Actor, new_item, sign_item
from ledger.canonical import canonical
from ledger.checkpoint import SignedCheckpoint
from ledger.clock import Clock
from ledger.events import claim_hash, claim_of, leaf_template
from ledger.log import PreparedEvent, Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey

TENANT = "acme-chem"


def make_actor(actor_id: str = "guardian-1", kind: str = "user", key_id: str | None = None) -> Actor:
    return Actor(kind, actor_id, key_id or f"{actor_id}#1", Signer.from_private_key(SM2PrivateKey.generate()))


def unsigned_item(actor: Actor, *, permit: str | None = "P-1", payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    """An intake item of ``TENANT`` without a signature (for attested batches, or to sign differently)."""
    subject = {"permit": permit} if permit else {}
    return new_item(actor, tenant=kwargs.pop("tenant", TENANT), kind=kwargs.pop("kind", "guardian.checkin"),
                    payload=payload if payload is not None else {"ok": True},
                    occurred_at=kwargs.pop("occurred_at", "2026-11-23T08:00:00Z"), subject=subject, **kwargs)


def signed_item(actor: Actor, *, permit: str | None = "P-1", payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    return sign_item(actor, unsigned_item(actor, permit=permit, payload=payload, **kwargs))


def prepared(item: dict[str, Any]) -> PreparedEvent:
    """A PreparedEvent for the log without going through intake (payload sealing is not under test here)."""
    event, received_at = item["event"], Clock().stamp()
    return PreparedEvent(event_id=event["event_id"], tenant=event["tenant"], kind=event["kind"],
                         permit=event["subject"].get("permit"), key_id=event["actor"]["key_id"],
                         claim_hash=claim_hash(claim_of(event)), leaf=leaf_template({**event, "received_at": received_at}),
                         payload_sealed=canonical(item["payload"]), payload_key=b"k", received_at=received_at)


def submission(*items: dict[str, Any]) -> Submission:
    return Submission([prepared(i) for i in items])


def wait_until(probe: Any, *, timeout: float = 5.0, interval: float = 0.02) -> Any:
    """Poll ``probe()`` until it returns something truthy and return that; fail the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s: {probe}")
        time.sleep(interval)


def grow(log: TransparencyLog, count: int, *, permit: str | None = "P-1", tag: str | None = None) -> SignedCheckpoint:
    """Append ``count`` events of one new actor (payloads ``{"n": n}``, plus ``"tag"`` when given, so a fork's
    events differ) about ``permit``, and return the checkpoint that covers them once the log has cut it."""
    actor = make_actor()
    extra = {} if tag is None else {"tag": tag}
    log.submit(submission(*(signed_item(actor, permit=permit, payload={"n": n, **extra}) for n in range(count))))
    size = log.tree_size

    def covering() -> SignedCheckpoint | None:
        latest = log.latest_checkpoint()
        return latest if latest is not None and latest.checkpoint.tree_size == size else None

    found: SignedCheckpoint = wait_until(covering)
    return found
