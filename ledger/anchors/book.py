"""``AnchorBook``: the ``anchors`` table, the one source of truth for anchor receipts.

A row per backend transaction: ``pending`` (tx id and the prepared transaction, written before it is
sent), then ``anchored`` (with the receipt served in ``/v1/log/anchors`` and bundles) or ``failed`` (with
the reason; the anchorer then anchors anew). Readers see ``anchored`` rows only (``ledger.reader``).
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ledger import storage as db
from ledger.anchors.base import AnchorReceipt, PendingAnchor
from ledger.clock import Clock
from ledger.errors import StorageError

__all__ = ["ANCHORED", "FAILED", "PENDING", "AnchorBook"]

PENDING, ANCHORED, FAILED = "pending", "anchored", "failed"


class AnchorBook:
    """The anchors table over ``engine``; ``clock`` stamps the rows. Raises ``StorageError`` on a database
    failure (the anchorer retries)."""

    def __init__(self, engine: Engine, *, clock: Clock) -> None:
        self._engine, self._clock = engine, clock

    def last_anchored(self, backend: str) -> AnchorReceipt | None:
        """The receipt of the largest tree ``backend`` anchored, or None."""
        a = db.anchors.c
        row = self._one(select(a.tx_id, a.receipt).where(a.backend == backend, a.status == ANCHORED)
                        .order_by(a.tree_size.desc()).limit(1))
        return _receipt(backend, row.tx_id, row.receipt) if row is not None else None

    def open_pending(self, backend: str) -> PendingAnchor | None:
        """The oldest transaction of ``backend`` still pending, or None."""
        a = db.anchors.c
        row = self._one(select(a.pending).where(a.backend == backend, a.status == PENDING).order_by(a.id).limit(1))
        return PendingAnchor.from_json(json.loads(row.pending)) if row is not None else None

    def known_tx_ids(self, backend: str, tx_ids: list[str]) -> dict[str, str]:
        """For those of ``tx_ids`` that have a row, its status."""
        a = db.anchors.c
        query = select(a.tx_id, a.status).where(a.backend == backend, a.tx_id.in_(tx_ids))
        return {r.tx_id: r.status for r in self._all(query)} if tx_ids else {}

    def add_pending(self, pending: PendingAnchor) -> None:
        """Record ``pending`` before it is sent."""
        now = self._clock.stamp()
        self._run(insert(db.anchors).values(
            backend=pending.backend, tree_size=pending.tree_size, tx_id=pending.tx_id, status=PENDING,
            pending=json.dumps(pending.to_json(), ensure_ascii=False), created_at=now, updated_at=now))

    def anchored(self, receipt: AnchorReceipt) -> None:
        """Record ``receipt``: its pending row becomes anchored, or a row is added (found by reconciling)."""
        a, now = db.anchors.c, self._clock.stamp()
        values = {"status": ANCHORED, "receipt": json.dumps(receipt.to_json(), ensure_ascii=False), "updated_at": now}
        try:
            with self._engine.begin() as conn:
                done = conn.execute(update(db.anchors).where(a.backend == receipt.backend, a.tx_id == receipt.tx_id)
                                    .values(**values))
                if done.rowcount == 0:
                    conn.execute(insert(db.anchors).values(backend=receipt.backend, tree_size=receipt.tree_size,
                                                           tx_id=receipt.tx_id, created_at=now, **values))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot write the anchors table: {exc}") from exc

    def failed(self, pending: PendingAnchor, reason: str) -> None:
        """Record that ``pending`` will never commit, and why."""
        a = db.anchors.c
        self._run(update(db.anchors).where(a.backend == pending.backend, a.tx_id == pending.tx_id)
                  .values(status=FAILED, error=reason, updated_at=self._clock.stamp()))

    def rows(self, backend: str) -> list[dict[str, Any]]:
        """Every row of ``backend`` (tx id, tree size, status, error), oldest first: for operators and tests."""
        a = db.anchors.c
        query = select(a.tx_id, a.tree_size, a.status, a.error).where(a.backend == backend).order_by(a.id)
        return [dict(r._mapping) for r in self._all(query)]

    # -- plumbing --------------------------------------------------------------------------------
    def _one(self, query: Any) -> Any:
        rows = self._all(query)
        return rows[0] if rows else None

    def _all(self, query: Any) -> list[Any]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(query))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot read the anchors table: {exc}") from exc

    def _run(self, statement: Any) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(statement)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot write the anchors table: {exc}") from exc


def _receipt(backend: str, tx_id: str, text: str) -> AnchorReceipt:
    data = json.loads(text)
    body = {k: v for k, v in data.items() if k not in ("backend", "tree_size", "root_hash")}
    return AnchorReceipt(backend, data["tree_size"], bytes.fromhex(data["root_hash"]), tx_id, body)
