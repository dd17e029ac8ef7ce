"""The log side of C2SP tlog-witness: a collector that sends each new checkpoint to the configured witnesses
and stores their cosignatures onto the checkpoint (table ``cosignatures``, docs/formats.md).

Per witness, on its own thread, every ``interval`` seconds while the log grew:

1. ``old`` is the largest tree this log holds a cosignature of from that witness (0 at first).
2. POST ``old``, the consistency proof from ``old`` to the newest checkpoint and the checkpoint.
3. 200: the answer's cosignature/v1 line by the witness's configured key is checked and stored.
   409 with ``text/x.tlog.size``: the witness holds another size (its state is newer than ours, e.g. after
   our database was restored): the request is sent once more from that size. A witness holding a tree
   larger than the log, or another root at the same size, has seen a fork: a ``split_view`` error, logged.
4. Any other failure backs off exponentially (capped) for that witness alone.

Intake never waits for witnesses; a checkpoint cosigned later covers every older one.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ledger import storage as db
from ledger.checkpoint import SignedCheckpoint
from ledger.clock import Clock
from ledger.cosignature import verify_line
from ledger.errors import (
    InvalidSignature,
    LedgerError,
    MalformedInput,
    ProofError,
    StorageError,
    WitnessError,
)
from ledger.httppost import HttpUnreachable, post
from ledger.log import TransparencyLog

__all__ = ["WitnessCollector", "WitnessEndpoint"]

_log = logging.getLogger(__name__)
_SIZE_TYPE = "text/x.tlog.size"


@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness to ask: its key ``name``, submission prefix ``url`` and Ed25519 ``public_key``."""

    name: str
    url: str
    public_key: Ed25519PublicKey


class WitnessCollector:
    """Collects cosignatures of ``log``'s checkpoints from ``witnesses``, each on its own thread."""

    def __init__(self, log: TransparencyLog, witnesses: Sequence[WitnessEndpoint], *, interval: float = 1.0,
                 max_backoff: float = 30.0, timeout: float = 10.0, clock: Clock | None = None) -> None:
        self._workers = [_Worker(log, w, interval=interval, max_backoff=max_backoff, timeout=timeout,
                                 clock=clock or Clock()) for w in witnesses]

    def start(self) -> None:
        """Start one thread per witness."""
        for worker in self._workers:
            worker.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the threads (each finishes its current request)."""
        for worker in self._workers:
            worker.stop(timeout)

    def run_once(self) -> dict[str, int | None]:
        """One round per witness in the calling thread: witness name -> tree size cosigned (None: none)."""
        return {worker.witness.name: worker.round() for worker in self._workers}


class _Worker:
    def __init__(self, log: TransparencyLog, witness: WitnessEndpoint, *, interval: float, max_backoff: float,
                 timeout: float, clock: Clock) -> None:
        self.log, self.witness, self._clock, self._timeout = log, witness, clock, timeout
        self._interval, self._max_backoff = interval, max_backoff
        self._stop, self._lock = threading.Event(), threading.Lock()
        self._thread: threading.Thread | None = None
        self._failures = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"tiezheng-witness-{self.witness.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.wait(delay):
            self.round()
            backoff = self._interval * 2 ** self._failures
            delay = min(self._max_backoff, backoff) if self._failures else self._interval

    def round(self) -> int | None:
        """Ask for a cosignature of the newest checkpoint if it has none; failures are logged, not raised."""
        try:
            with self._lock:
                size = self._step()
        except WitnessError as exc:
            self._failures += 1
            (_log.error if exc.split_view else _log.warning)("witness %s: %s", self.witness.name, exc)
            return None
        except LedgerError as exc:
            self._failures += 1
            _log.warning("witness %s: %s", self.witness.name, exc)
            return None
        self._failures = 0
        return size

    def _step(self) -> int | None:
        checkpoint = self.log.latest_checkpoint()
        old = self._last_cosigned()
        if checkpoint is None or checkpoint.checkpoint.tree_size <= old:
            return None
        answer = self._add(checkpoint, old)
        if answer is None:
            return None
        self._store(checkpoint, answer)
        return checkpoint.checkpoint.tree_size

    def _add(self, checkpoint: SignedCheckpoint, old: int) -> str | None:
        """POST add-checkpoint from ``old``; on a 409 naming another size, once more from that size."""
        size = checkpoint.checkpoint.tree_size
        for _ in range(2):
            try:
                proof = self.log.consistency_proof(old, size) if old else []
            except ProofError as exc:
                raise WitnessError(f"cannot prove consistency from size {old}: {exc}") from exc
            body = f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint.text
            try:
                answer = post(self.witness.url.rstrip("/") + "/add-checkpoint", body.encode(),
                              content_type="text/plain; charset=utf-8", timeout=self._timeout)
            except HttpUnreachable as exc:
                raise WitnessError(str(exc)) from exc
            if answer.status == 200:
                return answer.body.decode("utf-8", errors="replace")
            if answer.status == 422:
                raise WitnessError(f"it refused the consistency proof from size {old}: it holds another tree of "
                                   f"that size (a fork of origin {checkpoint.checkpoint.origin})", split_view=True)
            if answer.status != 409 or not answer.content_type.startswith(_SIZE_TYPE):
                raise WitnessError(f"answered HTTP {answer.status}: {answer.body[:300]!r}")
            held = _size(answer.body)
            if held > size or held == old:
                raise WitnessError(f"it cosigned a tree of size {held} that does not fit this log's checkpoint of "
                                   f"size {size} (a fork of origin {checkpoint.checkpoint.origin})", split_view=True)
            old = held
        raise WitnessError(f"its size kept changing (last {old}); retrying later")

    def _store(self, checkpoint: SignedCheckpoint, answer: str) -> None:
        body = checkpoint.checkpoint.body()
        for line in answer.splitlines(keepends=True):
            try:
                cosig = verify_line(line, body, name=self.witness.name, public=self.witness.public_key)
            except MalformedInput:
                continue  # another key's line: ignored, as C2SP requires
            except InvalidSignature as exc:
                raise WitnessError(f"its cosignature does not verify: {exc}") from exc
            self._insert(checkpoint, cosig.timestamp, cosig.line)
            return
        raise WitnessError(f"its answer has no cosignature by its configured key: {answer[:300]!r}")

    def _insert(self, checkpoint: SignedCheckpoint, timestamp: int, line: str) -> None:
        cp = checkpoint.checkpoint
        try:
            with self.log.engine.begin() as conn:
                conn.execute(insert(db.cosignatures).values(
                    witness=self.witness.name, tree_size=cp.tree_size, root_hash=cp.root_hash, timestamp=timestamp,
                    line=line, created_at=self._clock.stamp()))
        except IntegrityError:
            return  # cosigned twice (another process of this service): the first one stays
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot store the cosignature of {self.witness.name}: {exc}") from exc

    def _last_cosigned(self) -> int:
        co = db.cosignatures.c
        try:
            with self.log.engine.connect() as conn:
                size = conn.execute(select(func.max(co.tree_size)).where(co.witness == self.witness.name)).scalar()
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the cosignatures table: {exc}") from exc
        return int(size or 0)


def _size(body: bytes) -> int:
    text = body.decode("ascii", errors="replace").strip()
    if not text.isdigit() or len(text) > 20:
        raise WitnessError(f"answered 409 with a size that is not a number: {body[:60]!r}")
    return int(text)
