"""Staged anchoring on SQLite and PostgreSQL: the local journal, the anchors table as the one source of
truth (pending rows first), reconciliation after a crash, and one worker per backend so that a slow or
failing backend never holds up another.

Journals are checked with the independent ``verifier`` package. The test backends below are real
implementations of the ``Anchor`` protocol driven through the anchorer's own code path; what they fake is
only the chain behind them (one that answers when the test lets it, or never).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import AnchorReceipt, AnchorRequest, PendingAnchor
from ledger.anchors.local import LocalJournal, entry_id
from ledger.canonical import canonical
from ledger.checkpoint import Checkpoint
from ledger.errors import AnchorCommitError, AnchorSubmitError
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey, sm3
from tests.helpers import grow as _grow
from tests.helpers import wait_until
from verifier.anchors import read_journal, verify_journal
from verifier.merkle import verify_consistency

ORIGIN = "test.tiezheng/log"


class _Crash(BaseException):
    """The process dying at a chosen point (not an ``Exception``: nothing in the anchorer catches it)."""


class ScriptedChain:
    """An ``Anchor`` over an in-memory chain that takes a transaction only once the test releases it
    (``gated``), or refuses every submission (``failing``), or rejects the next commit (``reject_next``)."""

    def __init__(self, name: str, *, gated: bool = False, failing: bool = False) -> None:
        self.name, self.gated, self.failing = name, gated, failing
        self.entered, self.release = threading.Event(), threading.Event()
        self.held: dict[str, PendingAnchor] = {}
        self.reject_next = False
        self.submits: list[str] = []

    def prepare(self, request: AnchorRequest) -> PendingAnchor:
        cp = request.checkpoint.checkpoint
        return PendingAnchor(self.name, f"tx-{uuid.uuid4().hex}", cp.tree_size, cp.root_hash,
                             {"checkpoint": request.checkpoint.text})

    def submit(self, pending: PendingAnchor) -> None:
        self.submits.append(pending.tx_id)
        if self.failing:
            raise AnchorSubmitError("node unreachable", backend=self.name, tx_id=pending.tx_id)
        if self.gated:
            self.entered.set()
            if not self.release.wait(timeout=30):
                raise AnchorSubmitError("the test never released the chain", backend=self.name, tx_id=pending.tx_id)
        self.held[pending.tx_id] = pending

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        if self.reject_next:
            self.reject_next = False
            self.held.pop(pending.tx_id, None)
            raise AnchorCommitError("endorsement policy failure", backend=self.name, tx_id=pending.tx_id)
        held = self.held.get(pending.tx_id)
        return _chain_receipt(held) if held is not None else None

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        return [_chain_receipt(p) for p in sorted(self.held.values(), key=lambda p: p.tree_size)
                if after_tree_size is None or p.tree_size > after_tree_size]


def _chain_receipt(p: PendingAnchor) -> AnchorReceipt:
    return AnchorReceipt(p.backend, p.tree_size, p.root_hash, p.tx_id, {"tx_id": p.tx_id})


class CrashAfterJournalWrite(LocalJournal):
    """The local journal, with the process dying right after the entry is fsynced."""

    def submit(self, pending: PendingAnchor) -> None:
        super().submit(pending)
        raise _Crash


class CrashBeforeJournalWrite(LocalJournal):
    """The local journal, with the process dying after the pending row, before the entry is written."""

    def submit(self, pending: PendingAnchor) -> None:
        raise _Crash


# -- helpers -----------------------------------------------------------------------------------------
@pytest.fixture
def journal_path(tmp_path: Path) -> Path:
    return tmp_path / "anchors" / "local-journal.jsonl"


@pytest.fixture
def signer(log_key: SM2PrivateKey) -> Signer:
    return Signer.from_private_key(log_key)


@pytest.fixture
def journal(journal_path: Path, signer: Signer) -> LocalJournal:
    return LocalJournal(journal_path, signer=signer)


def _entries(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def _verify(path: Path, key: SM2PrivateKey) -> None:
    verify_journal(read_journal(path.read_bytes()), public_key_pem=key.public.to_pem())


# -- the local journal through the anchorer ----------------------------------------------------------
def test_anchorer_run_once_without_checkpoint_anchors_nothing(log: TransparencyLog, journal: LocalJournal) -> None:
    anchorer = Anchorer(log, [journal])

    assert anchorer.run_once() == []
    assert journal.latest() is None
    assert anchorer.book.rows("local") == []


def test_anchorer_run_once_anchors_latest_checkpoint_with_the_entry_hash_as_tx_id(
        log: TransparencyLog, journal: LocalJournal, journal_path: Path, log_key: SM2PrivateKey) -> None:
    checkpoint = _grow(log, 3)
    anchorer = Anchorer(log, [journal])

    (receipt,) = anchorer.run_once()

    assert (receipt.backend, receipt.tree_size, receipt.root_hash) == ("local", 3, checkpoint.checkpoint.root_hash)
    (entry,) = _entries(journal_path)
    assert entry["checkpoint"] == checkpoint.text
    assert (entry["seq"], entry["prev_entry"], entry["previous_tree_size"]) == (0, None, None)
    assert receipt.tx_id == sm3(canonical(entry)).hex() == entry_id(entry)
    assert anchorer.book.rows("local") == [{"tx_id": receipt.tx_id, "tree_size": 3, "status": "anchored", "error": None}]
    assert log.anchor_receipts_covering(3) == [receipt.to_json()]
    _verify(journal_path, log_key)
    assert anchorer.run_once() == []  # nothing new to anchor
    assert len(_entries(journal_path)) == 1


def test_local_journal_entries_chain_by_sm3_of_previous_entry(
        log: TransparencyLog, journal: LocalJournal, journal_path: Path, log_key: SM2PrivateKey) -> None:
    anchorer = Anchorer(log, [journal])
    _grow(log, 2)
    anchorer.run_once()
    _grow(log, 3)

    anchorer.run_once()

    first, second = _entries(journal_path)
    assert (second["seq"], second["prev_entry"], second["previous_tree_size"]) == (1, entry_id(first), 2)
    verify_consistency(2, 5, bytes.fromhex(first["root_hash"]), bytes.fromhex(second["root_hash"]),
                       [bytes.fromhex(h) for h in second["consistency_proof"]])
    _verify(journal_path, log_key)


def test_pending_row_with_tx_id_is_written_before_the_transaction_is_sent(
        log: TransparencyLog, journal_path: Path, signer: Signer) -> None:
    seen: list[list[dict[str, Any]]] = []

    class Watching(LocalJournal):
        def submit(self, pending: PendingAnchor) -> None:
            seen.append(anchorer.book.rows("local"))
            super().submit(pending)

    anchorer = Anchorer(log, [Watching(journal_path, signer=signer)])
    _grow(log, 2)

    (receipt,) = anchorer.run_once()

    assert seen == [[{"tx_id": receipt.tx_id, "tree_size": 2, "status": "pending", "error": None}]]


def test_local_journal_reopen_drops_torn_final_line(
        log: TransparencyLog, journal: LocalJournal, journal_path: Path, signer: Signer,
        log_key: SM2PrivateKey) -> None:
    _grow(log, 2)
    Anchorer(log, [journal]).run_once()
    intact = journal_path.read_bytes()
    with journal_path.open("ab") as handle:
        handle.write(b'{"v":1,"seq":1,"prev_entry":"ab')

    reopened = LocalJournal(journal_path, signer=signer)

    assert journal_path.read_bytes() == intact
    latest = reopened.latest()
    assert latest is not None and latest.tree_size == 2
    _grow(log, 1)
    Anchorer(log, [reopened]).run_once()
    assert [e["seq"] for e in _entries(journal_path)] == [0, 1]
    _verify(journal_path, log_key)


def test_anchorer_refuses_when_journal_root_differs_from_log(
        log: TransparencyLog, journal: LocalJournal, journal_path: Path, signer: Signer,
        caplog: pytest.LogCaptureFixture) -> None:
    _grow(log, 2)
    forged = Checkpoint(ORIGIN, 2, b"\x11" * 32).sign(signer)
    journal.submit(journal.prepare(AnchorRequest(forged, None, [])))
    _grow(log, 2)

    with caplog.at_level(logging.WARNING, logger="ledger.anchors.anchorer"):
        receipts = Anchorer(log, [journal]).run_once()

    assert receipts == []
    assert "local: anchored root at size 2 differs from the log's: the log was rewritten; refusing to anchor" \
        in caplog.text
    assert len(_entries(journal_path)) == 1
    assert log.anchor_receipts_covering(0) == []


def test_local_journal_resumes_and_recovers_from_a_long_journal(
        tmp_path: Path, signer: Signer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ledger.anchors.local._TAIL", 100)  # smaller than one entry: the window must widen
    journal = LocalJournal(tmp_path / "journal.jsonl", signer=signer)
    for size in range(1, 60):
        checkpoint = Checkpoint(ORIGIN, size, sm3(str(size).encode())).sign(signer)
        journal.submit(journal.prepare(AnchorRequest(checkpoint, size - 1 if size > 1 else None, [])))
    with (tmp_path / "journal.jsonl").open("ab") as handle:
        handle.write(b'{"v": 1, "seq": 59, "torn')

    reopened = LocalJournal(tmp_path / "journal.jsonl", signer=signer)

    latest = reopened.latest()
    assert latest is not None and latest.tree_size == 59
    assert (tmp_path / "journal.jsonl").read_bytes().endswith(b"\n")
    assert [r.tree_size for r in reopened.recover(55)] == [56, 57, 58, 59]
    assert len(reopened.recover(None)) == 59


def test_local_journal_prepare_for_a_request_that_does_not_continue_it_raises_submit_error(
        journal: LocalJournal, signer: Signer) -> None:
    checkpoint = Checkpoint(ORIGIN, 3, b"\x01" * 32).sign(signer)

    with pytest.raises(AnchorSubmitError, match=r"local: submit of transaction \(no id yet\) failed: the request "
                                                 r"continues tree size 2 but the journal .* ends at None"):
        journal.prepare(AnchorRequest(checkpoint, 2, []))


# -- crashes: the anchors table is reconciled with the journal on start ------------------------------
def test_crash_between_journal_write_and_table_update_is_reconciled_on_start(
        log: TransparencyLog, journal_path: Path, signer: Signer, log_key: SM2PrivateKey) -> None:
    _grow(log, 3)
    with pytest.raises(_Crash):
        Anchorer(log, [CrashAfterJournalWrite(journal_path, signer=signer)]).run_once()
    (row,) = Anchorer(log, []).book.rows("local")
    assert row["status"] == "pending" and len(_entries(journal_path)) == 1

    restarted = Anchorer(log, [LocalJournal(journal_path, signer=signer)])
    assert restarted.run_once() == []  # reconciled: nothing left to anchor

    (entry,) = _entries(journal_path)
    assert restarted.book.rows("local") == [{"tx_id": entry_id(entry), "tree_size": 3, "status": "anchored",
                                            "error": None}]
    assert [a["entry"] for a in log.anchors_covering(3)] == [entry]
    _verify(journal_path, log_key)


def test_journal_entry_missing_from_the_table_is_recorded_on_start(
        log: TransparencyLog, journal: LocalJournal, journal_path: Path) -> None:
    checkpoint = _grow(log, 2)
    journal.submit(journal.prepare(AnchorRequest(checkpoint, None, [])))  # written, never recorded

    anchorer = Anchorer(log, [journal])
    assert anchorer.run_once() == []

    (entry,) = _entries(journal_path)
    assert anchorer.book.rows("local") == [{"tx_id": entry_id(entry), "tree_size": 2, "status": "anchored",
                                           "error": None}]


def test_pending_row_of_a_crash_before_the_journal_write_is_sent_again_on_start(
        log: TransparencyLog, journal_path: Path, signer: Signer, log_key: SM2PrivateKey) -> None:
    _grow(log, 2)
    with pytest.raises(_Crash):
        Anchorer(log, [CrashBeforeJournalWrite(journal_path, signer=signer)]).run_once()
    assert not journal_path.exists() or _entries(journal_path) == []

    (receipt,) = Anchorer(log, [LocalJournal(journal_path, signer=signer)]).run_once()

    (entry,) = _entries(journal_path)
    assert receipt.tx_id == entry_id(entry)
    assert [r["status"] for r in Anchorer(log, []).book.rows("local")] == ["anchored"]
    _verify(journal_path, log_key)


# -- one worker per backend --------------------------------------------------------------------------
def test_slow_backend_does_not_hold_up_the_local_journal(
        log: TransparencyLog, journal: LocalJournal) -> None:
    slow = ScriptedChain("slow-chain", gated=True)
    anchorer = Anchorer(log, [slow, journal], interval=0.02)
    size = _grow(log, 3).checkpoint.tree_size
    anchorer.start()
    try:
        assert slow.entered.wait(timeout=30)  # the slow chain is inside submit, and stays there

        wait_until(lambda: log.anchored_sizes().get("local") == size, timeout=30)

        assert "slow-chain" not in log.anchored_sizes()
        assert [r["status"] for r in anchorer.book.rows("slow-chain")] == ["pending"]
        slow.release.set()
        wait_until(lambda: log.anchored_sizes().get("slow-chain") == size, timeout=30)
    finally:
        slow.release.set()
        anchorer.close()
    assert {a["backend"] for a in log.anchors_covering(size)} == {"local", "slow-chain"}


def test_failing_backend_keeps_its_pending_tx_and_does_not_hold_up_the_local_journal(
        log: TransparencyLog, journal: LocalJournal, caplog: pytest.LogCaptureFixture) -> None:
    down = ScriptedChain("down-chain", failing=True)
    anchorer = Anchorer(log, [down, journal], interval=0.02, max_backoff=0.1)
    size = _grow(log, 2).checkpoint.tree_size

    with caplog.at_level(logging.WARNING, logger="ledger.anchors.anchorer"):
        anchorer.start()
        try:
            wait_until(lambda: log.anchored_sizes().get("local") == size and len(down.submits) >= 2, timeout=30)
        finally:
            anchorer.close()

    (row,) = anchorer.book.rows("down-chain")
    assert row["status"] == "pending"
    assert set(down.submits) == {row["tx_id"]}  # the same transaction is sent again, never a second one
    assert f"down-chain: submit of transaction {row['tx_id']} failed: node unreachable" in caplog.text


def test_rejected_transaction_is_recorded_as_failed_and_anchored_anew(
        log: TransparencyLog, caplog: pytest.LogCaptureFixture) -> None:
    chain = ScriptedChain("fussy-chain")
    chain.reject_next = True
    anchorer = Anchorer(log, [chain])
    _grow(log, 2)

    with caplog.at_level(logging.WARNING, logger="ledger.anchors.anchorer"):
        assert anchorer.run_once() == []
    (receipt,) = anchorer.run_once()

    first, second = anchorer.book.rows("fussy-chain")
    assert (first["status"], second["status"]) == ("failed", "anchored")
    assert first["error"] == (f"fussy-chain: commit of transaction {first['tx_id']} failed: "
                              "endorsement policy failure")
    assert second["tx_id"] == receipt.tx_id != first["tx_id"]
    assert [a["tx_id"] for a in log.anchors_covering(2)] == [receipt.tx_id]
