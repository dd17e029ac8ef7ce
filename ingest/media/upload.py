"""Resumable uploads into the segment format: sealed segments staged on disk across requests (tus 1.0).

A resumable upload (the tus protocol: a phone sends the file in PATCH requests and, after a cut, asks how
far the server got and goes on from there) arrives over many requests, possibly across a server restart.
``StagedUpload`` keeps it encrypted from the first byte: each complete segment is sealed with the object's
data key (``ingest.media.format``) and appended to a staging file that holds the object's header and sealed
segments, exactly the bytes the object store will get. No plaintext is ever written to disk.

What is acknowledged is what is sealed: the upload's offset is the plaintext length of the whole segments
in the staging file. Bytes of a request that do not complete a segment (the tail of a cut request, or of a
PATCH whose length is not a multiple of the segment size) are not acknowledged and the client sends them
again. This is required, not a shortcut: sealing a partial segment and later the full one under the same
index would reuse a GCM nonce with different plaintext, which leaks both and the authentication key.

The SM3 of the plaintext is hashed as segments are sealed — on a helper thread, overlapping the sealing of
the same segment (hashlib releases the GIL while it hashes), one segment in flight — and kept in memory between requests of one
process (``HashCache``); after a restart, or in another process, it is rebuilt by decrypting the staged
segments (authenticating them too: a torn last segment from a crash is cut off and re-sent). One writer at a
time: the staging file is locked (``flock``) while a request appends to it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Self

from cryptography.hazmat.primitives import hashes

from ingest.media.errors import MediaError, SegmentTampered, SizeMismatch
from ingest.media.format import HEADER_SIZE, TAG_SIZE, Header, Layout, open_segment, seal_segment

__all__ = ["HashCache", "StagedUpload", "UploadBusy", "create_staging", "staged_offset"]


class UploadBusy(MediaError):
    """Another request is appending to this upload right now; wait for it (or its cut) and resume."""


def _new_hash() -> Any:
    return hashlib.new("sm3") if "sm3" in hashlib.algorithms_available else hashes.Hash(hashes.SM3())


def _digest(hasher: Any) -> bytes:
    copy = hasher.copy()
    result: bytes = copy.digest() if hasattr(copy, "digest") else copy.finalize()
    return result


@dataclass
class HashCache:
    """The running SM3 of each open upload in this process, keyed by staging path, with its offset."""

    _entries: dict[Path, tuple[int, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, path: Path, offset: int) -> Any | None:
        """The hasher of ``path`` if it has hashed exactly ``offset`` bytes, else None (removed either way)."""
        with self._lock:
            entry = self._entries.pop(path, None)
        return entry[1] if entry is not None and entry[0] == offset else None

    def put(self, path: Path, offset: int, hasher: Any) -> None:
        """Keep ``hasher`` (which has hashed ``offset`` bytes) for the next request on ``path``."""
        with self._lock:
            self._entries[path] = (offset, hasher)

    def drop(self, path: Path) -> None:
        """Forget ``path`` (its upload completed or was terminated)."""
        with self._lock:
            self._entries.pop(path, None)


def create_staging(path: Path, header: Header) -> None:
    """Start the staging file of a new upload: its header, fsynced. Raises ``FileExistsError`` if it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as out:
        out.write(header.to_bytes())
        out.flush()
        os.fsync(out.fileno())


def staged_offset(path: Path, header: Header, length: int, *, wait: float = 10.0) -> int:
    """The acknowledged offset of a staged upload, read once no request is writing it (up to ``wait`` s; a
    PATCH cut by the network may still be sealing what arrived). 0 if there is no staging file."""
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return 0
    with file:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    break  # answer what is on disk now; the client will find out with its next PATCH
                time.sleep(0.02)
        layout, size = Layout(header.segment_size, length), os.fstat(file.fileno()).st_size - HEADER_SIZE
        count, end = 0, 0
        while count < layout.segment_count and end + layout.location(count)[1] <= size:
            end += layout.location(count)[1]
            count += 1
        return length if count == layout.segment_count else count * header.segment_size


class StagedUpload:
    """One request's hold on a staged upload: append plaintext, seal whole segments, finish at the end.

    Open with ``StagedUpload.open`` (a context manager: it locks the staging file, and on exit flushes,
    fsyncs, unlocks and keeps the running hash for the next request).
    """

    def __init__(self, path: Path, file: BinaryIO, header: Header, key: bytes, length: int, cache: HashCache) -> None:
        self.path, self._file, self.header, self._key, self.length = path, file, header, key, length
        self._cache, self._layout = cache, Layout(header.segment_size, length)
        self._pending = bytearray()
        self._index = self._sealed_segments()
        self._hasher = cache.take(path, self.offset) or self._rehash()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="sm3")
        self._hashing: Future[None] | None = None

    @classmethod
    def open(cls, path: Path, header: Header, key: bytes, length: int, cache: HashCache) -> Self:
        """Lock and open the staging file of an upload of ``length`` plaintext bytes under ``key``.

        Raises ``UploadBusy`` if another request holds it, ``FileNotFoundError`` if there is none,
        ``MalformedObject`` if its header is not ``header``.
        """
        file = open(path, "r+b")  # noqa: SIM115 - closed by __exit__
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            file.close()
            raise UploadBusy(f"upload {header.object_id} is being written by another request; retry once it "
                             "ends (HEAD tells the offset)") from exc
        try:
            if file.read(HEADER_SIZE) != header.to_bytes():
                raise SegmentTampered(f"staging file of upload {header.object_id} does not start with its header")
            return cls(path, file, header, key, length, cache)
        except BaseException:
            file.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def offset(self) -> int:
        """Plaintext bytes acknowledged: those of the sealed segments."""
        if self._index == self._layout.segment_count:
            return self.length
        return self._index * self.header.segment_size

    @property
    def complete(self) -> bool:
        """Whether every segment, the final one included, is sealed."""
        return self._index == self._layout.segment_count

    def _sealed_segments(self) -> int:
        """Whole sealed segments in the file; a torn tail (a crash mid-write) is cut off."""
        size = os.fstat(self._file.fileno()).st_size - HEADER_SIZE
        count, end = 0, 0
        while count < self._layout.segment_count:
            length = self._layout.plaintext_length(count) + TAG_SIZE
            if end + length > size:
                break
            count, end = count + 1, end + length
        if end != size:
            self._file.truncate(HEADER_SIZE + end)
        self._file.seek(HEADER_SIZE + end)
        return count

    def _rehash(self) -> Any:
        """SM3 of the sealed plaintext, by decrypting the staging file (after a restart or in a new process)."""
        hasher = _new_hash()
        self._file.seek(HEADER_SIZE)
        for index in range(self._index):
            sealed = self._file.read(self._layout.plaintext_length(index) + TAG_SIZE)
            try:
                hasher.update(open_segment(self._key, self.header, index, self._is_final(index), sealed))
            except SegmentTampered:  # torn by a crash: keep what authenticates, the client re-sends the rest
                self._file.truncate(self._layout.location(index)[0])
                self._index = index
                break
        self._file.seek(0, os.SEEK_END)
        return hasher

    def _is_final(self, index: int) -> bool:
        return index == self._layout.segment_count - 1

    def append(self, data: bytes) -> None:
        """Add plaintext bytes that follow the offset; every segment they complete is sealed and written.

        Raises ``SizeMismatch`` (nothing of ``data`` kept) if they run past the declared length.
        """
        if self.offset + len(self._pending) + len(data) > self.length:
            raise SizeMismatch(f"upload {self.header.object_id} is declared as {self.length} bytes; these bytes "
                               f"would end at {self.offset + len(self._pending) + len(data)}")
        view, pos = memoryview(data), 0
        while not self.complete:
            want = self._layout.plaintext_length(self._index) - len(self._pending)
            if len(view) - pos < want:
                break
            block = bytes(self._pending) + bytes(view[pos:pos + want]) if self._pending else bytes(view[pos:pos + want])
            self._pending.clear()
            pos += want
            self._seal(block)
        self._pending += view[pos:]

    def _seal(self, block: bytes) -> None:
        """Hash ``block`` on the helper thread while sealing and writing it as the next segment."""
        self._wait_hash()
        self._hashing = self._pool.submit(self._hasher.update, block)
        self._file.write(seal_segment(self._key, self.header, self._index, self._is_final(self._index), block))
        self._index += 1

    def _wait_hash(self) -> None:
        if self._hashing is not None:
            self._hashing.result()
            self._hashing = None

    def digest(self) -> bytes:
        """SM3 of all plaintext sealed so far (the whole upload's once ``complete``)."""
        self._wait_hash()
        return _digest(self._hasher)

    def sync(self) -> None:
        """Make the sealed segments durable (before the staging file is read or acknowledged)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Make the sealed segments durable, keep the hash for the next request, unlock (idempotent)."""
        if self._file.closed:
            return
        try:
            self._wait_hash()
            self.sync()
            self._cache.put(self.path, self.offset, self._hasher)
        finally:
            self._pool.shutdown()
            self._file.close()  # closing releases the flock
