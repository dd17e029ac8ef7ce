"""Builders shared by tests: actors with keys, signed items, prepared submissions."""

from __future__ import annotations

from typing import Any

from ingest.signing import Actor, new_item, sign_item
from ledger.canonical import canonical
from ledger.events import claim_hash, claim_of
from ledger.log import PreparedEvent, Submission, utc_now
from ledger.sm import SM2PrivateKey, Signer

TENANT = "acme-chem"


def make_actor(actor_id: str = "guardian-1", kind: str = "user", key_id: str | None = None) -> Actor:
    return Actor(kind, actor_id, key_id or f"{actor_id}#1", Signer.from_private_key(SM2PrivateKey.generate()))


def signed_item(actor: Actor, *, permit: str | None = "P-1", payload: Any = None, **kwargs: Any) -> dict[str, Any]:
    subject = {"permit": permit} if permit else {}
    item = new_item(actor, tenant=TENANT, kind=kwargs.pop("kind", "guardian.checkin"),
                    payload=payload if payload is not None else {"ok": True},
                    occurred_at=kwargs.pop("occurred_at", "2026-11-23T08:00:00Z"), subject=subject, **kwargs)
    return sign_item(actor, item)


def prepared(item: dict[str, Any]) -> PreparedEvent:
    """A PreparedEvent for the log without going through intake (payload sealing is not under test here)."""
    return PreparedEvent(event=item["event"], claim_hash=claim_hash(claim_of(item["event"])),
                         key_id=item["event"]["actor"]["key_id"], payload_sealed=canonical(item["payload"]),
                         payload_key=b"k", received_at=utc_now())


def submission(*items: dict[str, Any]) -> Submission:
    return Submission([prepared(i) for i in items])
