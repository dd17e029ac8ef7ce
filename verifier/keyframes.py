"""Offline check of a video's keyframe chain (docs/formats.md, "Keyframe chain"): every keyframe is there, in
order, unaltered, and no two are more than 5 s apart (GB/T 25724).

Independent of the server: the chain link is recomputed here from its definition,

    link_i = SM3("tiezheng.keyframe/v1" 0x00 || recording 0x00 || uint64(index) || uint64(t_ms) || sm3_i || link_{i-1})

with 32 zero bytes before the first. The input is the ``media.keyframe`` payloads of one recording in log
order (their events' signatures are checked as any event's, by ``verifier.bundle``), and optionally the
keyframe pictures, whose SM3 must be the signed one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from verifier.errors import MalformedInput, VerificationFailed
from verifier.sm import sm3

__all__ = ["DOMAIN", "MAX_GAP_MS", "KeyframeChainBroken", "verify_keyframe_chain", "verify_keyframe_images"]

DOMAIN = b"tiezheng.keyframe/v1\x00"
MAX_GAP_MS = 5000
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_MAX_FRAMES = 10_000_000


class KeyframeChainBroken(VerificationFailed):
    """A keyframe is missing, inserted, moved or altered, or two are too far apart."""


def _link(recording: str, index: int, t_ms: int, digest: bytes, prev: bytes | None) -> bytes:
    return sm3(DOMAIN + recording.encode() + b"\x00" + index.to_bytes(8, "big") + t_ms.to_bytes(8, "big") + digest
               + (prev or bytes(32)))


def _field(payload: Mapping[str, Any], position: int, name: str, kind: type) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedInput(f"keyframe at position {position}: {name} must be a {kind.__name__}, got {value!r}")
    return value


def _parsed(payload: Any, position: int) -> tuple[str, int, int, bytes, bytes | None, bytes]:
    if not isinstance(payload, Mapping):
        raise MalformedInput(f"keyframe at position {position} is not an object")
    recording = _field(payload, position, "recording", str)
    index, t_ms = _field(payload, position, "index", int), _field(payload, position, "t_ms", int)
    if not 0 <= index < _MAX_FRAMES or not 0 <= t_ms < 2**53:
        raise MalformedInput(f"keyframe at position {position}: index {index} or t_ms {t_ms} is out of range")
    hashes = []
    for name in ("sm3", "chain"):
        value = _field(payload, position, name, str)
        if not _HEX64.fullmatch(value):
            raise MalformedInput(f"keyframe at position {position}: {name} must be 64 lower-case hex digits")
        hashes.append(bytes.fromhex(value))
    prev = payload.get("prev")
    if prev is not None and (not isinstance(prev, str) or not _HEX64.fullmatch(prev)):
        raise MalformedInput(f"keyframe at position {position}: prev must be null or 64 lower-case hex digits")
    return recording, index, t_ms, hashes[0], bytes.fromhex(prev) if prev else None, hashes[1]


def verify_keyframe_chain(payloads: Sequence[Any], *, max_gap_ms: int = MAX_GAP_MS) -> None:
    """Check the keyframe payloads of one recording, in log order; returns nothing, raises on failure.

    Requires at least one payload. Steps: (1) each is well-formed (``MalformedInput``); (2) all name the same
    recording; (3) keyframe ``n`` has index ``n`` (a gap means one is missing, a repeat that one was inserted);
    (4) its ``prev`` is the link of keyframe ``n-1`` (null for the first); (5) its ``chain`` is the link
    recomputed from its own fields; (6) times rise and no gap exceeds ``max_gap_ms``. Any of (2)-(6) raises
    ``KeyframeChainBroken`` naming the keyframe and what was found and wanted.
    """
    if not payloads:
        raise MalformedInput("no keyframes to check")
    frames = [_parsed(p, n) for n, p in enumerate(payloads)]
    recording = frames[0][0]
    previous: tuple[int, bytes] | None = None
    for n, (name, index, t_ms, digest, prev, chain) in enumerate(frames):
        if name != recording:
            raise KeyframeChainBroken(f"keyframe at position {n} is of recording {name!r}, want {recording!r}")
        if index != n:
            what = "missing" if index > n else "inserted or repeated"
            raise KeyframeChainBroken(f"keyframe at position {n} has index {index}, want {n}: a keyframe is {what}")
        want_prev = previous[1] if previous else None
        if prev != want_prev:
            raise KeyframeChainBroken(f"keyframe {n}: prev is {prev.hex() if prev else None}, want the link of "
                                      f"keyframe {n - 1} {want_prev.hex() if want_prev else None}: a keyframe before "
                                      "it was removed, inserted or changed")
        computed = _link(name, index, t_ms, digest, prev)
        if computed != chain:
            raise KeyframeChainBroken(f"keyframe {n}: chain link is {chain.hex()}, computed {computed.hex()} from its "
                                      "recording, index, time, SM3 and prev: a field was altered")
        if previous is not None and not 0 < t_ms - previous[0] <= max_gap_ms:
            raise KeyframeChainBroken(f"keyframes {n - 1} and {n} are {(t_ms - previous[0]) / 1000:g} s apart; "
                                      f"want more than 0 and at most {max_gap_ms / 1000:g} s (GB/T 25724)")
        previous = (t_ms, chain)


def verify_keyframe_images(payloads: Sequence[Mapping[str, Any]], images: Sequence[bytes]) -> None:
    """Each keyframe picture hashes (SM3) to its signed payload's ``sm3``; raises ``KeyframeChainBroken``."""
    if len(images) != len(payloads):
        raise KeyframeChainBroken(f"{len(images)} keyframe pictures for {len(payloads)} signed keyframes")
    for n, (payload, image) in enumerate(zip(payloads, images, strict=True)):
        got = sm3(image).hex()
        if got != payload.get("sm3"):
            raise KeyframeChainBroken(f"keyframe {n}: the picture's SM3 is {got}, the camera signed {payload.get('sm3')}")
