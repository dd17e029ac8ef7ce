"""The embedded default object store: one file per object under a root folder.

A put writes a temporary file in the root's ``.incoming`` folder, fsyncs it, and only then moves it into
place (``link`` for a new key, so two writers cannot both create it; ``rename`` to replace), then fsyncs the
folder: a crash leaves either the old object or the new one, never a torn file. Keys that would leave the
root, directly or through a symlink, are refused. This store cannot lock objects.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from ingest.objectstore.base import (
    AccessDenied,
    InvalidKey,
    InvalidRange,
    KeyConflict,
    LockMode,
    ObjectExists,
    ObjectInfo,
    ObjectLockUnsupported,
    ObjectNotFound,
    ObjectStoreError,
    PutData,
    PutReader,
    StoreMisconfigured,
    check_key,
    check_range,
)

__all__ = ["FilesystemObjectStore"]

_INCOMING = ".incoming"


class FilesystemObjectStore:
    """Objects as files under ``root`` (created if missing); ``chunk_size`` bounds every read and write."""

    def __init__(self, root: str | os.PathLike[str], *, chunk_size: int = 1 << 20) -> None:
        try:
            Path(root, _INCOMING).mkdir(parents=True, exist_ok=True)
            self.root = Path(root).resolve(strict=True)
        except OSError as exc:
            raise StoreMisconfigured(f"object store root {str(root)!r} is unusable: {exc.strerror}; "
                                     "pass a writable folder") from exc
        self.chunk_size = chunk_size

    @property
    def locking(self) -> LockMode | None:
        """Always ``None``: a filesystem cannot enforce Object Lock retention."""
        return None

    def put(self, key: str, data: PutData, *, length: int | None = None, replace: bool = False,
            retain_until: datetime | None = None) -> ObjectInfo:
        """See ``ObjectStore.put``; ``retain_until`` raises ``ObjectLockUnsupported``."""
        path = self._path(key)
        if retain_until is not None:
            raise ObjectLockUnsupported(f"the filesystem store at {self.root} cannot lock {key!r} until "
                                        f"{retain_until}; use an S3 bucket with Object Lock for retention")
        reader = PutReader(key, data, length)
        with self._errors("put", key):
            fd, tmp = tempfile.mkstemp(dir=self.root / _INCOMING, prefix="put-")
            try:
                with os.fdopen(fd, "wb") as out:
                    self._copy(reader, out)
                self._make_parents(path.parent)
                self._place(key, tmp, path, replace)
                _fsync_dir(path.parent)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
        return self.stat(key)

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """See ``ObjectStore.get``."""
        return b"".join(self.stream(key, offset=offset, length=length))

    def stream(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """See ``ObjectStore.stream``."""
        path = self._path(key)
        check_range(offset, length)
        with self._errors("get", key):
            if not path.is_file():
                raise FileNotFoundError(2, "no such object")
            file = path.open("rb")
        size = os.fstat(file.fileno()).st_size
        if offset >= size and (offset > 0 or length is not None):
            file.close()
            raise InvalidRange(f"range starts at byte {offset} but {key!r} has {size} bytes")
        file.seek(offset)
        return self._chunks(file, key, size - offset if length is None else min(length, size - offset))

    def stat(self, key: str) -> ObjectInfo:
        """See ``ObjectStore.stat``."""
        path = self._path(key)
        with self._errors("stat", key):
            if not path.is_file():
                raise FileNotFoundError(2, "no such object")
            st = path.stat()
        return ObjectInfo(key=key, size=st.st_size, modified=datetime.fromtimestamp(st.st_mtime, UTC))

    def exists(self, key: str) -> bool:
        """See ``ObjectStore.exists``."""
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        """See ``ObjectStore.delete``; empty folders left behind are kept (harmless, and racy to remove)."""
        path = self._path(key)
        with self._errors("delete", key):
            if not path.is_file():
                raise FileNotFoundError(2, "no such object")
            path.unlink()
            _fsync_dir(path.parent)

    def _path(self, key: str) -> Path:
        segments = check_key(key).split("/")
        if segments[0] == _INCOMING:
            raise InvalidKey(f"object key {key!r} is refused: {_INCOMING!r} is the store's own folder")
        path = self.root.joinpath(*segments)
        if not path.resolve().is_relative_to(self.root):
            raise InvalidKey(f"object key {key!r} leads outside the store's root {self.root} "
                             "(through a symbolic link); nothing was read or written")
        return path

    def _copy(self, reader: PutReader, out: BinaryIO) -> None:
        while chunk := reader.read(self.chunk_size):
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())

    def _place(self, key: str, tmp: str, path: Path, replace: bool) -> None:
        if replace:
            if path.is_dir():
                raise IsADirectoryError(21, "is a folder of other keys")
            os.replace(tmp, path)
            return
        try:
            os.link(tmp, path)
        except FileExistsError as exc:
            raise ObjectExists(f"an object {key!r} already exists; pass replace=True to overwrite it") from exc

    def _make_parents(self, folder: Path) -> None:
        missing = []
        while not folder.exists() and folder != self.root:
            missing.append(folder)
            folder = folder.parent
        for created in reversed(missing):
            created.mkdir(exist_ok=True)
            _fsync_dir(created.parent)

    def _chunks(self, file: BinaryIO, key: str, remaining: int) -> Iterator[bytes]:
        with file, self._errors("get", key):
            while remaining > 0:
                chunk = file.read(min(self.chunk_size, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    @contextlib.contextmanager
    def _errors(self, action: str, key: str) -> Iterator[None]:
        """Translate OS errors, once, into the object-store tree."""
        try:
            yield
        except ObjectStoreError:
            raise
        except FileNotFoundError as exc:
            raise ObjectNotFound(f"no object {key!r} in the filesystem store at {self.root}") from exc
        except (IsADirectoryError, NotADirectoryError) as exc:
            raise KeyConflict(f"cannot {action} {key!r}: the filesystem store cannot hold a key and keys "
                              "below it ('a' and 'a/b'); choose keys that are not prefixes of others") from exc
        except PermissionError as exc:
            raise AccessDenied(f"cannot {action} {key!r} under {self.root}: permission denied; "
                               "check the folder's owner and mode") from exc
        except OSError as exc:
            raise ObjectStoreError(f"filesystem {action} of {key!r} under {self.root} failed: "
                                   f"{exc.strerror or exc}") from exc


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
