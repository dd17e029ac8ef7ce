"""The anchorer: hands the newest checkpoint, with the consistency proof from each backend's last anchored
checkpoint, to every configured backend, on its own thread.

Intake never waits for it. A backend that fails is retried with exponential backoff (capped) and catches up
with one anchor of the newest checkpoint, since consistency proofs span any gap.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from ledger import storage as db
from ledger.anchors.base import Anchor, AnchorReceipt, AnchorRequest
from ledger.errors import AnchorError, LedgerError
from ledger.log import TransparencyLog, utc_now

__all__ = ["Anchorer"]

_log = logging.getLogger(__name__)


class Anchorer:
    """Anchors ``log``'s newest checkpoint to ``backends`` every ``interval`` seconds."""

    def __init__(self, log: TransparencyLog, backends: Sequence[Anchor], *, interval: float = 1.0,
                 max_backoff: float = 30.0) -> None:
        self.log, self.backends = log, list(backends)
        self._interval, self._max_backoff = interval, max_backoff
        self._retry_at = {b.name: 0.0 for b in self.backends}
        self._failures = {b.name: 0 for b in self.backends}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start anchoring in the background."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="tiezheng-anchorer", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop after one last round."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.run_once()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.run_once()

    def run_once(self) -> list[AnchorReceipt]:
        """One round over every backend that is due; returns the receipts made."""
        checkpoint = self.log.latest_checkpoint()
        if checkpoint is None:
            return []
        receipts = []
        for backend in self.backends:
            if time.monotonic() < self._retry_at[backend.name]:
                continue
            try:
                receipt = self._anchor_one(backend)
            except LedgerError as exc:
                self._back_off(backend.name, exc)
                continue
            except Exception as exc:  # noqa: BLE001 - a backend bug must not stop anchoring for good
                _log.exception("anchoring to %s failed unexpectedly", backend.name)
                self._back_off(backend.name, AnchorError(f"unexpected failure: {exc}"))
                continue
            self._failures[backend.name] = 0
            if receipt is not None:
                receipts.append(receipt)
        return receipts

    def _anchor_one(self, backend: Anchor) -> AnchorReceipt | None:
        checkpoint = self.log.latest_checkpoint()
        assert checkpoint is not None
        size = checkpoint.checkpoint.tree_size
        last = backend.latest()
        if last is not None and last.tree_size >= size:
            return None
        if last is not None and self.log.root_at(last.tree_size) != last.root_hash:
            raise AnchorError(f"{backend.name}: anchored root at size {last.tree_size} differs from the log's: "
                              "the log was rewritten; refusing to anchor")
        previous = last.tree_size if last is not None else None
        proof = self.log.consistency_proof(previous or 0, size)
        receipt = backend.anchor(AnchorRequest(checkpoint, previous, proof))
        self._record(receipt)
        return receipt

    def _record(self, receipt: AnchorReceipt) -> None:
        row = {"backend": receipt.backend, "tree_size": receipt.tree_size,
               "receipt": json.dumps(receipt.to_json(), ensure_ascii=False), "created_at": utc_now()}
        try:
            with self.log.engine.begin() as conn:
                conn.execute(insert(db.anchors).values(**row))
        except IntegrityError:
            _log.info("anchor of size %d on %s already recorded", receipt.tree_size, receipt.backend)

    def _back_off(self, name: str, exc: LedgerError) -> None:
        self._failures[name] += 1
        delay = min(self._max_backoff, self._interval * 2 ** self._failures[name])
        self._retry_at[name] = time.monotonic() + delay
        _log.warning("anchoring to %s failed (%s); retrying in %.1f s", name, exc, delay)
