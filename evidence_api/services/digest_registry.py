"""The daily digests' hashes on the EVM registry (``recordDigest``), staged like anchors (docs/formats.md,
"Regulator digest", ``registry``).

Per stored digest, one row's three columns carry the stages:

1. ``registry_pending``: the signed ``recordDigest(tenant, date, digest hash)`` transaction
   (``ledger.evm.PendingDigest``), written before it is sent, so after a restart the very same transaction
   (same nonce, same hash) is sent again;
2. sent (idempotent), then its status read each round until it is mined and confirmed;
3. ``registry_receipt``: the receipt (``ledger.evm.DigestReceipt``), served as the digest's ``registry``
   record with status ``recorded`` and checked offline by ``tiezheng digest verify``.

A transaction the node dropped or whose nonce another took is signed anew (the transactor bumps the fees of
a dropped nonce). A revert because the registry already holds a digest for that tenant and date is
resolved by reading the chain: the same hash is recorded (a crash lost track of its receipt; the receipt
is read back), another hash is ``registry_error`` (final; an operator must look). The node being down
backs the job off (doubling, capped) and never touches intake or the digest build, which run on their own
threads and write nothing of this.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import date
from typing import Any

from sqlalchemy import Engine, select, update

from evidence_api import db
from ledger.errors import EvmTransactionError, EvmUnavailable
from ledger.evm import DigestReceipt, DigestRecorder, PendingDigest

__all__ = ["DigestRegistry"]

_log = logging.getLogger(__name__)
_ALREADY = "digest already recorded for this date"
_BATCH = 32


class DigestRegistry:
    """Records the hash of every stored digest on the registry behind ``recorder``; ``from_block`` is the
    registry's deployment block (where a lost receipt is looked for); a failing node is retried after
    ``backoff`` seconds, doubling up to ``max_backoff``."""

    def __init__(self, engine: Engine, recorder: DigestRecorder, *, from_block: int = 0, backoff: float = 1.0,
                 max_backoff: float = 60.0) -> None:
        self._engine, self._recorder, self._from_block = engine, recorder, from_block
        self._backoff, self._max_backoff = backoff, max_backoff
        self._failures, self._retry_at = 0, 0.0
        self._sent: set[str] = set()  # tx hashes this process sent
        self._lock = threading.Lock()

    def run_once(self) -> int:
        """One round over the digests not yet recorded (at most 32); returns how many became ``recorded``.
        While backing off after a failure, does nothing. Never raises for the chain being down."""
        if time.monotonic() < self._retry_at:
            return 0
        with self._lock:
            try:
                done = sum(self._advance(row) for row in self._open_rows())
            except EvmUnavailable as exc:
                self._failures += 1
                delay = min(self._max_backoff, self._backoff * 2 ** (self._failures - 1))
                self._retry_at = time.monotonic() + delay
                _log.warning("digest registry: %s; retrying in %.0f s", exc, delay)
                return 0
        self._failures, self._retry_at = 0, 0.0
        return done

    # -- one digest ------------------------------------------------------------------------------
    def _advance(self, row: Any) -> bool:
        """Move one digest a stage on; True once it is recorded. Raises ``EvmUnavailable``."""
        if row.registry_pending is None:
            pending = self._prepare(row)
        else:
            pending = PendingDigest.from_json(json.loads(row.registry_pending))
        try:
            if pending.tx_hash not in self._sent:
                try:
                    self._recorder.submit(pending)
                except EvmTransactionError as exc:  # the node refused this signed transaction (nonce, fees)
                    return self._resign(row, pending, exc.reason)
                self._sent.add(pending.tx_hash)
            receipt = self._recorder.status(pending)
        except EvmTransactionError as exc:
            return self._refused(row, pending, exc)
        except EvmUnavailable:
            self._sent.discard(pending.tx_hash)  # it may never have arrived: send it again next time
            raise
        if receipt is None:
            return False
        self._store(row, registry_receipt=json.dumps(receipt.to_json()))
        _log.info("digest of %s for %s recorded on the registry in tx %s", row.day, row.tenant, receipt.tx_hash)
        return True

    def _prepare(self, row: Any) -> PendingDigest:
        body = json.loads(row.body)
        pending = self._recorder.prepare(bytes.fromhex(body["tenant"]), date.fromisoformat(row.day),
                                         bytes.fromhex(row.digest_hash))
        self._store(row, registry_pending=json.dumps(pending.to_json()))  # kept before it is sent
        return pending

    def _refused(self, row: Any, pending: PendingDigest, exc: EvmTransactionError) -> bool:
        """The chain will never mine ``pending``: record what it holds instead, or sign anew."""
        self._sent.discard(pending.tx_hash)
        if _ALREADY in exc.reason:
            return self._reconcile(row, pending)
        if exc.reason.startswith(("dropped", "superseded")):
            return self._resign(row, pending, exc.reason)
        self._store(row, registry_error=f"the registry refused tx {pending.tx_hash}: {exc.reason}")
        _log.error("digest registry: tx %s of %s %s refused for good: %s", pending.tx_hash, row.tenant, row.day,
                   exc.reason)
        return False

    def _resign(self, row: Any, pending: PendingDigest, reason: str) -> bool:
        """Forget ``pending``: the next round signs the digest anew, with a fresh nonce."""
        _log.warning("digest registry: tx %s of %s %s will not be mined (%s); signing it anew", pending.tx_hash,
                     row.tenant, row.day, reason)
        self._sent.discard(pending.tx_hash)
        self._store(row, registry_pending=None)
        return False

    def _reconcile(self, row: Any, pending: PendingDigest) -> bool:
        found: DigestReceipt | None = self._recorder.find(pending.tenant_hash, pending.day, from_block=self._from_block)
        if found is not None and found.digest == pending.digest:
            self._store(row, registry_receipt=json.dumps(found.to_json()))
            return True
        held = found.digest.hex() if found is not None else "an unreadable one"
        self._store(row, registry_error=f"the registry already holds digest {held} for this tenant and date, not "
                                        f"{pending.digest.hex()}: another writer with an operator key recorded it")
        return False

    # -- plumbing --------------------------------------------------------------------------------
    def _open_rows(self) -> list[Any]:
        d = db.digests.c
        query = (select(d.tenant, d.day, d.digest_hash, d.body, d.registry_pending)
                 .where(d.registry_receipt.is_(None), d.registry_error.is_(None))
                 .order_by(d.day, d.tenant).limit(_BATCH))
        with self._engine.connect() as conn:
            return list(conn.execute(query))

    def _store(self, row: Any, **values: str | None) -> None:
        d = db.digests.c
        with self._engine.begin() as conn:
            conn.execute(update(db.digests).where(d.tenant == row.tenant, d.day == row.day).values(**values))
