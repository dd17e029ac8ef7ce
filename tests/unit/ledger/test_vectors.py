"""The committed golden vectors are exactly what ledger's Merkle code generates today (no silent drift)."""

from __future__ import annotations

from pathlib import Path

from tests.vectors.generate import HERE, generate


def test_vectors_match_a_fresh_generation(tmp_path: Path) -> None:
    fresh = {p.relative_to(tmp_path): p.read_text() for p in generate(tmp_path)}
    committed = {p.relative_to(HERE): p.read_text() for p in HERE.glob("*/*/*.json")}
    assert fresh == committed, "regenerate with: python -m tests.vectors.generate"
