"""Golden vectors written by ``ledger`` (tests/vectors/, STYLE.md item 22): the verifier must pass them all.

Inclusion files hold ``desc, leaf_index, tree_size, leaf_hash, root, proof, want_error``; consistency files
``desc, size1, size2, root1, root2, proof, want_error``; hashes are hex. A valid vector must verify and a
``want_error`` vector must raise ``VerificationFailed``. The checks skip only while a kind's folder does not
exist yet; an existing folder without vectors fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import VerificationFailed
from verifier.merkle import verify_consistency, verify_inclusion

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
KINDS = ("inclusion", "consistency")


def _files(kind: str) -> list[Path]:
    folder = VECTORS / kind
    return sorted(folder.rglob("*.json")) if folder.is_dir() else []


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _check_inclusion(v: dict[str, Any]) -> None:
    proof = [bytes.fromhex(h) for h in v["proof"]]
    verify_inclusion(
        v["leaf_index"], v["tree_size"], bytes.fromhex(v["leaf_hash"]), proof, bytes.fromhex(v["root"])
    )


def _check_consistency(v: dict[str, Any]) -> None:
    proof = [bytes.fromhex(h) for h in v["proof"]]
    verify_consistency(v["size1"], v["size2"], bytes.fromhex(v["root1"]), bytes.fromhex(v["root2"]), proof)


def _run(path: Path, check: Any) -> None:
    vector = _load(path)
    if vector["want_error"]:
        with pytest.raises(VerificationFailed):
            check(vector)
    else:
        check(vector)


@pytest.mark.parametrize("kind", KINDS)
def test_vectors_present(kind: str) -> None:
    if not (VECTORS / kind).is_dir():
        pytest.skip(f"tests/vectors/{kind} does not exist yet (ledger writes it)")
    files = _files(kind)
    assert files, f"tests/vectors/{kind} exists but holds no .json vectors"
    wants = {bool(_load(path)["want_error"]) for path in files}
    assert wants == {True, False}, (
        f"tests/vectors/{kind} needs both valid and want_error vectors, got {wants}"
    )


@pytest.mark.parametrize("path", _files("inclusion"), ids=_id)
def test_vectors_inclusion(path: Path) -> None:
    _run(path, _check_inclusion)


@pytest.mark.parametrize("path", _files("consistency"), ids=_id)
def test_vectors_consistency(path: Path) -> None:
    _run(path, _check_consistency)
