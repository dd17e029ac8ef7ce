"""The chain link of a video keyframe: binds each keyframe to its recording, place, time and predecessor.

``link = SM3("tiezheng.keyframe/v1" 0x00 || recording (UTF-8) 0x00 || index (8 bytes BE) || t_ms (8 bytes BE)
|| sm3 of the keyframe (32) || link of the previous keyframe (32; 32 zero bytes for the first))``.
A keyframe left out, inserted or moved changes every later link (docs/formats.md, "Keyframe chain");
``verifier/keyframes.py`` re-implements it independently.

>>> chain_link("rec-1", 0, 0, bytes(32), None).hex()[:16]
'68a63f8dab0902db'
"""

from __future__ import annotations

from ledger.sm import sm3

__all__ = ["DOMAIN", "chain_link"]

DOMAIN = b"tiezheng.keyframe/v1\x00"


def chain_link(recording: str, index: int, t_ms: int, digest: bytes, prev: bytes | None) -> bytes:
    """The link of keyframe ``index`` at ``t_ms`` ms into ``recording`` with SM3 ``digest`` after ``prev``.

    Requires ``0 <= index``, ``0 <= t_ms < 2**63``, a 32-byte ``digest`` and ``prev`` (None for the first).
    """
    if len(digest) != 32 or (prev is not None and len(prev) != 32):
        raise ValueError("keyframe sm3 and previous link must be 32 bytes")
    return sm3(DOMAIN + recording.encode() + b"\x00" + index.to_bytes(8, "big") + t_ms.to_bytes(8, "big") + digest
               + (prev or bytes(32)))
