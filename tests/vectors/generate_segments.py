"""Golden vectors for segmented media objects, written by ``ingest.media`` (part of ``python -m tests.vectors.generate``).

Each case is ``segments/<plaintext size>/<case>.json`` with the data key, the expected object id, SM3 and size,
and the stored object, all hex; ``want_error`` says whether ``verifier.segments.verify_object`` must refuse it.
Keys, ids and plaintexts come from a seeded generator, so a fresh generation equals the committed files.
Mutations are named for the attack they stand for (``truncated-final-segment``, ``reordered-0-1``, ...).
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from typing import Any

from ingest.media.format import HEADER_SIZE, TAG_SIZE, Header, open_segment, seal_segment
from ingest.media.segments import encrypt_stream
from ledger.sm import sm3

SEGMENT_SIZE = 32
PLAINTEXT_SIZES = (0, 1, 31, 32, 33, 100)


def _split(obj: bytes) -> tuple[bytes, list[bytes]]:
    body, step = obj[HEADER_SIZE:], SEGMENT_SIZE + TAG_SIZE
    return obj[:HEADER_SIZE], [body[i : i + step] for i in range(0, len(body), step)]


def _flip(data: bytes, at: int, bit: int = 0) -> bytes:
    raw = bytearray(data)
    raw[at] ^= 1 << bit
    return bytes(raw)


def _object_mutations(key: bytes, header: Header, obj: bytes, other: bytes) -> Iterator[tuple[str, bytes]]:
    head, segs = _split(obj)
    n = len(segs)
    if n >= 2:
        yield "truncated-final-segment", head + b"".join(segs[:-1])
        yield "reordered-0-1", head + segs[1] + segs[0] + b"".join(segs[2:])
    yield "truncated-mid-segment", obj[:-5]
    yield "truncated-to-header", head
    yield "spliced-segment-0-from-other-object", head + _split(other)[1][0] + b"".join(segs[1:])
    yield "flipped-tag-bit-segment-0", head + _flip(segs[0], len(segs[0]) - 1) + b"".join(segs[1:])
    if len(segs[0]) > TAG_SIZE:
        yield "flipped-ciphertext-bit-segment-0", head + _flip(segs[0], 0, 7) + b"".join(segs[1:])
    last_plain = _last_plaintext(key, header, n, segs[-1])
    yield "final-flag-removed", head + b"".join(segs[:-1]) + seal_segment(key, header, n - 1, False, last_plain)
    yield "extra-segment", obj + seal_segment(key, header, n, True, b"appended")
    yield "appended-garbage", obj + b"garbage"
    yield "header-segment-size-rewritten", obj[:5] + (SEGMENT_SIZE + 1).to_bytes(4, "big") + obj[9:]
    yield "header-version-2", obj[:4] + b"\x02" + obj[5:]


def _last_plaintext(key: bytes, header: Header, n: int, sealed: bytes) -> bytes:
    return open_segment(key, header, n - 1, True, sealed)


def segment_cases() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every segments case as ``(name, body)``, happy paths and their named mutations."""
    rng = random.Random(13)
    for size in PLAINTEXT_SIZES:
        key, plaintext = rng.randbytes(16), rng.randbytes(size)
        prefix, key_id = rng.randbytes(7), uuid.UUID(bytes=rng.randbytes(16), version=4)
        header = Header(uuid.UUID(bytes=rng.randbytes(16), version=4), key_id, SEGMENT_SIZE, prefix)
        other_header = Header(uuid.UUID(bytes=rng.randbytes(16), version=4), key_id, SEGMENT_SIZE, prefix)
        chunks = [plaintext[i : i + 7] for i in range(0, size, 7)]
        obj = b"".join(encrypt_stream(key, header, chunks))
        other = b"".join(encrypt_stream(key, other_header, [rng.randbytes(max(size, 1))]))
        case = {"segment_size": SEGMENT_SIZE, "data_key": key.hex(), "object_id": header.object_id.hex,
                "plaintext_size": size, "plaintext_sm3": sm3(plaintext).hex(), "plaintext": plaintext.hex(),
                "object": obj.hex()}
        yield f"segments/{size}/happy-path", case
        for name, mutated in _object_mutations(key, header, obj, other):
            yield f"segments/{size}/{name}", {**case, "object": mutated.hex()}
        rewritten = _flip(obj, 9)
        yield f"segments/{size}/header-object-id-rewritten", {**case, "object": rewritten.hex(),
                                                              "object_id": rewritten[9:25].hex()}
        yield f"segments/{size}/wrong-object-id", {**case, "object_id": other_header.object_id.hex}
        yield f"segments/{size}/wrong-sm3", {**case, "plaintext_sm3": sm3(plaintext + b"x").hex()}
        yield f"segments/{size}/wrong-size", {**case, "plaintext_size": size + 1}
