"""The object-store contract shared by every backend: the ``ObjectStore`` protocol, its one exception tree,
key rules, and the streaming reader that feeds a put's data to a backend in bounded pieces.

Keys are ``/``-separated paths of at most 1024 UTF-8 bytes; every backend refuses the same keys (an empty
segment, ``.`` or ``..``, a backslash, a control character, a leading ``/``), so an object never gets a key
that would escape a folder when it is mirrored to a filesystem.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import BinaryIO, Protocol, cast, runtime_checkable

__all__ = [
    "MAX_KEY_BYTES", "AccessDenied", "InvalidKey", "InvalidRange", "InvalidRetention", "KeyConflict",
    "LengthMismatch", "LockMode", "ObjectExists", "ObjectInfo", "ObjectLockUnsupported", "ObjectLocked",
    "ObjectNotFound", "ObjectStore", "ObjectStoreError", "PutData", "Retention", "SourceError",
    "StoreMisconfigured", "StoreUnavailable", "check_key", "check_range",
]

MAX_KEY_BYTES = 1024

PutData = bytes | BinaryIO | Iterable[bytes]
"""What ``put`` accepts: bytes, a binary file (anything with ``read(n)``), or an iterable of byte chunks."""


class ObjectStoreError(Exception):
    """Base of every object-store failure; the message says what was wrong and what to do."""


class InvalidKey(ObjectStoreError):
    """The key breaks the key rules (``..``, empty segment, ...) or would leave the store's root."""


class ObjectNotFound(ObjectStoreError):
    """No object has this key."""


class ObjectExists(ObjectStoreError):
    """A put without ``replace=True`` found an object under the key; nothing was written."""


class KeyConflict(ObjectStoreError):
    """The filesystem store cannot hold both ``a`` and ``a/b``: one of them is a folder of the other."""


class ObjectLocked(ObjectStoreError):
    """Object Lock retention forbids deleting or overwriting this object until its retain-until date."""


class ObjectLockUnsupported(ObjectStoreError):
    """A retention was asked of a store (or bucket) that cannot lock objects."""


class InvalidRetention(ObjectStoreError):
    """A locking store needs a retain-until date that is aware and in the future."""


class InvalidRange(ObjectStoreError):
    """A ranged read starts at or after the object's end, or has a negative offset or a length below 1."""


class LengthMismatch(ObjectStoreError):
    """The data of a put was shorter or longer than its declared length; nothing was stored."""


class SourceError(ObjectStoreError):
    """Reading the data handed to ``put`` failed (the caller's file or iterator raised)."""


class AccessDenied(ObjectStoreError):
    """The server refused the credentials or the filesystem refused the permission."""


class StoreUnavailable(ObjectStoreError):
    """The S3 server could not be reached or answered with a server error; retrying later may help."""


class StoreMisconfigured(ObjectStoreError):
    """The store's configuration is wrong: a missing bucket, a bad URL, an unusable root folder."""


class LockMode(StrEnum):
    """S3 Object Lock retention modes: GOVERNANCE (privileged users may bypass it), COMPLIANCE (nobody)."""

    GOVERNANCE = "GOVERNANCE"
    COMPLIANCE = "COMPLIANCE"


@dataclass(frozen=True)
class Retention:
    """An object's lock: its ``mode`` and the aware instant ``until`` which it cannot be deleted."""

    mode: LockMode
    until: datetime


@dataclass(frozen=True)
class ObjectInfo:
    """What ``stat`` tells about an object. ``etag`` is the S3 ETag (a multipart upload's ends in
    ``-<parts>``), ``None`` on the filesystem; ``retention`` is ``None`` for an unlocked object."""

    key: str
    size: int
    modified: datetime
    etag: str | None = None
    retention: Retention | None = None


@runtime_checkable
class ObjectStore(Protocol):
    """One object store: the local filesystem (embedded default) or an S3 bucket (MinIO, SeaweedFS).

    Every method raises only ``ObjectStoreError`` subclasses. Writes are all-or-nothing: a failed put leaves
    the key as it was.
    """

    @property
    def locking(self) -> LockMode | None:
        """The Object Lock mode every put writes with, or ``None`` when the store cannot lock objects."""
        ...

    def put(self, key: str, data: PutData, *, length: int | None = None, replace: bool = False,
            retain_until: datetime | None = None) -> ObjectInfo:
        """Store ``data`` under ``key``, streaming it in bounded pieces (never the whole object in memory).

        ``length`` is the declared size if known (a mismatch raises ``LengthMismatch`` and stores nothing).
        Without ``replace`` an existing key raises ``ObjectExists``; with it, a locked object raises
        ``ObjectLocked``. ``retain_until`` is required by a locking store and refused by the others
        (``ObjectLockUnsupported``). Returns the stored object's ``ObjectInfo``.
        """
        ...

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """The object's bytes from ``offset``, ``length`` of them (default: to the end; a range past the end
        is cut at the end). Raises ``ObjectNotFound``, ``InvalidRange``."""
        ...

    def stream(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Like ``get`` but as bounded chunks; a missing key or bad range raises at the call, not on the
        first chunk. Close the iterator (or exhaust it) to free the connection or file."""
        ...

    def stat(self, key: str) -> ObjectInfo:
        """The object's size, time, ETag and retention; ``ObjectNotFound`` if absent."""
        ...

    def exists(self, key: str) -> bool:
        """Whether an object has this key."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object and, on a versioned bucket, every version of it (so its bytes are gone).
        Raises ``ObjectNotFound`` if absent and ``ObjectLocked`` while its retention runs."""
        ...


def check_key(key: object) -> str:
    """``key`` if it follows the key rules (see the module docstring), else ``InvalidKey`` saying why."""
    if not isinstance(key, str) or not key:
        raise InvalidKey(f"object key must be a non-empty string, got {key!r}")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise InvalidKey(f"object key is longer than {MAX_KEY_BYTES} bytes: {key[:40]!r}...")
    bad = next((c for c in key if c == "\\" or ord(c) < 0x20 or ord(c) == 0x7F), None)
    if bad is not None:
        raise InvalidKey(f"object key {key!r} contains {bad!r}; use printable characters and '/' only")
    if key.startswith("/"):
        raise InvalidKey(f"object key {key!r} starts with '/'; keys are relative to the store")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"object key {key!r} has a {segment or 'empty'!r} segment; "
                             "'..', '.' and '//' are refused so no key can leave its folder")
    return key


def check_range(offset: int, length: int | None) -> None:
    """Refuse a negative ``offset`` or a ``length`` below 1 (``InvalidRange``)."""
    if offset < 0:
        raise InvalidRange(f"range offset must be >= 0, got {offset}")
    if length is not None and length < 1:
        raise InvalidRange(f"range length must be >= 1 or None (to the end), got {length}")


class PutReader:
    """A ``read(n)`` view of a put's data that holds at most one of the caller's chunks.

    It checks the declared ``length``: a source that ends early or has bytes beyond it raises
    ``LengthMismatch`` from ``read``, which aborts the backend's write before anything becomes visible.
    The caller's own exceptions come out as ``SourceError``.
    """

    def __init__(self, key: str, data: PutData, length: int | None) -> None:
        if length is not None and length < 0:
            raise LengthMismatch(f"declared length of {key!r} must be >= 0, got {length}")
        if isinstance(data, bytes | bytearray | memoryview):
            data, length = [bytes(data)], len(data) if length is None else length
        self.key, self.length, self.count = key, length, 0
        self._file = cast(BinaryIO, data) if callable(getattr(data, "read", None)) else None
        self._chunks = None if self._file is not None else iter(data)
        self._buffer, self._pos = b"", 0

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (at least 1 unless the data has ended); ``b""`` at the end."""
        want = size if size >= 0 else 1 << 20
        if self.length is not None:
            want = min(want, self.length - self.count)
            if want == 0:
                self._expect_end()
                return b""
        chunk = self._next(want) if want else b""
        self.count += len(chunk)
        if self.length is not None and not chunk and self.count < self.length:
            raise LengthMismatch(f"data for {self.key!r} ended after {self.count} bytes, but its declared "
                                 f"length is {self.length}; nothing was stored")
        if self.length is not None and self.count == self.length:
            self._expect_end()
        return chunk

    def _expect_end(self) -> None:
        if self._next(1):
            raise LengthMismatch(f"data for {self.key!r} is longer than its declared length of "
                                 f"{self.length} bytes; nothing was stored")

    def _next(self, want: int) -> bytes:
        try:
            if self._file is not None:
                return self._checked(self._file.read(want))
            while self._pos >= len(self._buffer):
                self._buffer, self._pos = self._checked(next(self._chunks)), 0  # type: ignore[arg-type]
        except StopIteration:
            return b""
        except ObjectStoreError:
            raise
        except Exception as exc:
            raise SourceError(f"reading the data for {self.key!r} failed after {self.count} bytes: "
                              f"{type(exc).__name__}: {exc}") from exc
        chunk = self._buffer[self._pos:self._pos + want]
        self._pos += len(chunk)
        return chunk

    def _checked(self, chunk: object) -> bytes:
        if not isinstance(chunk, bytes | bytearray | memoryview):
            raise SourceError(f"data for {self.key!r} yielded {type(chunk).__name__}, not bytes")
        return bytes(chunk)
