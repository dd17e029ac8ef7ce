"""The committed evidence-pack golden vectors (tests/vectors/packs/): each gives its expected outcome."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from verifier.pack import verify_pack
from verifier.pack_errors import PackInvalid, PackUnusable, exit_code_of
from verifier.trust import TrustRoot

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "packs"
CASES = sorted(p for p in VECTORS.glob("*.json") if not p.name.startswith("trust-root"))


def test_pack_vectors_cover_every_reason_class_but_unreadable() -> None:
    from verifier.pack_errors import REASON_CLASSES

    reasons = {json.loads(p.read_text())["want_reason"] for p in CASES}
    assert set(REASON_CLASSES) - {"unreadable"} <= reasons
    assert "anchor-local" in reasons and None in reasons


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_pack_vector(path: Path) -> None:
    case = json.loads(path.read_text())
    root = TrustRoot.from_file(VECTORS / case["trust_root"])
    data = base64.b64decode(case["pack"])
    if not case["want_error"]:
        report = verify_pack(data, trust_root=root)
        assert report.valid and report.reason is None and report.assurance == "signed"
        return
    with pytest.raises((PackInvalid, PackUnusable)) as caught:
        verify_pack(data, trust_root=root)
    assert caught.value.reason == case["want_reason"], caught.value.message
    assert exit_code_of(caught.value.reason) == case["want_exit"]
    if case["want_path"] is not None:
        assert caught.value.path == case["want_path"]
