"""The anchorer: anchors the log's newest checkpoint to every backend, each on its own worker thread.

Per backend, one round (``ledger.anchors.base`` has the stages):

1. On the first round, reconcile: receipts the backend holds for trees the anchors table has not recorded
   as anchored (a crash between the backend's commit and the table's update) are checked against the
   log's roots and recorded. A receipt whose root differs from the log's stops this backend: the log was
   rewritten, or the backend belongs to another log.
2. If a transaction of this backend is pending in the table, it is sent again if this process has not
   sent it (idempotent per tx id), then its status is read: anchored, still in flight, or failed.
3. Otherwise, if the newest checkpoint is larger than the last anchored tree, a transaction is prepared
   with the consistency proof from that tree, recorded as pending (tx id first), sent, and checked. When
   ``milestones`` names a checkpoint between the two (a day-end checkpoint, ``ledger.dayend``), that one
   is anchored first, so every backend holds the same (size, root) for it.

A status that cannot be read (``AnchorStatusError``) makes the next round send the transaction again
(backends take a resubmission of one tx id as a no-op); a transaction that can never commit
(``AnchorCommitError``) is recorded as failed and the backend is reconciled again before anchoring anew.

A backend that fails backs off exponentially (capped) on its own, so a slow or failing chain never delays
another backend, and catches up with one anchor of the newest checkpoint, since consistency proofs span any
gap. Intake never waits for anchoring.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from ledger.anchors.base import Anchor, AnchorReceipt, AnchorRequest, PendingAnchor
from ledger.anchors.book import ANCHORED, AnchorBook
from ledger.checkpoint import SignedCheckpoint
from ledger.clock import Clock
from ledger.errors import AnchorCommitError, AnchorError, AnchorStatusError, LedgerError, ProofError
from ledger.log import TransparencyLog

__all__ = ["Anchorer", "Milestones"]

Milestones = Callable[[int | None, SignedCheckpoint], SignedCheckpoint | None]
"""(last anchored size or None, checkpoint about to be anchored) → a checkpoint to anchor before it, or None."""

_log = logging.getLogger(__name__)


class Anchorer:
    """Anchors ``log``'s newest checkpoint to ``backends``, each on its own thread, every ``interval``
    seconds; a failing backend waits up to ``max_backoff`` seconds between tries. ``clock`` stamps the
    anchors table; ``shutdown_timeout`` bounds how long ``close`` waits for a stuck backend; ``milestones``
    names checkpoints every backend must anchor on its way to newer ones (``ledger.dayend``)."""

    def __init__(self, log: TransparencyLog, backends: Sequence[Anchor], *, interval: float = 1.0,
                 max_backoff: float = 30.0, clock: Clock | None = None, shutdown_timeout: float = 10.0,
                 milestones: Milestones | None = None) -> None:
        self.log, self.backends = log, list(backends)
        self.book = AnchorBook(log.engine, clock=clock or Clock())
        self._workers = [_Worker(log, self.book, b, interval=interval, max_backoff=max_backoff, milestones=milestones)
                         for b in backends]
        self._shutdown_timeout = shutdown_timeout
        self._started = False

    def start(self) -> None:
        """Start one worker thread per backend (idempotent)."""
        if not self._started:
            self._started = True
            for worker in self._workers:
                worker.start()

    def close(self) -> None:
        """Stop the workers after one last round each (which anchors the log's final checkpoint)."""
        if not self._started:
            self.run_once()
            return
        for worker in self._workers:
            worker.stop()
        for worker in self._workers:
            worker.join(self._shutdown_timeout)
        self._started = False

    def run_once(self) -> list[AnchorReceipt]:
        """One round of every backend in the calling thread, failures logged; the receipts made."""
        receipts = [worker.round() for worker in self._workers]
        return [r for r in receipts if r is not None]


class _Worker:
    """One backend's rounds, on its own thread, with its own backoff."""

    def __init__(self, log: TransparencyLog, book: AnchorBook, backend: Anchor, *, interval: float,
                 max_backoff: float, milestones: Milestones | None) -> None:
        self.log, self.book, self.backend, self._milestones = log, book, backend, milestones
        self._interval, self._max_backoff = interval, max_backoff
        self._lock = threading.Lock()  # run_once and the thread never run a round of one backend at once
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._reconciled, self._failures = False, 0
        self._sent: set[str] = set()  # tx ids submitted by this process

    def start(self) -> None:
        """Run rounds on a thread of its own until ``stop``."""
        self._thread = threading.Thread(target=self._run, name=f"tiezheng-anchor-{self.backend.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to finish after one last round."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the thread; a backend stuck in a call is left behind (daemon)."""
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                _log.warning("anchor backend %s did not finish its last round within %.0f s; leaving it",
                             self.backend.name, timeout)
            self._thread = None

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            self.round()
            delay = self._delay()
        self.round()

    def _delay(self) -> float:
        return min(self._max_backoff, self._interval * 2 ** self._failures) if self._failures else self._interval

    def round(self) -> AnchorReceipt | None:
        """One round; a failure is logged and counted for the backoff, never raised."""
        try:
            with self._lock:
                receipt = self._step()
        except LedgerError as exc:
            self._failed(exc)
            return None
        except Exception as exc:  # noqa: BLE001 - a backend bug must not stop anchoring for good
            _log.exception("anchoring to %s failed unexpectedly", self.backend.name)
            self._failed(AnchorError(f"{self.backend.name}: unexpected failure: {exc}"))
            return None
        self._failures = 0
        return receipt

    def _failed(self, exc: LedgerError) -> None:
        self._failures += 1
        _log.warning("anchoring to %s failed (%s); retrying in %.1f s", self.backend.name, exc, self._delay())

    def _step(self) -> AnchorReceipt | None:
        if not self._reconciled:
            self._reconcile()
            self._reconciled = True
        pending = self.book.open_pending(self.backend.name) or self._prepare()
        return self._complete(pending) if pending is not None else None

    def _reconcile(self) -> None:
        last = self.book.last_anchored(self.backend.name)
        held = self.backend.recover(last.tree_size if last is not None else None)
        known = self.book.known_tx_ids(self.backend.name, [r.tx_id for r in held])
        for receipt in held:
            if known.get(receipt.tx_id) != ANCHORED:
                self._check_root(receipt.tree_size, receipt.root_hash)
                _log.warning("%s holds transaction %s (tree size %d) that the anchors table had not recorded as "
                             "anchored; recording it", self.backend.name, receipt.tx_id, receipt.tree_size)
                self.book.anchored(receipt)

    def _prepare(self) -> PendingAnchor | None:
        checkpoint = self.log.latest_checkpoint()
        last = self.book.last_anchored(self.backend.name)
        if checkpoint is None or (last is not None and last.tree_size >= checkpoint.checkpoint.tree_size):
            return None
        milestone = self._milestones(last.tree_size if last else None, checkpoint) if self._milestones else None
        checkpoint = milestone or checkpoint
        previous = None
        if last is not None:
            self._check_root(last.tree_size, last.root_hash)
            previous = last.tree_size
        proof = self.log.consistency_proof(previous or 0, checkpoint.checkpoint.tree_size)
        pending = self.backend.prepare(AnchorRequest(checkpoint, previous, proof))
        self.book.add_pending(pending)
        return pending

    def _complete(self, pending: PendingAnchor) -> AnchorReceipt | None:
        try:
            if pending.tx_id not in self._sent:
                self.backend.submit(pending)
                self._sent.add(pending.tx_id)
            receipt = self.backend.status(pending)
        except AnchorCommitError as exc:
            self.book.failed(pending, str(exc))
            self._reconciled = False  # the backend may hold more than the table knows: read it before anew
            raise
        except AnchorStatusError:
            self._sent.discard(pending.tx_id)  # it may never have arrived: send it again (idempotent per tx id)
            raise
        if receipt is not None:
            self.book.anchored(receipt)
        return receipt

    def _check_root(self, tree_size: int, root_hash: bytes) -> None:
        """Refuse to go on if the backend's anchored tree is not this log's tree of that size."""
        try:
            ours = self.log.root_at(tree_size)
        except ProofError as exc:
            raise AnchorError(f"{self.backend.name}: holds an anchor of tree size {tree_size}, beyond the log; "
                              "it belongs to another log or the log lost data; refusing to anchor") from exc
        if ours != root_hash:
            raise AnchorError(f"{self.backend.name}: anchored root at size {tree_size} differs from the log's: "
                              "the log was rewritten; refusing to anchor")
