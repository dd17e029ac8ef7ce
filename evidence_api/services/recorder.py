"""``Recorder``: appends events to the log on the server's behalf.

Two kinds of events pass through it: items a user or device signed and sent to a workflow endpoint (a
permit approval), and events the service itself signs as actor ``service/tiezheng`` (a permit suspended
by a gas alarm, an expiry warning). The service key is registered in each tenant like any actor's key, so
the verifier checks the service's signatures exactly as it checks a user's.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Engine

from evidence_api.services.events import EventIntake
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor, new_item, sign_item
from ledger.clock import Clock
from ledger.errors import DuplicateConflict, UnknownKey
from ledger.events import claim_hash, claim_of
from ledger.log import Receipt, Submission, TransparencyLog
from ledger.sm import Signer

__all__ = ["SERVICE_ACTOR_ID", "Recorder"]

SERVICE_ACTOR_ID = "tiezheng"


class Recorder:
    """Checks signed items, signs the service's own, and appends both with their projection writes."""

    def __init__(self, engine: Engine, log: TransparencyLog, keys: KeyRegistry, intake: EventIntake,
                 signer: Signer, *, clock: Clock) -> None:
        self._engine, self._log, self._keys, self._intake, self._clock = engine, log, keys, intake, clock
        self._service = Actor("service", SERVICE_ACTOR_ID, f"{SERVICE_ACTOR_ID}#{signer.public.fingerprint()[:16]}", signer)
        self._registered: set[str] = set()
        self._lock = threading.Lock()

    @property
    def service_signer(self) -> Signer:
        """The service's signer (its public key is what verifiers check service events against)."""
        return self._service.signer

    @property
    def service_key_id(self) -> str:
        """The key id the service signs with (registered in every tenant it acts in)."""
        return self._service.key_id

    def service_item(self, tenant: str, kind: str, payload: Any, *, subject: dict[str, str] | None = None,
                     occurred_at: str | None = None) -> dict[str, Any]:
        """An intake item signed by the service (its key registered for ``tenant`` on first use)."""
        self._ensure_service_key(tenant)
        item = new_item(self._service, tenant=tenant, kind=kind, payload=payload, subject=subject,
                        occurred_at=occurred_at or self._clock.stamp())
        return sign_item(self._service, item)

    def _ensure_service_key(self, tenant: str) -> None:
        with self._lock:
            if tenant in self._registered:
                return
            try:
                self._keys.get(tenant, self._service.key_id)
            except UnknownKey:
                self._keys.register(tenant, self._service.key_id, "service", SERVICE_ACTOR_ID,
                                    self._service.signer.public.to_pem())
            self._registered.add(tenant)

    def prepare(self, tenant: str, items: list[dict[str, Any]]) -> Submission:
        """Check signed items (shape, key, signature, commitment) and seal their payloads, as ``/v1/events`` does."""
        return self._intake.prepare(tenant, {"events": items})

    def existing(self, tenant: str, item: dict[str, Any]) -> Receipt | None:
        """The receipt of ``item`` if its event id is already logged (a retry); ``DuplicateConflict`` if the
        id is taken by other content."""
        event_id = item["event"]["event_id"]
        logged = self._log.event(tenant, event_id)
        if logged is None:
            return None
        if logged.claim_hash != claim_hash(claim_of(item["event"])):
            raise DuplicateConflict(f"event_id {event_id} is already logged with different content")
        return Receipt(event_id, logged.leaf_index, logged.leaf_hash, logged.received_at, duplicate=True)

    def append(self, submission: Submission) -> list[Receipt]:
        """Append ``submission``; blocks until durable. Projections follow from the committed events
        (``services.projector``), never inside the log's transaction."""
        return self._log.submit(submission)
