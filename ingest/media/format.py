"""The byte layout of a segmented media object: its header, segment nonces and associated data, and sizes.

Byte-exact in docs/formats.md, "Media segments" (the STREAM construction as Tink lays it out; see
``ingest.media.segments`` for why). ``verifier/segments.py`` re-implements this independently.

>>> layout = Layout(segment_size=65536, plaintext_size=200_000)
>>> layout.segment_count, layout.object_size, list(layout.segment_span(65535, 65537))
(4, 200112, [0, 1])
"""

from __future__ import annotations

import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ingest.media.errors import MalformedObject, SegmentTampered, TrailingData, TruncatedObject

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "HEADER_SIZE",
    "MAX_SEGMENTS",
    "MAX_SEGMENT_SIZE",
    "MIN_SEGMENT_SIZE",
    "NONCE_PREFIX_SIZE",
    "TAG_SIZE",
    "Header",
    "Layout",
    "open_segment",
    "seal_segment",
]

MAGIC = b"TZMS"
VERSION = 1
HEADER_SIZE = 48
TAG_SIZE = 16
NONCE_PREFIX_SIZE = 7
DEFAULT_SEGMENT_SIZE = 64 * 1024
MIN_SEGMENT_SIZE = 16
MAX_SEGMENT_SIZE = 1 << 24
MAX_SEGMENTS = 1 << 32
_HEADER = struct.Struct(">4sBI16s16s7s")
_KEY_CONTEXT = b"tiezheng.media-key/v1|"


@dataclass(frozen=True)
class Header:
    """The per-object header: format version, object id, segment size, data-key id and nonce prefix.

    Requires ``MIN_SEGMENT_SIZE <= segment_size <= MAX_SEGMENT_SIZE`` and a 7-byte ``nonce_prefix``.
    """

    object_id: uuid.UUID
    data_key_id: uuid.UUID
    segment_size: int
    nonce_prefix: bytes

    def __post_init__(self) -> None:
        if not MIN_SEGMENT_SIZE <= self.segment_size <= MAX_SEGMENT_SIZE:
            raise MalformedObject(
                f"segment size {self.segment_size} is out of range: want {MIN_SEGMENT_SIZE} to {MAX_SEGMENT_SIZE}"
            )
        if len(self.nonce_prefix) != NONCE_PREFIX_SIZE:
            raise MalformedObject(f"nonce prefix is {len(self.nonce_prefix)} bytes, want {NONCE_PREFIX_SIZE}")

    def to_bytes(self) -> bytes:
        """The 48 header bytes that start the object and open every segment's associated data."""
        return _HEADER.pack(MAGIC, VERSION, self.segment_size, self.object_id.bytes, self.data_key_id.bytes,
                            self.nonce_prefix)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Header:
        """Parse the first 48 bytes of an object; raises ``MalformedObject`` for a wrong length, magic or version."""
        if len(raw) != HEADER_SIZE:
            raise MalformedObject(f"media header is {len(raw)} bytes, want {HEADER_SIZE}: the object is truncated")
        magic, version, size, object_id, key_id, prefix = _HEADER.unpack(raw)
        if magic != MAGIC:
            raise MalformedObject(f"not a segmented media object: magic is {magic!r}, want {MAGIC!r}")
        if version != VERSION:
            raise MalformedObject(f"media format version {version} is not supported, want {VERSION}")
        return cls(uuid.UUID(bytes=object_id), uuid.UUID(bytes=key_id), size, prefix)

    def key_context(self) -> bytes:
        """The associated data that binds the wrapped data key to this object's header."""
        return _KEY_CONTEXT + self.to_bytes()


@dataclass(frozen=True)
class Layout:
    """Where each segment of an object with ``plaintext_size`` bytes lies (requires ``plaintext_size >= 0``)."""

    segment_size: int
    plaintext_size: int

    def __post_init__(self) -> None:
        if self.plaintext_size < 0:
            raise ValueError(f"plaintext size must be >= 0, got {self.plaintext_size}")

    @property
    def segment_count(self) -> int:
        """Number of segments: at least one (an empty object has one empty final segment)."""
        return max(1, -(-self.plaintext_size // self.segment_size))

    @property
    def object_size(self) -> int:
        """Bytes of the stored object: header, plaintext and one tag per segment."""
        return HEADER_SIZE + self.plaintext_size + TAG_SIZE * self.segment_count

    def plaintext_length(self, index: int) -> int:
        """Plaintext bytes in segment ``index`` (requires ``0 <= index < segment_count``)."""
        if index < self.segment_count - 1:
            return self.segment_size
        return self.plaintext_size - self.segment_size * (self.segment_count - 1)

    def location(self, index: int) -> tuple[int, int]:
        """``(offset, length)`` of sealed segment ``index`` in the stored object."""
        return HEADER_SIZE + index * (self.segment_size + TAG_SIZE), self.plaintext_length(index) + TAG_SIZE

    def segment_span(self, start: int, end: int) -> range:
        """The segments holding plaintext bytes ``[start, end)``; requires ``0 <= start <= end <= plaintext_size``."""
        if not 0 <= start <= end <= self.plaintext_size:
            raise ValueError(f"range [{start}, {end}) is not within the plaintext's {self.plaintext_size} bytes")
        if start == end:
            return range(0)
        return range(start // self.segment_size, (end - 1) // self.segment_size + 1)


def _nonce(header: Header, index: int, final: bool) -> bytes:
    return header.nonce_prefix + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


def _aad(header_bytes: bytes, index: int, final: bool) -> bytes:
    return header_bytes + index.to_bytes(4, "big") + (b"\x01" if final else b"\x00")


def seal_segment(key: bytes, header: Header, index: int, final: bool, plaintext: bytes) -> bytes:
    """SM4-GCM seal one segment: ciphertext || 16-byte tag (requires ``0 <= index < 2**32``)."""
    if not 0 <= index < MAX_SEGMENTS:
        raise MalformedObject(f"segment index {index} exceeds the format's {MAX_SEGMENTS} segments")
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(_nonce(header, index, final))).encryptor()
    encryptor.authenticate_additional_data(_aad(header.to_bytes(), index, final))
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def _try_open(key: bytes, header: Header, index: int, final: bool, sealed: bytes) -> bytes | None:
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(_nonce(header, index, final), sealed[-TAG_SIZE:])).decryptor()
    decryptor.authenticate_additional_data(_aad(header.to_bytes(), index, final))
    try:
        return decryptor.update(sealed[:-TAG_SIZE]) + decryptor.finalize()
    except InvalidTag:
        return None


def open_segment(key: bytes, header: Header, index: int, final: bool, sealed: bytes) -> bytes:
    """Authenticate and decrypt segment ``index``, which must be the final one exactly when ``final``.

    Raises ``MalformedObject`` for a segment too short to hold a tag or an empty final segment after the
    first; ``TruncatedObject`` if the object ends at a segment that is not final; ``TrailingData`` if the
    final segment is followed by more; ``SegmentTampered`` for any other authentication failure.
    """
    if len(sealed) < TAG_SIZE:
        raise MalformedObject(f"segment {index} is {len(sealed)} bytes, shorter than its {TAG_SIZE}-byte tag")
    if final and index > 0 and len(sealed) == TAG_SIZE:
        raise MalformedObject(f"segment {index} is an empty final segment: only an empty object has one")
    plaintext = _try_open(key, header, index, final, sealed)
    if plaintext is not None:
        return plaintext
    if _try_open(key, header, index, not final, sealed) is not None:
        if final:
            raise TruncatedObject(f"the object ends after segment {index}, which is not its final segment: "
                                  "segments were cut off the end")
        raise TrailingData(f"segment {index} is the final segment but more bytes follow it: data was appended")
    raise SegmentTampered(f"segment {index} fails authentication: it was altered, moved from another position, "
                          "taken from another object, or the data key is wrong")
