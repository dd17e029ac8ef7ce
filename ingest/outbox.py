"""The gateway's offline outbox: evidence events queue in a local SQLite file until the server has them.

A phone or edge box in a plant's dead zone keeps taking detector readings (and media metadata). Each one is
committed to this file before ``enqueue`` returns — SQLite in WAL mode with ``synchronous=FULL``, so the
commit is fsync'd and survives a power cut or ``kill -9`` — and nothing is ever deleted from it.
``seal`` groups unsealed items, in order, into batches with one SM2 attestation by the gateway's device key
each (docs/formats.md, "Batch-signed"), so what waits in the queue is already signed. ``OutboxSync``
(``ingest.outbox_sync``) sends the sealed batches in order; the server deduplicates by ``event_id``, so a
batch resent after a crash between the server's answer and our bookkeeping creates no duplicate.
Format of the file: docs/formats.md, "Gateway outbox".
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from ingest.signing import Actor, attest_batch, new_item
from ledger.clock import Clock

__all__ = ["Batch", "Outbox", "OutboxError", "OutboxStatus", "QueuedEvent"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, permit TEXT,
  body BLOB NOT NULL, enqueued_at TEXT NOT NULL, batch INTEGER, leaf_index INTEGER);
CREATE INDEX IF NOT EXISTS items_unsealed ON items (batch, seq);
CREATE TABLE IF NOT EXISTS batches (
  id INTEGER PRIMARY KEY, attestation BLOB NOT NULL, count INTEGER NOT NULL, sealed_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
  last_error TEXT, sent_at TEXT);
"""
_IDENTITY = ("tenant", "actor_type", "actor_id", "key_id")


class OutboxError(Exception):
    """The outbox file cannot be used (another gateway's file, unreadable, a batch in an impossible state)."""


@dataclass(frozen=True)
class QueuedEvent:
    """An event durably queued: its id and its position in the queue."""

    event_id: str
    seq: int


@dataclass(frozen=True)
class Batch:
    """A sealed batch: the ``POST /v1/events`` body, the event ids in order, and its retry state."""

    id: int
    event_ids: tuple[str, ...]
    body: bytes
    attempts: int
    next_attempt_at: str | None
    last_error: str | None = None


@dataclass(frozen=True)
class OutboxStatus:
    """How far the queue is: items waiting (unsealed or in unsent batches), sent, refused, and the last error."""

    queued: int
    unsealed: int
    sent: int
    refused: int
    batches_pending: int
    oldest_pending_at: str | None
    next_attempt_at: str | None
    last_error: str | None
    refusals: tuple[str, ...]

    @property
    def pending(self) -> int:
        """Items not yet acknowledged by the server (and not refused)."""
        return self.queued - self.sent - self.refused


class Outbox:
    """The queue in ``path`` for ``gateway`` (the device actor whose key signs each batch) of ``tenant``.

    ``max_batch`` events per attestation (keep it at or below the server's ``TIEZHENG_MAX_BATCH``).
    Thread-safe: the radio loop enqueues while the sync thread sends.
    """

    def __init__(self, path: Path, *, gateway: Actor, tenant: str, clock: Clock | None = None,
                 max_batch: int = 500) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.path, self.gateway, self.tenant = path, gateway, tenant
        self.clock, self.max_batch = clock or Clock(), max_batch
        self._lock = threading.Lock()
        self._db = _open(path)
        self._claim(path)

    def close(self) -> None:
        """Close the file (everything acknowledged is already on disk)."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One transaction; SQLite's errors (disk full, I/O error, a locked file) become ``OutboxError``."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise OutboxError(f"{self.path}: cannot write the outbox ({exc}); nothing of this change was "
                                  "stored: check the disk (space, permissions)") from exc

    def _claim(self, path: Path) -> None:
        mine = dict(zip(_IDENTITY, (self.tenant, self.gateway.type, self.gateway.id, self.gateway.key_id), strict=True))
        with self._write() as db:
            stored = dict(db.execute("SELECT key, value FROM meta").fetchall())
            if not stored:
                db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", list(mine.items()))
            elif any(stored.get(k) != v for k, v in mine.items()):
                raise OutboxError(f"{path} is the outbox of {stored.get('actor_id')!r} (key {stored.get('key_id')!r}, "
                                  f"tenant {stored.get('tenant')!r}), not of {self.gateway.id!r} ({self.gateway.key_id!r}, "
                                  f"{self.tenant!r}); use that gateway's folder or a new one")

    # -- queueing ----------------------------------------------------------------------------------
    def enqueue(self, kind: str, payload: Any, *, subject: Mapping[str, str] | None = None,
                occurred_at: str | None = None, location: Mapping[str, float] | None = None) -> QueuedEvent:
        """Queue one event of the gateway; durable (fsync'd) when this returns. ``occurred_at`` defaults to
        the gateway's clock now."""
        return self.enqueue_many([(kind, payload, subject, occurred_at, location)])[0]

    def enqueue_many(self, events: Sequence[tuple[str, Any, Mapping[str, str] | None, str | None,
                                                  Mapping[str, float] | None]]) -> list[QueuedEvent]:
        """Queue several events (kind, payload, subject, occurred_at, location) in one commit, in order."""
        now = self.clock.stamp()
        rows = []
        for kind, payload, subject, occurred_at, location in events:
            item = new_item(self.gateway, tenant=self.tenant, kind=kind, payload=payload, occurred_at=occurred_at or now,
                            subject=dict(subject or {}), location=dict(location) if location else None)
            rows.append((item["event"]["event_id"], kind, (subject or {}).get("permit"), orjson.dumps(item), now))
        with self._write() as db:
            queued = []
            for row in rows:
                cursor = db.execute("INSERT INTO items (event_id, kind, permit, body, enqueued_at) VALUES (?, ?, ?, ?, ?)", row)
                queued.append(QueuedEvent(row[0], int(cursor.lastrowid or 0)))
        return queued

    def seal(self, *, full_only: bool = False) -> int:
        """Sign unsealed items into batches of at most ``max_batch``, in queue order; the number sealed.
        ``full_only``: only full batches (while offline, so a long outage gives few large batches)."""
        sealed = 0
        while True:
            with self._write() as db:
                rows = db.execute("SELECT seq, body FROM items WHERE batch IS NULL ORDER BY seq LIMIT ?",
                                  (self.max_batch,)).fetchall()
                if not rows or (full_only and len(rows) < self.max_batch):
                    return sealed
                attestation = attest_batch(self.gateway, self.tenant, [orjson.loads(body) for _, body in rows])
                cursor = db.execute("INSERT INTO batches (attestation, count, sealed_at) VALUES (?, ?, ?)",
                                    (orjson.dumps(attestation), len(rows), self.clock.stamp()))
                db.executemany("UPDATE items SET batch = ? WHERE seq = ?", [(cursor.lastrowid, seq) for seq, _ in rows])
            sealed += 1

    # -- sending -----------------------------------------------------------------------------------
    def next_batch(self) -> Batch | None:
        """The oldest sealed batch the server has not acknowledged (nor refused), with its body."""
        with self._lock:
            row = self._db.execute("SELECT id, attestation, attempts, next_attempt_at, last_error FROM batches "
                                   "WHERE state = 'pending' ORDER BY id LIMIT 1").fetchone()
            if row is None:
                return None
            items = self._db.execute("SELECT event_id, body FROM items WHERE batch = ? ORDER BY seq", (row[0],)).fetchall()
        body = b'{"events":[' + b",".join(_blob(b) for _, b in items) + b'],"attestation":' + _blob(row[1]) + b"}"
        return Batch(row[0], tuple(e for e, _ in items), body, row[2], row[3], row[4])

    def mark_sent(self, batch: Batch, leaf_indexes: Sequence[int]) -> None:
        """Record the server's receipts for ``batch`` (leaf index per event, in order)."""
        with self._write() as db:
            db.executemany("UPDATE items SET leaf_index = ? WHERE event_id = ?",
                           list(zip(leaf_indexes, batch.event_ids, strict=True)))
            db.execute("UPDATE batches SET state = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
                       (self.clock.stamp(), batch.id))

    def mark_failed(self, batch: Batch, error: str, next_attempt_at: str) -> None:
        """Record a failed attempt (no answer, or a temporary refusal) and when to try again."""
        with self._write() as db:
            db.execute("UPDATE batches SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?",
                       (next_attempt_at, error, batch.id))

    def mark_refused(self, batch: Batch, reason: str) -> None:
        """Set ``batch`` aside for good: the server refused its content (kept in the file, shown by ``status``)."""
        with self._write() as db:
            db.execute("UPDATE batches SET state = 'refused', attempts = attempts + 1, last_error = ? WHERE id = ?",
                       (reason, batch.id))

    def reseal_smaller(self, batch: Batch) -> None:
        """Undo the sealing of ``batch`` (the server found it too large, so it stored none of it) and halve
        ``max_batch``; the next ``seal`` signs its items again in smaller batches."""
        if len(batch.event_ids) <= 1:
            raise OutboxError(f"batch {batch.id} of {len(batch.event_ids)} event(s) cannot be split further")
        with self._write() as db:
            db.execute("UPDATE items SET batch = NULL WHERE batch = ?", (batch.id,))
            db.execute("DELETE FROM batches WHERE id = ?", (batch.id,))
        self.max_batch = max(1, len(batch.event_ids) // 2)

    # -- reading -----------------------------------------------------------------------------------
    def status(self) -> OutboxStatus:
        """Counts and the latest error, for ``tiezheng gateway status``."""
        with self._lock:
            db = self._db
            queued, unsealed = db.execute("SELECT COUNT(*), COUNT(*) - COUNT(batch) FROM items").fetchone()
            by_state = dict(db.execute("SELECT b.state, COUNT(*) FROM items i JOIN batches b ON i.batch = b.id "
                                       "GROUP BY b.state").fetchall())
            pending = db.execute("SELECT COUNT(*), MIN(next_attempt_at) FROM batches WHERE state = 'pending'").fetchone()
            oldest = db.execute("SELECT MIN(i.enqueued_at) FROM items i LEFT JOIN batches b ON i.batch = b.id "
                                "WHERE b.state IS NULL OR b.state = 'pending'").fetchone()[0]
            error = db.execute("SELECT last_error FROM batches WHERE state = 'pending' AND last_error IS NOT NULL "
                               "ORDER BY id LIMIT 1").fetchone()
            refusals = [f"batch {i}: {e}" for i, e in db.execute(
                "SELECT id, last_error FROM batches WHERE state = 'refused' ORDER BY id").fetchall()]
        return OutboxStatus(queued=queued, unsealed=unsealed, sent=by_state.get("sent", 0),
                            refused=by_state.get("refused", 0), batches_pending=pending[0], oldest_pending_at=oldest,
                            next_attempt_at=pending[1], last_error=error[0] if error else None,
                            refusals=tuple(refusals))

    def event_ids(self) -> list[str]:
        """Every queued event id, in queue order."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT event_id FROM items ORDER BY seq")]


def _blob(value: bytes | str) -> bytes:
    """A stored body as bytes (an edit of the file with SQLite's text functions leaves text behind)."""
    return value if isinstance(value, bytes) else value.encode()


def _open(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
        if db.execute("PRAGMA journal_mode=WAL").fetchone()[0] != "wal":
            raise OutboxError(f"{path}: SQLite refused WAL mode (is it on a network file system?)")
        db.execute("PRAGMA synchronous=FULL")  # every commit fsyncs the WAL: an acknowledged enqueue is on disk
        db.executescript(_SCHEMA)
    except sqlite3.Error as exc:
        raise OutboxError(f"{path}: cannot open the outbox: {exc}") from exc
    return db
