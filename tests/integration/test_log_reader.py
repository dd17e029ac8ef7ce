"""The log's read interface (``ledger.reader`` through ``TransparencyLog``) on SQLite and PostgreSQL: events
by tenant and id, a permit's events, the log in order from a cursor, attestations and anchors."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.local import LocalJournal
from ledger.canonical import canonical
from ledger.errors import MalformedInput
from ledger.log import LoggedEvent, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, prepared, signed_item, submission, wait_until
from verifier.merkle import verify_consistency


def _logged(log: TransparencyLog, item: dict[str, Any]) -> LoggedEvent:
    found = log.event(TENANT, item["event"]["event_id"])
    assert found is not None
    return found


def test_event_returns_the_committed_row_with_its_leaf(log: TransparencyLog) -> None:
    item = signed_item(make_actor(), permit="P-1", payload={"gas": 3})
    p = prepared(item)
    p = replace(p, flags=("clock-skew",))

    (receipt,) = log.submit(replace(submission(item), events=[p]))

    got = _logged(log, item)
    assert (got.leaf_index, got.event_id, got.tenant, got.kind, got.permit, got.key_id) == \
        (0, receipt.event_id, TENANT, "guardian.checkin", "P-1", item["event"]["actor"]["key_id"])
    assert (got.leaf_hash, got.received_at, got.claim_hash) == (receipt.leaf_hash, receipt.received_at, p.claim_hash)
    assert json.loads(got.leaf) == {**item["event"], "received_at": receipt.received_at, "prev": None}
    assert (got.flags, got.payload_sealed, got.payload_key, got.attestation_digest) == \
        (("clock-skew",), canonical(item["payload"]), b"k", None)


def test_event_of_unknown_id_or_other_tenant_is_none(log: TransparencyLog) -> None:
    item = signed_item(make_actor())
    log.submit(submission(item))

    assert log.event(TENANT, "00000000-0000-4000-8000-000000000000") is None
    assert log.event("other-tenant", item["event"]["event_id"]) is None


def test_permit_events_are_that_permits_events_in_log_order(log: TransparencyLog) -> None:
    actor = make_actor()
    a1, b1, a2, a3 = (signed_item(actor, permit=p) for p in ("P-A", "P-B", "P-A", "P-A"))
    log.submit(submission(a1, b1))
    log.submit(submission(a2, a3))

    got = log.permit_events(TENANT, "P-A")

    assert [e.event_id for e in got] == [i["event"]["event_id"] for i in (a1, a2, a3)]
    assert [e.leaf_index for e in got] == [0, 2, 3]
    assert json.loads(got[1].leaf)["prev"] == got[0].leaf_hash.hex()
    assert log.permit_events("other-tenant", "P-A") == []


def test_events_since_pages_through_the_log_ascending(log: TransparencyLog) -> None:
    actor = make_actor()
    receipts = log.submit(submission(*(signed_item(actor, permit=None) for _ in range(5))))

    first = log.events_since(-1, limit=2)
    rest = log.events_since(first[-1].leaf_index, limit=10)

    assert [e.leaf_index for e in first] == [0, 1]
    assert [e.leaf_index for e in rest] == [2, 3, 4]
    assert [e.event_id for e in first + rest] == [r.event_id for r in receipts]
    assert log.events_since(4, limit=10) == []


@pytest.mark.parametrize(("after", "limit"), [(-2, 1), (0, 0), (0, 10_001)])
def test_events_since_with_bad_cursor_or_limit_raises_malformed_input(
        log: TransparencyLog, after: int, limit: int) -> None:
    with pytest.raises(MalformedInput, match=f"got after_index={after}, limit={limit}"):
        log.events_since(after, limit=limit)
    with pytest.raises(MalformedInput, match=f"got after_index={after}, limit={limit}"):
        log.heads_since(after, limit=limit)


def test_heads_since_are_the_pages_of_events_since_without_leaf_or_payload(log: TransparencyLog) -> None:
    actor = make_actor()
    log.submit(submission(*(signed_item(actor, permit=p) for p in ("P-1", None, "P-2", "P-1"))))
    for after, limit in ((-1, 10), (0, 2), (3, 5)):
        assert log.heads_since(after, limit=limit) == [
            (e.leaf_index, e.tenant, e.kind, e.permit, e.key_id) for e in log.events_since(after, limit=limit)]


def test_attestation_is_returned_to_its_tenant_only(log: TransparencyLog) -> None:
    item = signed_item(make_actor())
    body, digest = {"batch": "signed", "n": 1}, b"\x07" * 32

    log.submit(replace(submission(item), attestation=body, attestation_digest=digest))

    assert _logged(log, item).attestation_digest == digest
    assert log.attestation(TENANT, digest) == body
    assert log.attestation("other-tenant", digest) is None
    assert log.attestation(TENANT, b"\x08" * 32) is None


def test_anchors_covering_links_a_tree_size_to_the_anchored_tree(
        log: TransparencyLog, tmp_path: Path, log_key: SM2PrivateKey) -> None:
    journal = LocalJournal(tmp_path / "journal.jsonl", signer=Signer.from_private_key(log_key))
    log.submit(submission(*(signed_item(make_actor()) for _ in range(4))))
    wait_until(lambda: (cp := log.latest_checkpoint()) is not None and cp.checkpoint.tree_size == 4)
    Anchorer(log, [journal]).run_once()

    (covering,) = log.anchors_covering(2)

    assert (covering["backend"], covering["tree_size"]) == ("local", 4)
    verify_consistency(2, 4, log.root_at(2), bytes.fromhex(covering["root_hash"]),
                       [bytes.fromhex(h) for h in covering["consistency_proof"]])
    assert log.anchors_covering(5) == []
    assert log.anchored_sizes() == {"local": 4}
