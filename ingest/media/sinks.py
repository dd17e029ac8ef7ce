"""Where an upload's ciphertext goes: a ``Sink`` that keeps nothing until ``commit`` is called.

``encrypt_upload`` writes every sealed byte to a sink and commits only after the plaintext's SM3 matched
what the uploader declared; on any failure it calls ``abort``, which must discard what was written. An object
store implements the protocol with a staged (multipart) upload; ``FileSink`` and ``MemorySink`` are the two
local ones.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Protocol

__all__ = ["FileSink", "MemorySink", "Sink"]


class Sink(Protocol):
    """Receives an object's bytes in order; nothing is visible to readers before ``commit``."""

    def write(self, data: bytes) -> None:
        """Append ``data`` to the staged object."""
        ...

    def commit(self) -> None:
        """Make the staged object durable and visible; called once, after every check passed."""
        ...

    def abort(self) -> None:
        """Discard everything written; called instead of ``commit`` on any failure."""
        ...


class MemorySink:
    """Stages in memory; ``value()`` answers only after ``commit`` (for small objects and tests)."""

    def __init__(self) -> None:
        self._staged: bytearray | None = bytearray()
        self._value: bytes | None = None

    def write(self, data: bytes) -> None:
        """Append ``data``; raises ``RuntimeError`` after commit or abort."""
        if self._staged is None:
            raise RuntimeError("sink is closed: it was already committed or aborted")
        self._staged += data

    def commit(self) -> None:
        """Freeze the staged bytes as the value."""
        if self._staged is None:
            raise RuntimeError("sink is closed: it was already committed or aborted")
        self._value, self._staged = bytes(self._staged), None

    def abort(self) -> None:
        """Drop the staged bytes."""
        self._staged = None

    def value(self) -> bytes:
        """The committed object; raises ``LookupError`` if it was never committed."""
        if self._value is None:
            raise LookupError("nothing was committed to this sink")
        return self._value


class FileSink:
    """Stages in a hidden temporary file beside ``path``; ``commit`` fsyncs and renames it into place.

    Refuses to replace an existing ``path``: a media object is written once.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
        self._file = open(self._tmp, "xb")  # noqa: SIM115 - closed by commit or abort

    def write(self, data: bytes) -> None:
        """Append ``data`` to the temporary file."""
        self._file.write(data)

    def commit(self) -> None:
        """fsync, then link the temporary file to ``path``; raises ``FileExistsError`` if it exists."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        try:
            os.link(self._tmp, self.path)
        finally:
            self._tmp.unlink()

    def abort(self) -> None:
        """Close and delete the temporary file."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)
