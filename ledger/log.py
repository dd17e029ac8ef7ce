"""``TransparencyLog``: durable batch append with receipts, checkpoints cut on a timer, and proofs.

One writer thread owns every write (group commit): submissions queue up, the writer takes all that are
waiting, checks them, appends them to the Merkle tree and commits them in one transaction, and only then
resolves their futures. A receipt therefore always means "on disk". A crash before the commit loses only
unacknowledged submissions; the tree, the events and the tree size are committed together, so the log is
consistent with every checkpoint handed out before the crash.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from ledger import storage as db
from ledger.canonical import canonical
from ledger.checkpoint import Checkpoint, SignedCheckpoint
from ledger.clock import rfc3339
from ledger.errors import DuplicateConflict, LedgerError, ProofError, StorageError
from ledger.events import LeafTemplate
from ledger.hashing import leaf_hash
from ledger.merkle import Frontier, consistency_proof, inclusion_proof, root_at
from ledger.reader import LoggedEvent, LogReader
from ledger.sm import Signer

__all__ = ["CommitHook", "LoggedEvent", "PreparedEvent", "Receipt", "Submission", "TransparencyLog", "utc_now"]

_log = logging.getLogger(__name__)


def utc_now() -> str:
    """The system clock as ``ledger.clock.rfc3339`` text (prefer an injected ``Clock``)."""
    return rfc3339(datetime.now(UTC))


@dataclass(frozen=True)
class PreparedEvent:
    """An event that passed every check that does not depend on the log: shape, signature, commitment.

    ``leaf`` is its canonical leaf but for ``prev``, which the writer fills in from the permit's chain.
    """

    event_id: str
    tenant: str
    kind: str
    permit: str | None
    key_id: str
    claim_hash: bytes
    leaf: LeafTemplate
    payload_sealed: bytes
    payload_key: bytes
    received_at: str
    flags: tuple[str, ...] = ()


CommitHook = Callable[[Connection, list["Receipt"]], None]
"""Writes that must commit together with a submission's new events: called inside the writer's transaction
with the receipts of the events that are new (never for a pure retry). A hook that raises rolls back its
whole group commit, so hooks only write rows their caller computed beforehand."""


@dataclass(frozen=True)
class Submission:
    """One request's events, appended all together or not at all; ``attestation`` for a signed batch.

    ``on_commit`` lets the service keep a projection (a permit's state) in the same transaction as the events
    that change it, so a crash can never leave one without the other.
    """

    events: Sequence[PreparedEvent]
    attestation: dict[str, Any] | None = None
    attestation_digest: bytes | None = None
    on_commit: CommitHook | None = None


@dataclass(frozen=True)
class Receipt:
    """Proof of acknowledgement: the event is durably in the log at ``leaf_index``."""

    event_id: str
    leaf_index: int
    leaf_hash: bytes
    received_at: str
    duplicate: bool = False

    def to_json(self) -> dict[str, Any]:
        """The receipt as the API returns it (hashes in hex)."""
        return {"event_id": self.event_id, "leaf_index": self.leaf_index, "leaf_hash": self.leaf_hash.hex(),
                "received_at": self.received_at, "duplicate": self.duplicate}


@dataclass
class _Job:
    submission: Submission
    future: Future[list[Receipt]] = field(default_factory=Future)


@dataclass
class _Group:
    """Rows staged by one group commit."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    attestations: list[dict[str, Any]] = field(default_factory=list)
    heads: dict[tuple[str, str], tuple[bytes, int]] = field(default_factory=dict)
    staged_ids: dict[str, Receipt] = field(default_factory=dict)
    staged_claims: dict[str, bytes] = field(default_factory=dict)
    nodes: list[tuple[int, bytes]] = field(default_factory=list)
    hooks: list[tuple[CommitHook, list[Receipt]]] = field(default_factory=list)


class TransparencyLog(LogReader):
    """The append-only evidence log over an engine whose schema is migrated; reads through ``LogReader``.

    ``signer`` signs checkpoints; ``origin`` names the log. ``checkpoint_interval`` (seconds) bounds how
    stale the newest checkpoint can be while events arrive; ``max_group`` bounds events per commit.
    """

    def __init__(
        self, engine: Engine, *, origin: str, signer: Signer,
        checkpoint_interval: float = 0.5, max_group: int = 20_000,
    ) -> None:
        self.engine, self.origin, self.signer = engine, origin, signer
        self._interval, self._max_group = checkpoint_interval, max_group
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._latest: SignedCheckpoint | None = None
        self._last_cut = 0.0
        with engine.connect() as conn:
            size = db.read_tree_size(conn)
            self._frontier = Frontier.load(db.SqlNodeStore(conn), size)
            self._latest = self._read_latest_checkpoint(conn)

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the writer thread (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tiezheng-log-writer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Finish queued work, cut a last checkpoint, stop the writer."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # -- writing ---------------------------------------------------------------------------------
    def submit_nowait(self, submission: Submission) -> Future[list[Receipt]]:
        """Queue a submission; the future resolves once it is committed (or fails with a ``LedgerError``)."""
        if self._thread is None:
            raise StorageError("log writer is not running: call start() first")
        job = _Job(submission)
        self._queue.put(job)
        return job.future

    def submit(self, submission: Submission, *, timeout: float | None = 60) -> list[Receipt]:
        """``submit_nowait`` and wait for the receipts."""
        return self.submit_nowait(submission).result(timeout=timeout)

    @property
    def tree_size(self) -> int:
        """Committed number of leaves."""
        return self._frontier.size

    def _run(self) -> None:
        stopping = False
        while not stopping:
            jobs, stopping = self._take_jobs()
            if jobs:
                self._commit_group(jobs)
            self._maybe_cut(force=stopping)

    def _take_jobs(self) -> tuple[list[_Job], bool]:
        try:
            first = self._queue.get(timeout=self._interval / 2)
        except queue.Empty:
            return [], False
        jobs: list[_Job] = []
        item: _Job | None = first
        count = 0
        while item is not None:
            jobs.append(item)
            count += len(item.submission.events)
            if count >= self._max_group:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return jobs, False
        return jobs, item is None

    def _commit_group(self, jobs: list[_Job]) -> None:
        frontier, group = self._frontier.copy(), _Group()
        outcomes: list[list[Receipt] | LedgerError] = []
        try:
            with self.engine.begin() as conn:
                for job in jobs:
                    outcomes.append(self._stage(conn, job.submission, frontier, group))
                self._write(conn, frontier, group)
        except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure, or intake hangs
            error = exc if isinstance(exc, LedgerError) else StorageError(f"commit failed, nothing written: {exc}")
            _log.error("group commit of %d submissions failed: %s", len(jobs), error,
                       exc_info=not isinstance(exc, LedgerError | SQLAlchemyError))
            for job in jobs:
                job.future.set_exception(error)
            return
        self._frontier = frontier
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _stage(self, conn: Connection, sub: Submission, frontier: Frontier, group: _Group) -> list[Receipt] | LedgerError:
        """Check one submission against the log and stage its rows; nothing is staged if it fails."""
        try:
            existing = self._existing(conn, sub, group)
        except DuplicateConflict as exc:
            return exc
        fresh, seen = [], set(existing)
        for p in sub.events:
            if p.event_id not in seen:
                seen.add(p.event_id)
                fresh.append(p)
        self._load_heads(conn, fresh, group)
        leaves = [self._leaf(p, group, frontier.size + i) for i, p in enumerate(fresh)]
        first = frontier.size
        new_nodes = frontier.append(digest for _, digest in leaves)
        receipts = self._stage_rows(fresh, leaves, first, sub, group)
        group.nodes.extend((db.node_key(node), digest) for node, digest in new_nodes)
        if sub.on_commit is not None and receipts:
            group.hooks.append((sub.on_commit, receipts))
        by_id = {r.event_id: r for r in receipts} | existing
        return [by_id[p.event_id] for p in sub.events]

    def _existing(self, conn: Connection, sub: Submission, group: _Group) -> dict[str, Receipt]:
        """Receipts of events already logged (idempotent retry); ``DuplicateConflict`` if content differs."""
        claims: dict[str, bytes] = {}
        for p in sub.events:
            earlier = claims.setdefault(p.event_id, p.claim_hash)
            if earlier != p.claim_hash:
                raise DuplicateConflict(f"event_id {p.event_id} appears twice in the batch with different content")
        rows = conn.execute(
            select(db.events.c.event_id, db.events.c.claim_hash, db.events.c.leaf_index,
                   db.events.c.leaf_hash, db.events.c.received_at).where(db.events.c.event_id.in_(claims))
        ).all()
        known = {r.event_id: (bytes(r.claim_hash), Receipt(r.event_id, r.leaf_index, bytes(r.leaf_hash), r.received_at))
                 for r in rows}
        known |= {eid: (group.staged_claims[eid], rec) for eid, rec in group.staged_ids.items() if eid in claims}
        for event_id, (stored_claim, _) in known.items():
            if stored_claim != claims[event_id]:
                raise DuplicateConflict(f"event_id {event_id} is already logged with different content")
        return {eid: replace(receipt, duplicate=True) for eid, (_, receipt) in known.items()}

    def _load_heads(self, conn: Connection, fresh: Sequence[PreparedEvent], group: _Group) -> None:
        wanted = {(p.tenant, p.permit) for p in fresh if p.permit is not None}
        wanted = {k for k in wanted if k not in group.heads}
        if not wanted:
            return
        heads = db.permit_heads.c
        rows = conn.execute(select(heads.tenant, heads.permit, heads.leaf_hash, heads.leaf_index)
                            .where(tuple_(heads.tenant, heads.permit).in_(sorted(wanted))))
        for row in rows:
            group.heads[(row.tenant, row.permit)] = (bytes(row.leaf_hash), row.leaf_index)

    def _leaf(self, p: PreparedEvent, group: _Group, index: int) -> tuple[bytes, bytes]:
        """(leaf bytes, leaf hash) of ``p`` at ``index``: links it to its permit's chain and advances the chain."""
        head = group.heads.get((p.tenant, p.permit)) if p.permit is not None else None
        leaf = p.leaf.fill(head[0] if head else None)
        digest = leaf_hash(leaf)
        if p.permit is not None:
            group.heads[(p.tenant, p.permit)] = (digest, index)
        return leaf, digest

    def _stage_rows(self, fresh: Sequence[PreparedEvent], leaves: Sequence[tuple[bytes, bytes]],
                    first: int, sub: Submission, group: _Group) -> list[Receipt]:
        receipts = []
        for index, (p, (leaf, digest)) in enumerate(zip(fresh, leaves, strict=True), start=first):
            receipt = Receipt(p.event_id, index, digest, p.received_at)
            receipts.append(receipt)
            group.staged_ids[receipt.event_id] = receipt
            group.staged_claims[receipt.event_id] = p.claim_hash
            group.events.append((
                index, p.event_id, p.tenant, p.kind, p.permit, p.key_id,
                p.claim_hash, digest, leaf, p.payload_sealed, p.payload_key, sub.attestation_digest,
                p.received_at, ",".join(p.flags),
            ))
        if fresh and sub.attestation is not None and sub.attestation_digest is not None:
            group.attestations.append({"digest": sub.attestation_digest, "tenant": fresh[0].tenant,
                                       "body": canonical(sub.attestation)})
        return receipts

    def _write(self, conn: Connection, frontier: Frontier, group: _Group) -> None:
        if not group.events:
            return
        db.insert_rows(conn, db.events, group.events)
        db.insert_rows(conn, db.merkle_nodes, group.nodes)
        if group.attestations:
            known = set(conn.execute(select(db.attestations.c.digest).where(
                db.attestations.c.digest.in_([a["digest"] for a in group.attestations]))).scalars())
            rows = {a["digest"]: a for a in group.attestations if a["digest"] not in known}
            if rows:
                conn.execute(insert(db.attestations), list(rows.values()))
        self._upsert_heads(conn, group.heads)
        for hook, receipts in group.hooks:
            hook(conn, receipts)
        updated = conn.execute(update(db.log_state).where(db.log_state.c.id == 1).values(tree_size=frontier.size))
        if updated.rowcount == 0:
            conn.execute(insert(db.log_state).values(id=1, tree_size=frontier.size))

    def _upsert_heads(self, conn: Connection, heads: dict[tuple[str, str], tuple[bytes, int]]) -> None:
        if not heads:
            return
        rows = [{"tenant": t, "permit": p, "leaf_hash": h, "leaf_index": i} for (t, p), (h, i) in heads.items()]
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(db.permit_heads)
        stmt = stmt.on_conflict_do_update(
            index_elements=["tenant", "permit"],
            set_={"leaf_hash": stmt.excluded.leaf_hash, "leaf_index": stmt.excluded.leaf_index},
        )
        conn.execute(stmt, rows)

    # -- checkpoints -----------------------------------------------------------------------------
    def _maybe_cut(self, *, force: bool = False) -> None:
        latest_size = self._latest.checkpoint.tree_size if self._latest else 0
        due = time.monotonic() - self._last_cut >= self._interval
        if self._frontier.size > latest_size and (due or force):
            try:
                self.cut_checkpoint()
            except (SQLAlchemyError, LedgerError) as exc:
                _log.error("could not cut a checkpoint at size %d: %s", self._frontier.size, exc)

    def cut_checkpoint(self) -> SignedCheckpoint:
        """Sign and store a checkpoint of the committed tree (call from the writer, or before ``start``)."""
        frontier = self._frontier
        root = frontier.root()
        signed = Checkpoint(self.origin, frontier.size, root).sign(self.signer)
        with self.engine.begin() as conn:
            conn.execute(insert(db.checkpoints).values(
                tree_size=frontier.size, root_hash=root, text=signed.text, created_at=utc_now()))
        self._latest, self._last_cut = signed, time.monotonic()
        return signed

    def latest_checkpoint(self) -> SignedCheckpoint | None:
        """The newest checkpoint handed out (None before the first event)."""
        return self._latest

    def checkpoint_at(self, tree_size: int) -> SignedCheckpoint | None:
        """The stored checkpoint of exactly ``tree_size`` leaves, if one was cut."""
        with self.engine.connect() as conn:
            text = conn.execute(select(db.checkpoints.c.text).where(db.checkpoints.c.tree_size == tree_size)).scalar()
        return SignedCheckpoint.from_text(text) if text else None

    def _read_latest_checkpoint(self, conn: Connection) -> SignedCheckpoint | None:
        text = conn.execute(select(db.checkpoints.c.text).order_by(db.checkpoints.c.tree_size.desc()).limit(1)).scalar()
        return SignedCheckpoint.from_text(text) if text else None

    # -- proofs ----------------------------------------------------------------------------------
    def _check_size(self, tree_size: int) -> None:
        if tree_size > self._frontier.size:
            raise ProofError(f"tree size {tree_size} is beyond the log's size {self._frontier.size}")

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of ``leaf_index`` in the tree of ``tree_size`` leaves."""
        self._check_size(tree_size)
        with self.engine.connect() as conn:
            return inclusion_proof(db.SqlNodeStore(conn), leaf_index, tree_size)

    def prove_inclusion(self, leaf_index: int, tree_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(leaf hash, root hash, inclusion proof) for ``leaf_index`` in ``tree_size``, on one connection."""
        self._check_size(tree_size)
        with self.engine.connect() as conn:
            store = db.SqlNodeStore(conn)
            proof = inclusion_proof(store, leaf_index, tree_size)
            leaf = store.get_nodes([(0, leaf_index)])[(0, leaf_index)]
            frontier = self._frontier
            root = frontier.root() if tree_size == frontier.size else root_at(store, tree_size)
        return leaf, root, proof

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""
        self._check_size(second)
        with self.engine.connect() as conn:
            return consistency_proof(db.SqlNodeStore(conn), first, second)

    def root_at(self, tree_size: int) -> bytes:
        """Root hash of the tree of ``tree_size`` leaves."""
        self._check_size(tree_size)
        with self.engine.connect() as conn:
            return root_at(db.SqlNodeStore(conn), tree_size)
