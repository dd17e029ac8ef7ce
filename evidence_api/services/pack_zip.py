"""Writing the canonical zip of an evidence pack (docs/formats.md, "Zip rules").

Deterministic by construction: entries sorted by path, stored (no compression, so no zlib version changes
the bytes), fixed time stamp 1980-01-01 00:00, fixed attributes, no extra fields. The same files always give
the same bytes. ``verifier/pack_zip.py`` reads it independently.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Mapping

__all__ = ["MAX_PACK_BYTES", "PackZipError", "write_pack_zip"]

MAX_PACK_BYTES = 2 << 30
_MAX_ENTRIES = 60_000
_MAX_FILE = 1 << 30
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")
_VERSION, _MADE_BY, _FLAGS, _TIME, _DATE, _ATTRS = 20, 0x0314, 0x0800, 0, 0x0021, 0x81A40000


class PackZipError(ValueError):
    """The files cannot make a v1 pack zip (a bad path, too many or too large files)."""


def write_pack_zip(files: Mapping[str, bytes]) -> bytes:
    """The canonical zip of ``files`` (path → bytes); raises ``PackZipError`` for a path or size outside v1."""
    if not 1 <= len(files) <= _MAX_ENTRIES:
        raise PackZipError(f"a pack holds 1 to {_MAX_ENTRIES} files, got {len(files)}")
    parts: list[bytes] = []
    central: list[bytes] = []
    offset = 0
    for path in sorted(files, key=lambda p: p.encode()):
        data = files[path]
        name = _check(path, data)
        crc = zlib.crc32(data)
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, _VERSION, _FLAGS, 0, _TIME, _DATE, crc, len(data), len(data),
                             len(name), 0)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY, _VERSION, _FLAGS, 0, _TIME, _DATE, crc,
                                   len(data), len(data), len(name), 0, 0, 0, 0, _ATTRS, offset) + name)
        parts += [header, name, data]
        offset += len(header) + len(name) + len(data)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0)
    if offset + len(directory) + len(end) > MAX_PACK_BYTES:
        raise PackZipError(f"pack would be larger than {MAX_PACK_BYTES} bytes; leave the video out")
    return b"".join([*parts, directory, end])


def _check(path: str, data: bytes) -> bytes:
    segments = path.split("/")
    if len(segments) > 8 or any(not _SEGMENT.fullmatch(s) or s in (".", "..") for s in segments):
        raise PackZipError(f"pack path {path!r} is outside the v1 rules ([A-Za-z0-9._-] segments, at most 8)")
    name = path.encode()
    if len(name) > 255 or len(data) > _MAX_FILE:
        raise PackZipError(f"pack path {path!r}: name over 255 bytes or file over {_MAX_FILE} bytes")
    return name
