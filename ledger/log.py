"""``TransparencyLog``: durable batch append with receipts, checkpoints cut on a timer, and proofs.

One writer thread owns every write (group commit): submissions queue up, the writer takes all that are
waiting, checks them, appends them to the Merkle tree and commits them in one transaction, and only then
resolves their futures (``ledger.writer``; a submission whose commit hook fails is refused alone, the others
of its group commit). A receipt therefore always means "on disk". A crash before the commit loses only
unacknowledged submissions; the tree, the events and the tree size are committed together, so the log is
consistent with every checkpoint handed out before the crash.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from ledger import storage as db
from ledger.checkpoint import Checkpoint, SignedCheckpoint
from ledger.clock import Clock
from ledger.database import begin_write
from ledger.errors import LedgerError, ProofError, StorageError
from ledger.idindex import IdIndex, IdTuning
from ledger.merkle import Frontier, NodeId, consistency_proof, inclusion_proof, root_at, subtree_blocks
from ledger.reader import MAX_PAGE, FoldHead, LoggedEvent, LogReader
from ledger.recent import RecentHeads
from ledger.records import CommitHook, PreparedEvent, Receipt, Submission
from ledger.sm import Signer
from ledger.treetop import TOP_LEVEL, ProofStore, RightEdges, TreeTop, inclusion_path
from ledger.writer import GroupCommit

__all__ = ["CommitHook", "LoggedEvent", "PreparedEvent", "Receipt", "Submission", "TransparencyLog"]

_log = logging.getLogger(__name__)
_SETTLE_SECONDS = 5.0  # how long a clean stop waits for the event-id filter's background build (small logs: ms)
_ROOTS_KEPT = 4096  # remembered roots by tree size (≈ 0.5 MiB at most); the memo starts again when full


@dataclass
class _Job:
    submission: Submission
    future: Future[list[Receipt]] = field(default_factory=Future)


class TransparencyLog(LogReader):
    """The append-only evidence log over an engine whose schema is migrated; reads through ``LogReader``.

    ``signer`` signs checkpoints; ``origin`` names the log. ``checkpoint_interval`` (seconds) bounds how
    stale the newest checkpoint can be while events arrive; ``max_group`` bounds events per commit.
    ``top_level``: the subtrees of this level and above are held in memory for proofs (``ledger.treetop``).
    ``id_tuning``: sizes of the event-id index (``ledger.idindex.IdTuning``; tests make them small).
    """

    def __init__(
        self, engine: Engine, *, origin: str, signer: Signer,
        checkpoint_interval: float = 0.5, max_group: int = 20_000, clock: Clock | None = None,
        top_level: int = TOP_LEVEL, id_tuning: IdTuning | None = None,
    ) -> None:
        self.engine, self.origin, self.signer, self._clock = engine, origin, signer, clock or Clock()
        self._interval, self._max_group = checkpoint_interval, max_group
        self._queue: queue.Queue[_Job | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._latest: SignedCheckpoint | None = None
        self._last_cut = 0.0
        self._top, self._roots, self._edges = TreeTop(top_level), dict[int, bytes](), RightEdges()
        self._index = IdIndex(id_tuning)
        self._ids = self._index  # LogReader.event asks it first while this log's writer runs
        with engine.connect() as conn:
            size = db.read_tree_size(conn)
            self._frontier = Frontier.load(db.SqlNodeStore(conn), size)
            self._latest = self._read_latest_checkpoint(conn)
        self._recent = RecentHeads(size)  # heads_since from memory while this log's writer runs

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        """Load the event-id index into memory (``ledger.idindex``) and start the writer thread (idempotent)."""
        if self._thread is None:
            try:
                with self.engine.connect() as conn:
                    self._index.load(conn, engine=self.engine)
            except SQLAlchemyError as exc:
                raise StorageError(f"cannot load the event-id index, the log writer does not start: {exc}") from exc
            self._recent = RecentHeads(self._frontier.size)
            self._thread = threading.Thread(target=self._run, name="tiezheng-log-writer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Finish queued work, cut a last checkpoint, stop the writer, and save its event-id filter (so the next
        start need not read every id again; if saving fails, the next start rebuilds it)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
            self._index.unload()
            self._index.settle(_SETTLE_SECONDS)  # a filter still being built is saved too, if it is done by then
            try:
                with begin_write(self.engine) as conn:
                    self._index.save(conn)
            except SQLAlchemyError as exc:
                _log.warning("could not save the event-id filter; the next start rebuilds it: %s", exc)

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

    def heads_since(self, after_index: int, *, limit: int) -> list[FoldHead]:
        """``LogReader.heads_since`` (the reference, which reads the database), answered from the writer's
        memory of the newest events (``ledger.recent``) while this log's writer runs and holds them."""
        recent = self._recent.since(after_index, limit) if self._thread is not None and limit >= 1 else None
        if recent is None or after_index < -1 or limit > MAX_PAGE:
            return super().heads_since(after_index, limit=limit)  # its answer, or its refusal
        return recent

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
            elif self._index.merge_due:
                self._merge_idle()
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
        """Commit ``jobs`` in one transaction; each gets its receipts or the error that refused it alone."""
        try:
            with begin_write(self.engine) as conn:
                group = GroupCommit(conn, self._frontier.copy(), self._index)
                outcomes = [group.add(job.submission) for job in jobs]
                group.finish()
        except Exception as exc:  # noqa: BLE001 - the writer must outlive any failure, or intake hangs
            error = exc if isinstance(exc, LedgerError) else StorageError(f"commit failed, nothing written: {exc}")
            _log.error("group commit of %d submissions failed: %s", len(jobs), error,
                       exc_info=not isinstance(exc, LedgerError | SQLAlchemyError))
            for job in jobs:
                job.future.set_exception(error)
            return
        self._recent.extend(self._frontier.size, group.folds)  # before the size: whoever sees it finds them
        self._frontier = group.frontier
        group.committed()
        for job, outcome in zip(jobs, outcomes, strict=True):
            if isinstance(outcome, LedgerError):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _merge_idle(self) -> None:
        """One slice of the id index's due merge in a transaction of its own (nothing waits on the writer)."""
        try:
            with begin_write(self.engine) as conn:
                done = self._index.maintain(conn, self._frontier.size, 0)
        except SQLAlchemyError as exc:
            _log.error("event-id index merge step failed (tried again later): %s", exc)
            return
        self._index.committed((), done)

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
                tree_size=frontier.size, root_hash=root, text=signed.text, created_at=self._clock.stamp()))
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
    # Every proof reads the top of the tree (level >= ledger.treetop.TOP_LEVEL) from memory and the rest in one
    # query (``_read``); a tree size's root is remembered once computed (it never changes). The reference these
    # must match byte for byte is ``ledger.merkle`` over ``SqlNodeStore`` (tests/unit/ledger/test_treetop.py).
    def _check_size(self, tree_size: int) -> None:
        if tree_size > self._frontier.size:
            raise ProofError(f"tree size {tree_size} is beyond the log's size {self._frontier.size}")

    @contextmanager
    def _read(self, tree_size: int, extra: Iterable[NodeId] = ()) -> Iterator[ProofStore]:
        """A ``ProofStore`` on a fresh connection, with the top of the tree held up to ``tree_size``."""
        with self.engine.connect() as conn:
            self._top.catch_up(conn, tree_size)
            yield ProofStore(conn, self._top, extra=extra)

    def _root_of(self, store: ProofStore, tree_size: int) -> bytes:
        """The root of ``tree_size`` from the memo, the nodes ``store`` has read, or one more read of it."""
        root = self._roots.get(tree_size)
        if root is None:
            blocks = subtree_blocks(0, tree_size) if tree_size > 0 else []
            seen = store.seen
            root = root_at(_FixedNodes(seen) if all(b in seen for b in blocks) else store, tree_size)
            if len(self._roots) >= _ROOTS_KEPT:
                self._roots.clear()
            self._roots[tree_size] = root
        return root

    def _root_blocks(self, *sizes: int) -> list[NodeId]:
        """The blocks of the roots of ``sizes`` that are not remembered (read with a proof's nodes)."""
        return [b for size in sizes if size > 0 and size not in self._roots for b in subtree_blocks(0, size)]

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of ``leaf_index`` in the tree of ``tree_size`` leaves."""
        self._check_size(tree_size)
        with self._read(tree_size) as store:
            return inclusion_path(store, self._edges, leaf_index, tree_size)

    def inclusion_proofs(self, leaf_indices: Sequence[int], tree_size: int) -> list[list[bytes]]:
        """The audit paths of many leaves in the tree of ``tree_size`` leaves, from one batched read of the
        node store (an evidence pack proves thousands of events against one checkpoint)."""
        self._check_size(tree_size)
        wanted = _NodeRecorder()
        for index in leaf_indices:
            inclusion_proof(wanted, index, tree_size)
        with self._read(tree_size) as store:
            fixed = _FixedNodes(store.get_nodes(wanted.ids))
        return [inclusion_proof(fixed, index, tree_size) for index in leaf_indices]

    def prove_inclusion(self, leaf_index: int, tree_size: int) -> tuple[bytes, bytes, list[bytes]]:
        """(leaf hash, root hash, inclusion proof) for ``leaf_index`` in ``tree_size``, from one read."""
        self._check_size(tree_size)
        with self._read(tree_size, [(0, leaf_index), *self._root_blocks(tree_size)]) as store:
            proof = inclusion_path(store, self._edges, leaf_index, tree_size)
            leaf = store.seen.get((0, leaf_index))
            if leaf is None:
                raise ProofError(f"node store lacks the hash of leaf {leaf_index}")
            return leaf, self._root_of(store, tree_size), proof

    def prove_consistency(self, first: int, second: int) -> tuple[bytes, bytes, list[bytes]]:
        """(root of ``first``, root of ``second``, RFC 9162 consistency proof between them), from one read."""
        self._check_size(second)
        with self._read(second, self._root_blocks(first, second) if 0 <= first <= second else ()) as store:
            proof = consistency_proof(store, first, second)
            return self._root_of(store, first), self._root_of(store, second), proof

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes."""
        self._check_size(second)
        with self._read(second) as store:
            return consistency_proof(store, first, second)

    def root_at(self, tree_size: int) -> bytes:
        """Root hash of the tree of ``tree_size`` leaves."""
        self._check_size(tree_size)
        root = self._roots.get(tree_size)
        if root is not None:
            return root
        with self._read(tree_size) as store:
            return self._root_of(store, tree_size)


class _NodeRecorder:
    """A node reader that only records which nodes a proof asks for (every hash reads as zeros)."""

    def __init__(self) -> None:
        self.ids: set[NodeId] = set()

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        wanted = list(ids)
        self.ids.update(wanted)
        return dict.fromkeys(wanted, bytes(32))


class _FixedNodes:
    """A node reader over nodes read beforehand."""

    def __init__(self, nodes: Mapping[NodeId, bytes]) -> None:
        self._nodes = nodes

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        return {i: self._nodes[i] for i in ids if i in self._nodes}
