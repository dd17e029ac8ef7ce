"""Streaming SM4-GCM for media uploads: fixed-size segments, SM3 while streaming, commit only on a match.

Design: the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár ("Online Authenticated-Encryption
and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015), laid out as Google Tink's AES-GCM-HKDF streaming AEAD
does for a 12-byte GCM nonce: nonce = 7-byte random prefix || 32-bit big-endian segment index || last-segment
byte. STREAM is what Tink and age both use and it is proven to give nOAE security, so truncation, reordering
and appending are detected by construction. We take from age its key handling and final-segment rule: a fresh
random 16-byte data key per object (like age's file key, so no per-stream key derivation is needed; it is
wrapped by the tenant's key through ``ledger.keystore.DataKeyWrapper``, as payloads are), and a final segment
that is empty only when the whole plaintext is. Unlike either, the 48-byte header (version, object id,
segment size, data-key id, nonce prefix) and the index and final flag also form every segment's associated
data, so a segment moved between two objects that shared a key still fails, and the header needs no tag of its
own. Byte-exact format: docs/formats.md, "Media segments"; ``verifier/segments.py`` reads it independently.

Memory stays constant whatever the size: iterators in, iterators out, one segment buffered.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Self

from cryptography.hazmat.primitives import hashes

from ingest.media.errors import DigestMismatch, SegmentTampered, SizeMismatch, TrailingData, TruncatedObject
from ingest.media.format import (
    DEFAULT_SEGMENT_SIZE,
    HEADER_SIZE,
    NONCE_PREFIX_SIZE,
    TAG_SIZE,
    Header,
    Layout,
    open_segment,
    seal_segment,
)
from ingest.media.sinks import Sink
from ledger.keystore import DataKeyWrapper

__all__ = ["Fetch", "Random", "StoredObject", "decrypt_stream", "encrypt_stream", "encrypt_upload",
           "open_data_key", "read_range"]

Fetch = Callable[[int, int], bytes]
"""Reads the stored object: ``fetch(offset, length)`` returns those bytes, fewer only where the object ends."""

Random = Callable[[int], bytes]
"""A source of random bytes, ``os.urandom`` unless a test or the vector generator needs determinism."""

_DATA_KEY_SIZE = 16
_SM3_SIZE = 32


@dataclass(frozen=True)
class StoredObject:
    """What the caller records about a committed object: its header, wrapped data key and plaintext facts."""

    header: Header
    wrapped_key: bytes
    plaintext_size: int
    sm3: bytes

    @property
    def layout(self) -> Layout:
        """Where the object's segments lie."""
        return Layout(self.header.segment_size, self.plaintext_size)


def _blocks(chunks: Iterable[bytes], size: int) -> Iterator[tuple[bytes, bool]]:
    """Re-cut ``chunks`` into blocks of ``size`` bytes, each with a flag telling whether it is the last.

    The last block is shorter or full; it is empty only if there was no data at all.
    """
    buf = bytearray()
    pending: bytes | None = None
    for chunk in chunks:
        buf += chunk
        start = 0
        while len(buf) - start >= size:
            if pending is not None:
                yield pending, False
            pending = bytes(buf[start : start + size])
            start += size
        del buf[:start]
    if pending is not None and buf:
        yield pending, False
        pending = None
    yield (bytes(buf), True) if pending is None else (pending, True)


def encrypt_stream(key: bytes, header: Header, plaintext: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the object: the header bytes, then each sealed segment of ``plaintext`` under ``key``.

    The caller chooses the key and header (``encrypt_upload`` draws fresh ones); nothing is hashed here.
    """
    yield header.to_bytes()
    for index, (block, final) in enumerate(_blocks(plaintext, header.segment_size)):
        yield seal_segment(key, header, index, final, block)


def _split_header(chunks: Iterable[bytes]) -> tuple[bytes, Iterator[bytes]]:
    it = iter(chunks)
    head = bytearray()
    for chunk in it:
        head += chunk
        if len(head) >= HEADER_SIZE:
            break
    rest = bytes(head[HEADER_SIZE:])
    return bytes(head[:HEADER_SIZE]), _chain(rest, it)


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from rest


def _check_object_id(header: Header, object_id: uuid.UUID) -> None:
    if header.object_id != object_id:
        raise SegmentTampered(f"object header names object {header.object_id}, want {object_id}: "
                              "this is another object's data")


def decrypt_stream(key: bytes, stored: Iterable[bytes], *, object_id: uuid.UUID) -> Iterator[bytes]:
    """Yield the plaintext of a stored object read in order, one authenticated segment at a time.

    ``object_id`` is the id the caller expects in the header. Every yielded segment is authentic at its
    position, but only the end shows the object complete: consume to the end before trusting the whole.
    Raises ``MalformedObject``, ``TruncatedObject``, ``TrailingData`` or ``SegmentTampered`` (see
    ``ingest.media.format.open_segment``).
    """
    raw_header, rest = _split_header(stored)
    header = Header.from_bytes(raw_header)
    _check_object_id(header, object_id)
    records = _blocks(rest, header.segment_size + TAG_SIZE)
    for index, (record, final) in enumerate(records):
        if not record:
            raise TruncatedObject("the object has a header but no segments: it was truncated")
        yield open_segment(key, header, index, final, record)


def encrypt_upload(
    plaintext: Iterable[bytes], sink: Sink, *, tenant: str, wrapper: DataKeyWrapper, object_id: uuid.UUID,
    expected_sm3: bytes, expected_size: int | None = None, segment_size: int = DEFAULT_SEGMENT_SIZE,
    random: Random = os.urandom,
) -> StoredObject:
    """Encrypt ``plaintext`` into ``sink`` under a fresh data key; commit only if its SM3 is ``expected_sm3``.

    ``tenant`` and ``wrapper`` wrap the data key (bound to the header); ``object_id`` goes into the header;
    ``expected_size``, when given, stops an upload as soon as it runs longer. On any error the sink is
    aborted, so nothing of a refused upload is kept. Returns what to record about the object.
    Raises ``DigestMismatch`` or ``SizeMismatch`` (nothing stored), ``MalformedObject`` for a bad
    ``segment_size``, ``ValueError`` for an ``expected_sm3`` that is not 32 bytes (the sink aborted in
    every case).
    """
    try:
        if len(expected_sm3) != _SM3_SIZE:
            raise ValueError(f"expected sm3 must be {_SM3_SIZE} bytes, got {len(expected_sm3)}")
        header = Header(object_id, uuid.UUID(bytes=random(16), version=4), segment_size, random(NONCE_PREFIX_SIZE))
        key = random(_DATA_KEY_SIZE)
        size, digest = _seal_into(sink, key, header, plaintext, expected_size)
        _check_declared(size, digest, expected_size, expected_sm3)
        wrapped = wrapper.wrap(tenant, key, context=header.key_context())
        sink.commit()
    except BaseException:
        sink.abort()
        raise
    return StoredObject(header=header, wrapped_key=wrapped, plaintext_size=size, sm3=digest)


def _seal_into(sink: Sink, key: bytes, header: Header, plaintext: Iterable[bytes],
               limit: int | None) -> tuple[int, bytes]:
    sink.write(header.to_bytes())
    size = 0
    with _Sm3() as hasher:
        for index, (block, final) in enumerate(_blocks(plaintext, header.segment_size)):
            size += len(block)
            if limit is not None and size > limit:
                raise SizeMismatch(f"upload is longer than the declared {limit} bytes; nothing was stored")
            hasher.update(block)
            sink.write(seal_segment(key, header, index, final, block))
        return size, hasher.digest()


class _Sm3:
    """SM3 of the plaintext, hashed on a helper thread while this one encrypts the same segment.

    hashlib releases the GIL while it hashes, so SM3 and SM4-GCM overlap on two cores; at most one segment
    is in flight, so memory stays constant. Without OpenSSL's SM3 in hashlib, it hashes inline.
    """

    def __init__(self, *, threaded: bool = "sm3" in hashlib.algorithms_available) -> None:
        self._inline = not threaded
        self._hash: Any = hashes.Hash(hashes.SM3()) if self._inline else hashlib.new("sm3")
        self._pool = None if self._inline else ThreadPoolExecutor(1, thread_name_prefix="sm3")
        self._pending: Future[None] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self._wait()
        if self._pool is not None:
            self._pool.shutdown()

    def _wait(self) -> None:
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def update(self, block: bytes) -> None:
        self._wait()
        if self._pool is None:
            self._hash.update(block)
        else:
            self._pending = self._pool.submit(self._hash.update, block)

    def digest(self) -> bytes:
        self._wait()
        result: bytes = self._hash.finalize() if self._inline else self._hash.digest()
        return result


def _check_declared(size: int, digest: bytes, expected_size: int | None, expected_sm3: bytes) -> None:
    if expected_size is not None and size != expected_size:
        raise SizeMismatch(f"upload is {size} bytes, declared {expected_size}; nothing was stored")
    if digest != expected_sm3:
        raise DigestMismatch(f"sm3 of the upload is {digest.hex()}, declared {expected_sm3.hex()}; "
                             "nothing was stored: check the file and upload it again")


def open_data_key(stored: StoredObject, *, tenant: str, wrapper: DataKeyWrapper) -> bytes:
    """Unwrap the object's data key; raises the wrapper's ``MalformedInput`` if it or the header was altered."""
    return wrapper.unwrap(tenant, stored.wrapped_key, context=stored.header.key_context())


def read_range(key: bytes, fetch: Fetch, *, object_id: uuid.UUID, plaintext_size: int, start: int,
               end: int) -> Iterator[bytes]:
    """Yield plaintext bytes ``[start, end)``, fetching and decrypting only the segments they touch.

    ``plaintext_size`` is the size recorded for the object (its ``media.stored`` event); requires
    ``0 <= start <= end <= plaintext_size``. Reading the final segment also checks nothing follows it.
    Raises ``ValueError`` for a bad range, else what ``decrypt_stream`` raises.
    """
    header = Header.from_bytes(fetch(0, HEADER_SIZE))
    _check_object_id(header, object_id)
    layout = Layout(header.segment_size, plaintext_size)
    for index in layout.segment_span(start, end):
        plaintext = _fetch_segment(key, fetch, header, layout, index)
        base = index * header.segment_size
        yield plaintext[max(start - base, 0) : end - base]


def _fetch_segment(key: bytes, fetch: Fetch, header: Header, layout: Layout, index: int) -> bytes:
    offset, length = layout.location(index)
    final = index == layout.segment_count - 1
    sealed = fetch(offset, length + 1 if final else length)
    if len(sealed) < length:
        raise TruncatedObject(f"segment {index} should be {length} bytes at offset {offset}, the object holds "
                              f"{len(sealed)}: it was truncated or is not {layout.plaintext_size} bytes of plaintext")
    if len(sealed) > length:
        open_segment(key, header, index, final, sealed[:length])
        raise TrailingData(f"the object continues after its final segment {index}: it is longer than "
                           f"{layout.object_size} bytes, so data was appended or the recorded size is wrong")
    return open_segment(key, header, index, final, sealed)
