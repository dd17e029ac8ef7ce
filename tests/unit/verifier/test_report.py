"""Tests for verifier/report.py: JSON and text renderings, assurance notes."""

from __future__ import annotations

import json

from verifier.report import (
    ASSURANCE_DUAL_CHAIN,
    ASSURANCE_FABRIC,
    ASSURANCE_SIGNED,
    SIGNED_NOTE,
    Report,
    StepResult,
    chain_assurance,
    notes_for,
)


def _report(*, valid: bool = True, binding: str = "fingerprint") -> Report:
    assurance = ASSURANCE_SIGNED if valid else None
    return Report(
        valid=valid,
        steps=(
            StepResult(1, "structure", "ok", "parsed"),
            StepResult(5, "payload commitment", "skipped", "none"),
        ),
        trust_root="cc" * 32,
        log_key_fingerprint="aa" * 32,
        actor_key_fingerprint="bb" * 32,
        actor_key_id="bb" * 32,
        actor_key_binding=binding,
        event_id="e-1",
        origin="log.example",
        tree_size=9,
        leaf_index=3,
        assurance=assurance,
        failure=None if valid else "step 6 (leaf hash and inclusion proof) failed: root mismatch",
        notes=notes_for(
            assurance=assurance, actor_key_binding=binding, actor_key_id="bb" * 32, actor_key_fingerprint="bb" * 32
        ),
    )


def test_report_to_json_round_trips() -> None:
    data = json.loads(_report().to_json())
    assert data["valid"] is True
    assert data["assurance"] == "signed"
    assert data["steps"][1] == {
        "number": 5,
        "name": "payload commitment",
        "status": "skipped",
        "detail": "none",
    }
    assert data["trust_root"] == "cc" * 32 and data["actor_key_binding"] == "fingerprint"


def test_report_to_text_lists_steps_and_assurance() -> None:
    text = _report().to_text()
    assert text.splitlines()[0] == "VALID: event e-1 at leaf 3 of log.example (size 9)"
    assert "  5. [skipped] payload commitment: none" in text
    assert "assurance: signed" in text
    assert "proves nothing against the operator" in text


def test_report_to_text_without_steps() -> None:
    assert "[ok]" not in _report().to_text(steps=False)


def test_report_to_text_invalid_gives_reason() -> None:
    text = _report(valid=False).to_text()
    assert text.startswith("INVALID: ")
    assert "reason: step 6 (leaf hash and inclusion proof) failed: root mismatch" in text
    assert "assurance:" not in text


def test_notes_for_signed_key_named_by_fingerprint() -> None:
    notes = notes_for(
        assurance=ASSURANCE_SIGNED, actor_key_binding="fingerprint", actor_key_id="k", actor_key_fingerprint="f"
    )
    assert notes == (SIGNED_NOTE,)


def test_notes_for_key_named_by_a_name_says_compare_with_registry() -> None:
    notes = notes_for(assurance=None, actor_key_binding="signature", actor_key_id="li.na#1", actor_key_fingerprint="ff")
    assert len(notes) == 1 and "actor key ff" in notes[0] and "'li.na#1' is a name" in notes[0]
    assert "compare the fingerprint with the registry" in notes[0]


def test_signed_note_says_local_journal_proves_nothing_against_operator() -> None:
    assert "a local journal proves nothing against the operator" in SIGNED_NOTE


def test_chain_assurance_dual_chain_only_for_the_same_size_and_root() -> None:
    root, other = b"\x01" * 32, b"\x02" * 32
    assert chain_assurance(fabric=[(7, root)], evm=[(7, root)]) == ASSURANCE_DUAL_CHAIN == "dual-chain"
    assert chain_assurance(fabric=[(7, root), (9, other)], evm=[(9, other)]) == "dual-chain"
    assert chain_assurance(fabric=[(7, root)], evm=[(8, root)]) == ASSURANCE_FABRIC == "fabric"  # other size
    assert chain_assurance(fabric=[(7, root)], evm=[(7, other)]) == "fabric"  # same size, other root
    assert chain_assurance(fabric=[(7, root)], evm=[]) == "fabric"
    assert chain_assurance(fabric=[], evm=[(7, root)]) == ASSURANCE_SIGNED  # the regulator chain alone
    assert chain_assurance(fabric=[], evm=[]) == "signed"
