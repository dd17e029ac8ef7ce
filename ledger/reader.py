"""The log's read interface: logged events by id, by permit and in log order, attestations, anchors.

This is the only way into the log's tables from outside ``ledger`` (an import-linter contract and a test
enforce it; Trillian's personalities likewise read through ``LogStorage`` only). ``TransparencyLog``
inherits these methods; projectors follow the log with ``events_since`` and a cursor of their own.

Every read opens its own connection, so it sees committed rows only: an event is visible here once its
receipt has been handed out, never before. Leaf indices are assigned by the single writer and committed in
order, so ``events_since`` never skips an index that a later call would reveal.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Row, func, select

from ledger import storage as db
from ledger.checkpoint import SignedCheckpoint
from ledger.errors import MalformedInput
from ledger.idindex import IdIndex, leaves_with_key
from ledger.packing import unpack

__all__ = ["MAX_PAGE", "EventHead", "FoldHead", "LogReader", "LoggedEvent", "events_on"]

MAX_PAGE = 10_000
"""The most events one ``events_since``/``heads_since`` page may ask for."""
_MAX_PAGE = MAX_PAGE
_ANCHORED = "anchored"  # ledger.anchors.book.ANCHORED; rows still pending or failed are not receipts


@dataclass(frozen=True)
class LoggedEvent:
    """One committed event of the log, as stored.

    ``leaf`` is its canonical leaf (the bytes hashed into the tree: the event with ``received_at`` and
    ``prev``), ``leaf_hash`` its RFC 9162 leaf hash, ``claim_hash`` the hash that makes a retry idempotent.
    ``payload_sealed`` and ``payload_key`` are the SM4-sealed payload and its wrapped data key.
    ``attestation_digest`` names the signed batch it arrived in (``attestation()`` returns that body).
    The leaf is stored packed (``ledger.packing``) and unpacked when first read.
    """

    leaf_index: int
    event_id: str
    tenant: str
    kind: str
    permit: str | None
    key_id: str
    claim_hash: bytes
    stored_leaf: bytes = field(repr=False)
    leaf_hash: bytes
    received_at: str
    flags: tuple[str, ...]
    payload_sealed: bytes
    payload_key: bytes
    attestation_digest: bytes | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> LoggedEvent:
        """Build from a row of the ``events`` table (SQLite and PostgreSQL drivers return bytes-likes)."""
        return cls(
            leaf_index=row.leaf_index, event_id=row.event_id, tenant=row.tenant, kind=row.kind, permit=row.permit,
            key_id=row.key_id, claim_hash=bytes(row.claim_hash), stored_leaf=bytes(row.leaf),
            leaf_hash=bytes(row.leaf_hash),
            received_at=row.received_at, flags=db.decode_flags(row.flags),
            payload_sealed=bytes(row.payload_sealed), payload_key=bytes(row.payload_key),
            attestation_digest=bytes(row.attestation) if row.attestation is not None else None,
        )

    @cached_property
    def leaf(self) -> bytes:
        """The canonical leaf bytes (what ``leaf_hash`` is the RFC 9162 hash of)."""
        return unpack(self.stored_leaf)


def events_on(conn: Connection, after_index: int, until: int) -> list[LoggedEvent]:
    """The events with ``after_index < leaf_index <= until``, ascending, as ``conn`` sees them: for a commit
    hook (``Submission.on_commit``), whose connection is the log writer's, the rows staged in its transaction
    included. Everyone else reads committed rows through ``LogReader``."""
    e = db.events.c
    rows = conn.execute(select(db.events).where(e.leaf_index > after_index, e.leaf_index <= until)
                        .order_by(e.leaf_index))
    return [LoggedEvent.from_row(row) for row in rows]


@dataclass(frozen=True)
class EventHead:
    """What a count needs of a logged event, without its leaf or payload: index, id, kind, permit, leaf hash
    and the server's ``received_at``."""

    leaf_index: int
    event_id: str
    kind: str
    permit: str | None
    leaf_hash: bytes
    received_at: str


class FoldHead(NamedTuple):
    """What a projector needs of a logged event to tell whether it folds it (without reading its leaf or
    payload): its index, tenant, kind, permit and signing key."""

    leaf_index: int
    tenant: str
    kind: str
    permit: str | None
    key_id: str


class LogReader:
    """Reads of a log's committed state; mixed into ``TransparencyLog``, which supplies ``engine`` and proofs."""

    engine: Engine
    _ids: IdIndex | None = None  # the writer's id index when this reader is also the running writer

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 consistency proof between two tree sizes (implemented by the log)."""
        raise NotImplementedError

    def event(self, tenant: str, event_id: str) -> LoggedEvent | None:
        """The event ``event_id`` of ``tenant``, or None if that tenant logged no such event."""
        key, ids = db.event_key(tenant, event_id), self._ids
        with self.engine.connect() as conn:
            if ids is not None and ids.loaded:  # the writer's memory first, then the runs it may be in
                indices = sorted(i for hits in ids.leaves(conn, [key], in_writer=False).values() for i in hits)
            else:  # no writer here: the runs and a scan of the unmerged tail's rows
                indices = leaves_with_key(conn, key)
            rows = conn.execute(select(db.events).where(db.events.c.leaf_index.in_(indices))).all() if indices else []
            found = [row for row in rows if (row.tenant, row.event_id) == (tenant, event_id)]
        return LoggedEvent.from_row(found[0]) if found else None

    def permit_events(self, tenant: str, permit: str) -> list[LoggedEvent]:
        """Every event of ``tenant``'s permit ``permit``, in log order (the order of its ``prev`` chain)."""
        e = db.events.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.events).where(e.tenant == tenant, e.permit == permit).order_by(e.leaf_index))
            return [LoggedEvent.from_row(row) for row in rows]

    def events_since(self, after_index: int, *, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` committed events with ``leaf_index > after_index``, ascending, of every tenant.

        A projector keeps the last index it applied as its cursor and passes it back (``-1`` to start at
        the first leaf). Requires ``after_index >= -1`` and ``1 <= limit <= 10000``; ``MalformedInput``
        otherwise.
        """
        if after_index < -1 or not 1 <= limit <= _MAX_PAGE:
            raise MalformedInput(f"events_since needs after_index >= -1 and 1 <= limit <= {_MAX_PAGE}; "
                                 f"got after_index={after_index}, limit={limit}")
        e = db.events.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(db.events).where(e.leaf_index > after_index).order_by(e.leaf_index).limit(limit))
            return [LoggedEvent.from_row(row) for row in rows]

    def heads_since(self, after_index: int, *, limit: int) -> list[FoldHead]:
        """``events_since`` without leaf and payload: the ``FoldHead`` of up to ``limit`` committed events with
        ``leaf_index > after_index``, ascending; the same requirements (``MalformedInput`` otherwise)."""
        if after_index < -1 or not 1 <= limit <= _MAX_PAGE:
            raise MalformedInput(f"heads_since needs after_index >= -1 and 1 <= limit <= {_MAX_PAGE}; "
                                 f"got after_index={after_index}, limit={limit}")
        e = db.events.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(e.leaf_index, e.tenant, e.kind, e.permit, e.key_id)
                                .where(e.leaf_index > after_index).order_by(e.leaf_index).limit(limit))
            return [FoldHead(*row) for row in rows]

    def attestation(self, tenant: str, digest: bytes) -> dict[str, Any] | None:
        """The signed batch attestation ``digest`` of ``tenant`` (the JSON object it was), or None."""
        a = db.attestations.c
        with self.engine.connect() as conn:
            body = conn.execute(select(a.body).where(a.tenant == tenant, a.digest == digest)).scalar()
        if body is None:
            return None
        parsed: dict[str, Any] = json.loads(unpack(bytes(body)))
        return parsed

    def anchored_sizes(self) -> dict[str, int]:
        """For each anchor backend, the largest tree size it has anchored (a leaf ``i`` is anchored on
        backend ``b`` when ``anchored_sizes()[b] > i``)."""
        an = db.anchors.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(an.backend, func.max(an.tree_size)).where(an.status == _ANCHORED)
                                .group_by(an.backend))
            return {backend: int(size) for backend, size in rows}

    def anchor_receipts_covering(self, tree_size: int) -> list[dict[str, Any]]:
        """For each backend (by name), the first anchored receipt of a tree at least ``tree_size`` leaves big
        (pending and failed transactions are not receipts)."""
        an = db.anchors.c
        with self.engine.connect() as conn:
            backends = conn.execute(select(an.backend).where(an.status == _ANCHORED).distinct()
                                    .order_by(an.backend)).scalars().all()
            receipts = [conn.execute(select(an.receipt).where(an.backend == b, an.status == _ANCHORED,
                                                              an.tree_size >= tree_size)
                                     .order_by(an.tree_size).limit(1)).scalar() for b in backends]
        return [json.loads(receipt) for receipt in receipts if receipt is not None] + self.cosignatures_covering(tree_size)

    def cosignatures_covering(self, tree_size: int) -> list[dict[str, Any]]:
        """For each witness (by name), its first cosignature of a tree at least ``tree_size`` leaves big, as a
        receipt of kind ``cosignature/v1`` whose ``checkpoint`` is the cosigned note (docs/formats.md)."""
        co, cp = db.cosignatures.c, db.checkpoints.c
        with self.engine.connect() as conn:
            witnesses = conn.execute(select(co.witness).distinct().order_by(co.witness)).scalars().all()
            rows = [conn.execute(select(co.witness, co.tree_size, co.root_hash, co.timestamp, co.line, cp.text)
                                 .join(db.checkpoints, cp.tree_size == co.tree_size)
                                 .where(co.witness == w, co.tree_size >= tree_size)
                                 .order_by(co.tree_size).limit(1)).first() for w in witnesses]
        return [{"backend": "witness", "kind": "cosignature/v1", "witness": r.witness, "tree_size": int(r.tree_size),
                 "root_hash": bytes(r.root_hash).hex(), "timestamp": int(r.timestamp), "checkpoint": r.text + r.line}
                for r in rows if r is not None]

    def cosigned_checkpoint(self, tree_size: int) -> str | None:
        """The checkpoint of ``tree_size`` with every collected cosignature line appended, or None."""
        co, cp = db.cosignatures.c, db.checkpoints.c
        with self.engine.connect() as conn:
            text = conn.execute(select(cp.text).where(cp.tree_size == tree_size)).scalar()
            lines = conn.execute(select(co.line).where(co.tree_size == tree_size).order_by(co.witness)).scalars().all()
        return None if text is None else text + "".join(lines)

    def anchors_covering(self, tree_size: int) -> list[dict[str, Any]]:
        """``anchor_receipts_covering(tree_size)``, each receipt with ``consistency_proof``: the hex RFC 9162
        proof from ``tree_size`` to the anchored tree, so a verifier links its checkpoint to the anchor."""
        return [{**r, "consistency_proof": [h.hex() for h in self.consistency_proof(tree_size, r["tree_size"])]}
                for r in self.anchor_receipts_covering(tree_size)]

    def event_heads(self, tenant: str, start: int, end: int, *,
                    kinds: Collection[str] | None = None) -> list[EventHead]:
        """``tenant``'s events with ``start <= leaf_index < end`` (of ``kinds`` only, if given), ascending;
        no leaf bytes, no payloads. Requires ``0 <= start <= end``; ``MalformedInput`` otherwise."""
        e = db.events.c
        query = (select(e.leaf_index, e.event_id, e.kind, e.permit, e.leaf_hash, e.received_at)
                 .where(*self._range(tenant, start, end)).order_by(e.leaf_index))
        if kinds is not None:
            query = query.where(e.kind.in_(sorted(kinds)))
        with self.engine.connect() as conn:
            return [EventHead(i, event_id, kind, permit, bytes(leaf_hash), received)
                    for i, event_id, kind, permit, leaf_hash, received in conn.execute(query)]

    def event_count(self, tenant: str, start: int, end: int) -> int:
        """How many of ``tenant``'s events have ``start <= leaf_index < end``."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(db.events)
                                    .where(*self._range(tenant, start, end))).scalar_one())

    @staticmethod
    def _range(tenant: str, start: int, end: int) -> tuple[Any, ...]:
        if not 0 <= start <= end:
            raise MalformedInput(f"an event range needs 0 <= start <= end; got start={start}, end={end}")
        e = db.events.c
        return e.tenant == tenant, e.leaf_index >= start, e.leaf_index < end

    def checkpoint_before(self, stamp: str) -> SignedCheckpoint | None:
        """The last checkpoint cut before ``stamp`` (an ``rfc3339`` time), or None if none was."""
        c = db.checkpoints.c
        with self.engine.connect() as conn:
            text = conn.execute(select(c.text).where(c.created_at < stamp).order_by(c.tree_size.desc())
                                .limit(1)).scalar()
        return SignedCheckpoint.from_text(text) if text else None

    def checkpoint_created_after_size(self, tree_size: int) -> str | None:
        """When the first checkpoint larger than ``tree_size`` leaves was cut (``rfc3339``), or None."""
        c = db.checkpoints.c
        with self.engine.connect() as conn:
            stamp: str | None = conn.execute(select(c.created_at).where(c.tree_size > tree_size)
                                             .order_by(c.tree_size).limit(1)).scalar()
        return stamp

    def anchor_receipts_at(self, tree_size: int) -> dict[str, dict[str, Any]]:
        """Per backend, its anchored receipt of exactly ``tree_size`` leaves (backends without one are absent)."""
        an = db.anchors.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(an.backend, an.receipt).where(an.status == _ANCHORED,
                                                                     an.tree_size == tree_size))
            return {row.backend: json.loads(row.receipt) for row in rows}
