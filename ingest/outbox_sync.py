"""Sending the outbox to the server: sealed batches in order, with backoff, when the network is there.

``OutboxSync.sync_once`` seals what is unsealed, then sends batch after batch (``POST /v1/events``) until
the queue is empty or an attempt fails. What a failure means decides what happens next:

- no answer, a 5xx, 429, 401/403 (a token to fix) or 404: the batch stays first in line; the next attempt
  waits ``Backoff.delay(attempts)`` by the injected clock (no sleeping here: a call before
  ``next_attempt_at`` only seals full batches and says when to come back);
- 413 (larger than the server accepts): the batch is signed again in halves;
- any other 4xx (400 malformed, 422, 409): the server refused the content (a tampered item, a bad
  signature); the batch is set aside with the server's reason, never deleted, and the queue moves on.

Resending is safe: the server deduplicates by ``event_id`` and answers the first receipts again.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ingest.client import ApiClient, ApiError, ApiUnreachable
from ingest.outbox import Batch, Outbox
from ledger.clock import Clock, rfc3339

__all__ = ["Backoff", "OutboxSync", "SyncReport"]

_log = logging.getLogger(__name__)
_TEMPORARY = frozenset({401, 403, 404, 408, 425, 429})


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff: ``base`` seconds, doubling per failed attempt up to ``ceiling``, each delay
    stretched by up to ``jitter`` (a fraction) so gateways coming back together do not retry in step."""

    base: float = 1.0
    ceiling: float = 300.0
    jitter: float = 0.2
    random: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the ``attempts``-th failed attempt (``attempts`` ≥ 1)."""
        seconds = min(self.ceiling, self.base * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds * (1 + self.jitter * self.random()))


@dataclass(frozen=True)
class SyncReport:
    """What one ``sync_once`` did: events acknowledged and set aside, and whether the queue is now empty;
    otherwise when to try again and why the last attempt failed."""

    sent: int = 0
    refused: int = 0
    done: bool = True
    next_attempt_at: datetime | None = None
    error: str | None = None


class OutboxSync:
    """Sends ``outbox`` through ``api`` (an ingest token of the gateway's tenant). ``api`` should not retry
    on its own (``retries=0``): the backoff here, by ``clock``, decides when to try again."""

    def __init__(self, outbox: Outbox, api: ApiClient, *, clock: Clock | None = None,
                 backoff: Backoff | None = None) -> None:
        self.outbox, self.api = outbox, api
        self.clock, self.backoff = clock or outbox.clock, backoff or Backoff()

    def sync_once(self) -> SyncReport:
        """Seal, then send batches in order until done or an attempt fails (see the module docstring).

        While a retry is not yet due only full batches are sealed: the readings of an outage go out in few
        large batches rather than one small batch per call (each costs a request), and none waits unsigned
        for longer than one backoff delay (``Backoff.ceiling``, 5 min by default)."""
        head = self.outbox.next_batch()
        wait = _due(head) if head is not None else None
        if head is not None and wait is not None and wait > self.clock.now():
            self.outbox.seal(full_only=True)
            return SyncReport(0, 0, False, wait, f"waiting to retry after: {head.last_error}")
        self.outbox.seal()
        sent = refused = 0
        while (batch := self.outbox.next_batch()) is not None:
            wait = _due(batch)
            if wait is not None and wait > self.clock.now():  # a batch resealed after a 413 keeps no wait
                return SyncReport(sent, refused, False, wait, f"waiting to retry after: {batch.last_error}")
            outcome = self._send(batch)
            if isinstance(outcome, SyncReport):
                return SyncReport(sent, refused, False, outcome.next_attempt_at, outcome.error)
            sent, refused = sent + outcome[0], refused + outcome[1]
        return SyncReport(sent, refused)

    def _send(self, batch: Batch) -> tuple[int, int] | SyncReport:
        try:
            receipts = self.api.submit_encoded(batch.body)
        except ApiUnreachable as exc:
            return self._retry(batch, f"server unreachable: {exc}")
        except ApiError as exc:
            return self._refused(batch, exc)
        if tuple(r.event_id for r in receipts) != batch.event_ids:
            return self._retry(batch, f"receipts of batch {batch.id} do not name its events in order")
        self.outbox.mark_sent(batch, [r.leaf_index for r in receipts])
        return len(receipts), 0

    def _refused(self, batch: Batch, exc: ApiError) -> tuple[int, int] | SyncReport:
        if exc.status >= 500 or exc.status in _TEMPORARY:
            return self._retry(batch, str(exc))
        if exc.status == 413 and len(batch.event_ids) > 1:
            _log.warning("batch %s of %d events is too large for the server; signing it again in halves",
                         batch.id, len(batch.event_ids))
            self.outbox.reseal_smaller(batch)
            self.outbox.seal()
            return 0, 0
        _log.error("the server refused batch %s (%d events) for good: %s; it is kept in %s",
                   batch.id, len(batch.event_ids), exc, self.outbox.path)
        self.outbox.mark_refused(batch, f"{exc.status}: {exc.detail or exc.title}")
        return 0, len(batch.event_ids)

    def _retry(self, batch: Batch, error: str) -> SyncReport:
        at = self.clock.now() + self.backoff.delay(batch.attempts + 1)
        self.outbox.mark_failed(batch, error, rfc3339(at))
        _log.warning("batch %s not sent (attempt %d): %s; next attempt at %s", batch.id, batch.attempts + 1, error,
                     rfc3339(at))
        return SyncReport(done=False, next_attempt_at=at, error=error)


def _due(batch: Batch) -> datetime | None:
    return datetime.fromisoformat(batch.next_attempt_at) if batch.next_attempt_at else None
