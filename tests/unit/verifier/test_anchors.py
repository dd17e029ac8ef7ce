"""Tests for verifier/anchors.py: local journal entries, bundle anchors and whole journal files."""

from __future__ import annotations

import json
from typing import Any

import pytest
from verifier_testkit import (
    ORIGIN,
    KeyPair,
    canonical,
    checkpoint_text,
    leaves_for,
    make_journal,
    ref_consistency,
    ref_root,
    sign_entry,
    sm3,
)

from verifier.anchors import (
    JournalEntry,
    LocalAnchor,
    read_journal,
    verify_journal,
    verify_journal_entry,
    verify_local_anchor,
)
from verifier.checkpoint import Checkpoint
from verifier.errors import (
    AnchorMismatch,
    BadSignature,
    InvalidProof,
    KeyMismatch,
    MalformedInput,
    RootMismatch,
)

LEAVES = leaves_for(20)
SIZES = [3, 7, 12, 12, 20]


@pytest.fixture(scope="module")
def journal(log_key: KeyPair) -> list[dict[str, Any]]:
    return make_journal(log_key, LEAVES, SIZES)


def _jsonl(entries: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in entries)


def _anchor(entry: dict[str, Any], size: int) -> LocalAnchor:
    proof = [h.hex() for h in ref_consistency(size, LEAVES[: entry["tree_size"]])]
    return LocalAnchor.from_json({"backend": "local", "entry": entry, "consistency_proof": proof})


def _checkpoint(log_key: KeyPair, size: int, origin: str = ORIGIN) -> Checkpoint:
    return Checkpoint.from_text(checkpoint_text(log_key, size, ref_root(LEAVES[:size]), origin=origin))


# Structure


def test_journal_entry_from_json(journal: list[dict[str, Any]]) -> None:
    entry = JournalEntry.from_json(journal[1])
    assert (entry.seq, entry.tree_size, entry.previous_tree_size) == (1, 7, 3)
    assert entry.checkpoint.tree_size == 7
    assert entry.entry_hash() == sm3(canonical(journal[1]))


def test_journal_entry_from_json_bad_checkpoint(journal: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedInput, match="missing blank line"):
        JournalEntry.from_json({**journal[0], "checkpoint": "o\n1\nAA==\n"})


def test_journal_entry_from_json_negative_seq(journal: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedInput, match=r"journal entry.seq must be an integer in \[0, 9007199254740991\], got -1"):
        JournalEntry.from_json({**journal[0], "seq": -1})


def test_journal_entry_from_json_wrong_version(journal: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedInput, match="journal entry.v must be 1, got None"):
        JournalEntry.from_json({k: v for k, v in journal[0].items() if k != "v"})


def test_local_anchor_unknown_backend(journal: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedInput, match="unsupported anchor backend 'fabric', want 'local', 'fabric' or 'evm'"):
        LocalAnchor.from_json({"backend": "fabric", "entry": journal[0], "consistency_proof": []})


def test_local_anchor_missing_entry() -> None:
    with pytest.raises(MalformedInput, match="anchor is missing field 'entry'"):
        LocalAnchor.from_json({"backend": "local", "consistency_proof": []})


# One entry


def test_verify_journal_entry_ok(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    verify_journal_entry(JournalEntry.from_json(journal[2]), public_key_pem=log_key.pem)


def test_verify_journal_entry_key_id_mismatch(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    entry = sign_entry(log_key, {**journal[0], "key_id": "ab" * 32})
    with pytest.raises(KeyMismatch, match=f"key_id mismatch: got {'ab' * 32}, want {log_key.fingerprint}"):
        verify_journal_entry(JournalEntry.from_json(entry), public_key_pem=log_key.pem)


def test_verify_journal_entry_other_key(journal: list[dict[str, Any]], other_key: KeyPair) -> None:
    with pytest.raises(KeyMismatch, match="key_id mismatch"):
        verify_journal_entry(JournalEntry.from_json(journal[0]), public_key_pem=other_key.pem)


def test_verify_journal_entry_tampered(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    entry = {**journal[1], "anchored_at": "2030-01-01T00:00:00Z"}
    with pytest.raises(BadSignature, match="journal entry seq 1 signature does not verify"):
        verify_journal_entry(JournalEntry.from_json(entry), public_key_pem=log_key.pem)


def test_verify_journal_entry_checkpoint_by_other_key(
    journal: list[dict[str, Any]], log_key: KeyPair, other_key: KeyPair
) -> None:
    entry = sign_entry(
        log_key, {**journal[0], "checkpoint": checkpoint_text(other_key, 3, ref_root(LEAVES[:3]))}
    )
    with pytest.raises(KeyMismatch, match="checkpoint has no signature by the log key"):
        verify_journal_entry(JournalEntry.from_json(entry), public_key_pem=log_key.pem)


def test_verify_journal_entry_checkpoint_other_size(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    entry = sign_entry(
        log_key, {**journal[0], "checkpoint": checkpoint_text(log_key, 4, ref_root(LEAVES[:4]))}
    )
    with pytest.raises(
        AnchorMismatch, match="journal entry seq 0 checkpoint does not match the entry: got .*4.*want .*3"
    ):
        verify_journal_entry(JournalEntry.from_json(entry), public_key_pem=log_key.pem)


def test_verify_journal_entry_root_differs_from_checkpoint(
    journal: list[dict[str, Any]], log_key: KeyPair
) -> None:
    entry = sign_entry(log_key, {**journal[0], "root_hash": "00" * 32})
    with pytest.raises(AnchorMismatch, match="checkpoint does not match the entry"):
        verify_journal_entry(JournalEntry.from_json(entry), public_key_pem=log_key.pem)


# Bundle anchors


def test_verify_local_anchor_ok(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    verify_local_anchor(
        _anchor(journal[2], 5), checkpoint=_checkpoint(log_key, 5), public_key_pem=log_key.pem
    )


def test_verify_local_anchor_same_size(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    verify_local_anchor(
        _anchor(journal[1], 7), checkpoint=_checkpoint(log_key, 7), public_key_pem=log_key.pem
    )


def test_verify_local_anchor_other_origin(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    cp = _checkpoint(log_key, 5, origin="other.example/log")
    with pytest.raises(
        AnchorMismatch, match=f"anchor origin mismatch: got '{ORIGIN}', want 'other.example/log'"
    ):
        verify_local_anchor(_anchor(journal[2], 5), checkpoint=cp, public_key_pem=log_key.pem)


def test_verify_local_anchor_older_than_checkpoint(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    anchor = LocalAnchor.from_json({"backend": "local", "entry": journal[0], "consistency_proof": []})
    with pytest.raises(AnchorMismatch, match="anchor tree size 3 is smaller than the checkpoint tree size 5"):
        verify_local_anchor(anchor, checkpoint=_checkpoint(log_key, 5), public_key_pem=log_key.pem)


def test_verify_local_anchor_forked_checkpoint(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    forked = leaves_for(5, seed="fork")
    cp = Checkpoint.from_text(checkpoint_text(log_key, 5, ref_root(forked)))
    with pytest.raises(RootMismatch, match="first root mismatch"):
        verify_local_anchor(_anchor(journal[2], 5), checkpoint=cp, public_key_pem=log_key.pem)


def test_verify_local_anchor_truncated_proof(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    proof = [h.hex() for h in ref_consistency(5, LEAVES[:12])][:-1]
    anchor = LocalAnchor.from_json({"backend": "local", "entry": journal[2], "consistency_proof": proof})
    with pytest.raises(InvalidProof, match="wrong proof length"):
        verify_local_anchor(anchor, checkpoint=_checkpoint(log_key, 5), public_key_pem=log_key.pem)


# Whole journals


def test_read_journal_round_trip(journal: list[dict[str, Any]]) -> None:
    entries = read_journal(_jsonl(journal))
    assert [e.seq for e in entries] == [0, 1, 2, 3, 4]


def test_read_journal_empty() -> None:
    assert read_journal(b"") == ()


def test_read_journal_truncated_last_line(journal: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedInput, match="does not end with a newline: last line is truncated"):
        read_journal(_jsonl(journal)[:-20])


def test_read_journal_bad_line(journal: list[dict[str, Any]]) -> None:
    data = _jsonl(journal[:1]) + b"{not json\n"
    with pytest.raises(MalformedInput, match="journal line 2: journal line 2 is not valid json"):
        read_journal(data)


def test_read_journal_blank_line(journal: list[dict[str, Any]]) -> None:
    with pytest.raises(MalformedInput, match="journal line 2: journal line 2 is not valid json"):
        read_journal(_jsonl(journal[:1]) + b"\n" + _jsonl(journal[1:2]))


def test_verify_journal_ok(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    verify_journal(read_journal(_jsonl(journal)), public_key_pem=log_key.pem)


def test_verify_journal_first_entry_not_seq_zero(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    with pytest.raises(AnchorMismatch, match="first journal entry must have seq 0.*got seq=1"):
        verify_journal(read_journal(_jsonl(journal[1:])), public_key_pem=log_key.pem)


def test_verify_journal_missing_entry(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    with pytest.raises(AnchorMismatch, match="journal seq gap: got 2, want 1"):
        verify_journal(read_journal(_jsonl([journal[0], *journal[2:]])), public_key_pem=log_key.pem)


def test_verify_journal_prev_entry_mismatch(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    changed = sign_entry(log_key, {**journal[2], "prev_entry": "00" * 32})
    want = sm3(canonical(journal[1])).hex()
    with pytest.raises(AnchorMismatch, match=f"seq 2 prev_entry mismatch: got {'00' * 32}, want {want}"):
        verify_journal(read_journal(_jsonl([*journal[:2], changed])), public_key_pem=log_key.pem)


def test_verify_journal_rewritten_previous_entry(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    rewritten = sign_entry(log_key, {**journal[1], "anchored_at": "2025-03-01T00:00:59Z"})
    with pytest.raises(AnchorMismatch, match="seq 2 prev_entry mismatch"):
        verify_journal(read_journal(_jsonl([journal[0], rewritten, journal[2]])), public_key_pem=log_key.pem)


def test_verify_journal_previous_tree_size_mismatch(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    changed = sign_entry(log_key, {**journal[1], "previous_tree_size": 2})
    with pytest.raises(AnchorMismatch, match="seq 1 previous_tree_size mismatch: got 2, want 3"):
        verify_journal(read_journal(_jsonl([journal[0], changed])), public_key_pem=log_key.pem)


def test_verify_journal_origin_changed(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    cp = checkpoint_text(log_key, 7, ref_root(LEAVES[:7]), origin="other")
    changed = sign_entry(log_key, {**journal[1], "origin": "other", "checkpoint": cp})
    with pytest.raises(
        AnchorMismatch, match="seq 1 origin changed: got 'other', want 'tiezheng.example/log'"
    ):
        verify_journal(read_journal(_jsonl([journal[0], changed])), public_key_pem=log_key.pem)


def test_verify_journal_fork(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    # The operator rewrites leaf 2 (already covered by the first anchor) and proves from its new tree.
    forked = LEAVES[:2] + leaves_for(5, seed="fork")
    root = ref_root(forked)
    entry = {**journal[1], "root_hash": root.hex(), "checkpoint": checkpoint_text(log_key, 7, root)}
    entry["consistency_proof"] = [h.hex() for h in ref_consistency(3, forked)]
    with pytest.raises(RootMismatch, match=f"first root mismatch: calculated {ref_root(forked[:3]).hex()}"):
        verify_journal(
            read_journal(_jsonl([journal[0], sign_entry(log_key, entry)])), public_key_pem=log_key.pem
        )


def test_verify_journal_shrinking_tree(journal: list[dict[str, Any]], log_key: KeyPair) -> None:
    first = make_journal(log_key, LEAVES, [7])[0]
    second = {**journal[0], "seq": 1, "prev_entry": sm3(canonical(first)).hex(), "previous_tree_size": 7}
    with pytest.raises(MalformedInput, match="journal line 2: journal entry previous_tree_size 7 is larger than its tree_size 3"):
        read_journal(_jsonl([first, sign_entry(log_key, second)]))


def test_verify_journal_entry_signed_by_other_key(
    journal: list[dict[str, Any]], log_key: KeyPair, other_key: KeyPair
) -> None:
    forged = sign_entry(other_key, journal[1])
    with pytest.raises(BadSignature, match="journal entry seq 1 signature does not verify"):
        verify_journal(read_journal(_jsonl([journal[0], forged])), public_key_pem=log_key.pem)
