"""The independent media-segment verifier against ingest's golden vectors and named attacks.

Vectors: tests/vectors/segments/<plaintext size>/<case>.json (``tests/vectors/generate_segments.py``). A
``happy-path`` vector must decrypt to its plaintext and verify; every other one must be refused, and the
named attacks must be refused for the right reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifier.errors import MalformedInput, VerificationFailed, VerifierError
from verifier.segments import SegmentMismatch, decrypt_object, verify_object

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "segments"
FILES = sorted(VECTORS.rglob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _verify(v: dict[str, Any]) -> None:
    verify_object(bytes.fromhex(v["data_key"]), bytes.fromhex(v["object"]), object_id=bytes.fromhex(v["object_id"]),
                  plaintext_sm3=bytes.fromhex(v["plaintext_sm3"]), plaintext_size=v["plaintext_size"])


def _vector(size: int, case: str) -> dict[str, Any]:
    return _load(VECTORS / str(size) / f"{case}.json")


def test_segments_vectors_present() -> None:
    assert FILES, "tests/vectors/segments holds no vectors: run python -m tests.vectors.generate"
    assert {bool(_load(p)["want_error"]) for p in FILES} == {True, False}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_segments_vector(path: Path) -> None:
    vector = _load(path)
    if vector["want_error"]:
        with pytest.raises(VerifierError):
            _verify(vector)
    else:
        _verify(vector)
        plaintext = decrypt_object(bytes.fromhex(vector["data_key"]), bytes.fromhex(vector["object"]),
                                   object_id=bytes.fromhex(vector["object_id"]))
        assert plaintext.hex() == vector["plaintext"]


@pytest.mark.parametrize(("size", "case", "error", "message"), [
    (100, "truncated-final-segment", SegmentMismatch, "segment 2 is the last stored but not the final one"),
    (33, "truncated-final-segment", SegmentMismatch, "truncated"),
    (100, "reordered-0-1", SegmentMismatch, "segment 0 fails sm4-gcm authentication"),
    (100, "spliced-segment-0-from-other-object", SegmentMismatch, "segment 0 fails"),
    (1, "flipped-tag-bit-segment-0", SegmentMismatch, "segment 0 fails"),
    (100, "final-flag-removed", SegmentMismatch, "segment 3 is the last stored but not the final one"),
    (0, "final-flag-removed", SegmentMismatch, "segment 0 is the last stored but not the final one"),
    (32, "extra-segment", SegmentMismatch, "segment 0 is the final one but more follow"),
    (100, "extra-segment", SegmentMismatch, "segment 3 fails"),
    (0, "extra-segment", SegmentMismatch, "segment 0 fails"),
    (32, "appended-garbage", MalformedInput, "7 bytes, shorter than a 16-byte tag: .* bytes were appended"),
    (100, "appended-garbage", SegmentMismatch, "segment 3 fails"),
    (100, "header-object-id-rewritten", SegmentMismatch, "segment 0 fails"),
    (100, "wrong-object-id", SegmentMismatch, "media header names object"),
    (100, "wrong-sm3", SegmentMismatch, "plaintext sm3 is"),
    (100, "wrong-size", SegmentMismatch, "plaintext is 100 bytes, want 101"),
    (100, "truncated-to-header", MalformedInput, "header but no segments"),
    (100, "header-version-2", MalformedInput, "version 2"),
])
def test_segments_named_attack_refused_for_its_reason(size: int, case: str, error: type[VerifierError],
                                                      message: str) -> None:
    with pytest.raises(error, match=message):
        _verify(_vector(size, case))


def test_segments_tamper_is_verification_failure_not_malformed() -> None:
    assert issubclass(SegmentMismatch, VerificationFailed)


def test_segments_decrypt_refuses_short_key() -> None:
    v = _vector(1, "happy-path")
    with pytest.raises(MalformedInput, match="data key and object id must be 16 bytes, got 15"):
        decrypt_object(b"k" * 15, bytes.fromhex(v["object"]), object_id=bytes.fromhex(v["object_id"]))
