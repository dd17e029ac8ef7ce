"""The log writer stores a leaf packed by the intake worker (``LeafTemplate.packed``) byte for byte as it
stores one it packs itself, linked into the same ``prev`` chain, with the same leaf hash (SQLite, PostgreSQL).
"""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select

from ledger import storage as db
from ledger.log import Submission, TransparencyLog
from ledger.packing import pack_leaf, pack_template, unpack
from ledger.records import PreparedEvent
from tests.helpers import make_actor, prepared, signed_item


def _packed_in_worker(p: PreparedEvent) -> PreparedEvent:
    return replace(p, leaf=replace(p.leaf, packed=pack_template(p.leaf.head, p.leaf.tail)))


def test_worker_packed_and_writer_packed_leaves_are_stored_alike(log: TransparencyLog) -> None:
    actor = make_actor()
    events = [prepared(signed_item(actor, permit="P-1" if n % 3 else None, payload={"n": n})) for n in range(12)]
    mixed = [_packed_in_worker(p) if n % 2 else p for n, p in enumerate(events)]  # alternate, one chain

    receipts = log.submit(Submission(mixed))

    with log.engine.connect() as conn:
        rows = conn.execute(select(db.events.c.leaf_index, db.events.c.leaf, db.events.c.leaf_hash)
                            .order_by(db.events.c.leaf_index)).all()
    assert [r.leaf_index for r in rows] == [r.leaf_index for r in receipts]
    prev = None
    for p, row, receipt in zip(events, rows, receipts, strict=True):
        link = prev if p.permit is not None else None
        assert bytes(row.leaf) == pack_leaf(p.leaf.head, link, p.leaf.tail)  # the reference packing
        assert unpack(bytes(row.leaf)) == p.leaf.fill(link)
        assert bytes(row.leaf_hash) == receipt.leaf_hash
        if p.permit is not None:
            prev = receipt.leaf_hash


def test_a_retry_of_worker_packed_events_gets_the_same_receipts(log: TransparencyLog) -> None:
    events = [_packed_in_worker(prepared(signed_item(make_actor(), permit="P-2"))) for _ in range(3)]

    first = log.submit(Submission(events))
    again = log.submit(Submission(events[1:] + [events[0]]))

    assert [(r.leaf_index, r.leaf_hash, r.duplicate) for r in again] == \
        [(r.leaf_index, r.leaf_hash, True) for r in first[1:] + first[:1]]
