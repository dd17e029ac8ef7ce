"""ingest's own reader refuses every mutated golden vector too (tests/vectors/segments/), as the verifier does."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from ingest.media import MediaError, decrypt_stream, read_range
from ledger.sm import sm3

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "segments"
FILES = sorted(VECTORS.rglob("*.json"))


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _read_all(v: dict[str, Any]) -> bytes:
    blob, key = bytes.fromhex(v["object"]), bytes.fromhex(v["data_key"])
    chunks = [blob[i : i + 13] for i in range(0, len(blob), 13)]
    plaintext = b"".join(decrypt_stream(key, chunks, object_id=uuid.UUID(hex=v["object_id"])))
    if len(plaintext) != v["plaintext_size"] or sm3(plaintext).hex() != v["plaintext_sm3"]:
        raise MediaError("plaintext differs from the recorded size or sm3")
    return plaintext


def _read_range(v: dict[str, Any]) -> bytes:
    blob, key = bytes.fromhex(v["object"]), bytes.fromhex(v["data_key"])
    return b"".join(read_range(key, lambda o, n: blob[o : o + n], object_id=uuid.UUID(hex=v["object_id"]),
                               plaintext_size=v["plaintext_size"], start=0, end=v["plaintext_size"]))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(VECTORS)))
def test_segments_vector_read_by_ingest(path: Path) -> None:
    vector = _load(path)
    if not vector["want_error"]:
        assert _read_all(vector).hex() == vector["plaintext"] == _read_range(vector).hex()
        return
    with pytest.raises(MediaError):
        _read_all(vector)
    # a range read checks only what it touches: the SM3 never, and an empty range no segment at all
    if vector["desc"] != "wrong-sm3" and vector["plaintext_size"] + (vector["desc"] == "wrong-size") > 0:
        with pytest.raises(MediaError):
            _read_range(vector)
