"""Independent decryptor and verifier for segmented media objects (docs/formats.md, "Media segments").

Written from the format page, not from ``ingest.media``: the STREAM construction over SM4-GCM, with nonce
``prefix(7) || index(4, big-endian) || final(1)`` and associated data ``header(48) || index(4) || final(1)``.
Pure functions over bytes and a data key the caller holds (a disclosed key, never one found in the evidence).

>>> SegmentedObject.from_bytes(b"TZMS").segments
Traceback (most recent call last):
verifier.errors.MalformedInput: media object is 4 bytes, shorter than its 48-byte header
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from verifier.errors import MalformedInput, VerificationFailed
from verifier.sm import sm3

__all__ = ["SegmentMismatch", "SegmentedObject", "decrypt_object", "verify_object"]

_HEADER = struct.Struct(">4sBI16s16s7s")
_TAG = 16
_MIN_SEGMENT, _MAX_SEGMENT = 16, 1 << 24


class SegmentMismatch(VerificationFailed):
    """A segment does not authenticate at its position, or the plaintext is not the recorded one (exit 1)."""


@dataclass(frozen=True)
class SegmentedObject:
    """A parsed object: the raw header, its fields, and the sealed segments in stored order."""

    header: bytes
    segment_size: int
    object_id: bytes
    data_key_id: bytes
    nonce_prefix: bytes
    segments: tuple[bytes, ...]

    @classmethod
    def from_bytes(cls, blob: bytes) -> SegmentedObject:
        """Split ``blob`` into header and segments; raises ``MalformedInput`` for a structure the format forbids."""
        if len(blob) < _HEADER.size:
            raise MalformedInput(f"media object is {len(blob)} bytes, shorter than its {_HEADER.size}-byte header")
        magic, version, size, object_id, key_id, prefix = _HEADER.unpack_from(blob)
        if magic != b"TZMS" or version != 1:
            raise MalformedInput(f"media header starts {magic!r} version {version}, want b'TZMS' version 1")
        if not _MIN_SEGMENT <= size <= _MAX_SEGMENT:
            raise MalformedInput(f"media segment size {size} is outside {_MIN_SEGMENT}..{_MAX_SEGMENT}")
        body, step = blob[_HEADER.size :], size + _TAG
        segments = tuple(body[i : i + step] for i in range(0, len(body), step))
        if not segments:
            raise MalformedInput("media object has a header but no segments")
        if len(segments[-1]) < _TAG:
            raise MalformedInput(f"last media segment is {len(segments[-1])} bytes, shorter than a {_TAG}-byte tag: "
                                 "the object was truncated or bytes were appended")
        if len(segments) > 1 and len(segments[-1]) == _TAG:
            raise MalformedInput("media object ends with an empty segment after the first")
        return cls(blob[: _HEADER.size], size, object_id, key_id, prefix, segments)


def _open(key: bytes, obj: SegmentedObject, index: int, final: bool) -> bytes | None:
    suffix = index.to_bytes(4, "big") + bytes([final])
    sealed = obj.segments[index]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(obj.nonce_prefix + suffix, sealed[-_TAG:])).decryptor()
    decryptor.authenticate_additional_data(obj.header + suffix)
    try:
        return decryptor.update(sealed[:-_TAG]) + decryptor.finalize()
    except InvalidTag:
        return None


def decrypt_object(data_key: bytes, blob: bytes, *, object_id: bytes) -> bytes:
    """Return the plaintext of ``blob`` after authenticating every segment under the 16-byte ``data_key``.

    ``object_id`` (16 bytes) is the id the evidence records for the object. Steps: 1. parse (malformed:
    ``MalformedInput``); 2. the header names ``object_id``; 3. segment ``i`` opens with index ``i`` and the
    final flag set exactly on the last; a failure raises ``SegmentMismatch`` saying which segment.
    """
    if len(data_key) != 16 or len(object_id) != 16:
        raise MalformedInput(f"data key and object id must be 16 bytes, got {len(data_key)} and {len(object_id)}")
    obj = SegmentedObject.from_bytes(blob)
    if obj.object_id != object_id:
        raise SegmentMismatch(f"media header names object {obj.object_id.hex()}, want {object_id.hex()}")
    last = len(obj.segments) - 1
    parts = []
    for index in range(len(obj.segments)):
        plaintext = _open(key=data_key, obj=obj, index=index, final=index == last)
        if plaintext is None:
            raise SegmentMismatch(_diagnose(data_key, obj, index, index == last))
        parts.append(plaintext)
    return b"".join(parts)


def _diagnose(key: bytes, obj: SegmentedObject, index: int, final: bool) -> str:
    if _open(key, obj, index, not final) is not None:
        if final:
            return f"media segment {index} is the last stored but not the final one: the object was truncated"
        return f"media segment {index} is the final one but more follow: segments or bytes were appended"
    return f"media segment {index} fails sm4-gcm authentication: altered, reordered, spliced or wrong key"


def verify_object(data_key: bytes, blob: bytes, *, object_id: bytes, plaintext_sm3: bytes, plaintext_size: int) -> None:
    """Check ``blob`` decrypts (``decrypt_object``) to ``plaintext_size`` bytes whose SM3 is ``plaintext_sm3``.

    Returns nothing; raises ``MalformedInput`` or ``SegmentMismatch``.
    """
    plaintext = decrypt_object(data_key, blob, object_id=object_id)
    if len(plaintext) != plaintext_size:
        raise SegmentMismatch(f"media plaintext is {len(plaintext)} bytes, want {plaintext_size}")
    digest = sm3(plaintext)
    if digest != plaintext_sm3:
        raise SegmentMismatch(f"media plaintext sm3 is {digest.hex()}, want {plaintext_sm3.hex()}")
