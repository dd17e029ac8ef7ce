"""One failing commit hook refuses its own submission only (issue 8, seam 1): the other submissions of the
same group commit are written, with the leaf indices and ``prev`` links they would have had without it.

Runs on SQLite and PostgreSQL. The writer is held inside a first group (its hook waits on an event) while
the submissions under test queue up, so they are certain to form the next group commit together.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Connection, insert, select

from evidence_api import db as service_db
from ledger.errors import StorageError
from ledger.log import Receipt, Submission, TransparencyLog
from ledger.writer import GroupCommit
from tests.helpers import TENANT, make_actor, signed_item, submission, wait_until
from verifier.merkle import verify_inclusion

Hook = Callable[[Connection, list[Receipt]], None]


def _mark(name: str) -> Hook:
    """A hook that writes one row (a tenant named ``name``), as a projection would."""
    def hook(conn: Connection, receipts: list[Receipt]) -> None:
        conn.execute(insert(service_db.tenants).values(id=name, name=f"{len(receipts)} events", created_at="-"))
    return hook


def _failing(kind: str) -> Hook:
    """A hook that writes a row and then fails: with a plain exception, or with a database error."""
    def hook(conn: Connection, receipts: list[Receipt]) -> None:
        conn.execute(insert(service_db.tenants).values(id="bad", name="must not stay", created_at="-"))
        if kind == "exception":
            raise RuntimeError("projection refused")
        _mark("first")(conn, receipts)  # "first" exists: a primary-key violation (PostgreSQL aborts the txn)
    return hook


def _hold_writer(log: TransparencyLog) -> tuple[threading.Event, Any]:
    """Keep the writer inside a first group commit until the returned event is set."""
    entered, release = threading.Event(), threading.Event()

    def gate(conn: Connection, receipts: list[Receipt]) -> None:
        _mark("first")(conn, receipts)
        entered.set()
        assert release.wait(timeout=30), "test never released the writer"

    future = log.submit_nowait(replace(submission(signed_item(make_actor(), permit="P-1")), on_commit=gate))
    assert entered.wait(timeout=30)
    return release, future


def _tenant_rows(log: TransparencyLog) -> set[str]:
    with log.engine.connect() as conn:
        return set(conn.execute(select(service_db.tenants.c.id)).scalars())


@pytest.mark.parametrize("failure", ["exception", "database-error"])
def test_failing_hook_refuses_only_its_submission_in_a_group_commit(log: TransparencyLog, failure: str) -> None:
    actor = make_actor()
    good1, bad, plain, good2 = (signed_item(actor, permit="P-1", payload={"n": n}) for n in range(4))
    release, gate = _hold_writer(log)
    subs: list[Submission] = [replace(submission(good1), on_commit=_mark("good1")),
                              replace(submission(bad, signed_item(actor, permit=None)), on_commit=_failing(failure)),
                              submission(plain),
                              replace(submission(good2), on_commit=_mark("good2"))]
    futures = [log.submit_nowait(s) for s in subs]

    release.set()

    (first,) = gate.result(timeout=30)
    with pytest.raises(StorageError, match="the submission's commit hook failed, none of its events was written"):
        futures[1].result(timeout=30)
    receipts = [futures[i].result(timeout=30)[0] for i in (0, 2, 3)]
    assert [r.leaf_index for r in receipts] == [1, 2, 3]
    assert log.tree_size == 4
    assert log.event(TENANT, bad["event"]["event_id"]) is None
    chain = log.permit_events(TENANT, "P-1")
    assert [e.event_id for e in chain] == [first.event_id] + [r.event_id for r in receipts]
    assert [e.leaf_hash for e in chain] == [first.leaf_hash] + [r.leaf_hash for r in receipts]
    assert _tenant_rows(log) == {"first", "good1", "good2"}
    checkpoint = wait_until(lambda: (cp := log.latest_checkpoint()) and cp.checkpoint.tree_size == 4 and cp)
    for receipt in receipts:
        verify_inclusion(receipt.leaf_index, 4, receipt.leaf_hash, log.inclusion_proof(receipt.leaf_index, 4),
                         checkpoint.checkpoint.root_hash)


def test_failed_submission_can_be_retried_and_gets_the_next_index(log: TransparencyLog) -> None:
    item = signed_item(make_actor(), permit="P-2")
    with pytest.raises(StorageError, match="projection refused"):
        log.submit(replace(submission(item), on_commit=_failing("exception")))

    (receipt,) = log.submit(replace(submission(item), on_commit=_mark("retried")))

    assert (receipt.leaf_index, receipt.duplicate) == (0, False)
    assert _tenant_rows(log) == {"retried"}
    logged = log.event(TENANT, item["event"]["event_id"])
    assert logged is not None and b'"prev":null' in logged.leaf


def test_group_that_fails_after_a_hooked_submission_writes_nothing(
        log: TransparencyLog, monkeypatch: pytest.MonkeyPatch) -> None:
    """The savepoints nest inside the group's transaction (on SQLite too, where the driver would otherwise
    let the first savepoint's RELEASE commit on its own)."""
    item = signed_item(make_actor(), permit="P-3")

    def broken(*args: object) -> None:
        raise RuntimeError("disk controller on fire")

    with monkeypatch.context() as patch:
        patch.setattr(GroupCommit, "finish", broken)
        with pytest.raises(StorageError, match="commit failed, nothing written: disk controller on fire"):
            log.submit(replace(submission(item), on_commit=_mark("hooked")))

    assert log.tree_size == 0
    assert log.event(TENANT, item["event"]["event_id"]) is None
    assert _tenant_rows(log) == set()
    assert log.submit(submission(item))[0].leaf_index == 0
