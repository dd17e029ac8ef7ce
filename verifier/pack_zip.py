"""Reading the canonical zip of an evidence pack (docs/formats.md, "Zip rules"), independently of the writer.

A v1 pack is exactly the canonical zip of its entries: every byte outside file data and CRC-32 fields is
fixed by the entries' names and sizes. ``read_pack_zip`` checks that field by field (any deviation is reason
``zip``) and returns the entries in archive order with the CRC-32 each states; comparing that CRC with the
data is the caller's (``file-hash``), so that a flipped data byte is reported as the file it changed.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from verifier.pack_errors import refuse

__all__ = ["MAX_ENTRIES", "MAX_FILE_BYTES", "MAX_PACK_BYTES", "ZipEntry", "check_path", "read_pack_zip"]

MAX_ENTRIES = 60_000
MAX_FILE_BYTES = 1 << 30
MAX_PACK_BYTES = 2 << 30
_LOCAL = struct.Struct("<IHHHHHIIIHH")  # sig, version, flags, method, time, date, crc, csize, usize, nlen, xlen
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_SIG_LOCAL, _SIG_CENTRAL, _SIG_END = 0x04034B50, 0x02014B50, 0x06054B50
_VERSION, _MADE_BY, _FLAGS, _TIME, _DATE, _ATTRS = 20, 0x0314, 0x0800, 0, 0x0021, 0x81A40000
_SEGMENT = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ZipEntry:
    """One stored file of the pack: its path, its bytes and the CRC-32 the archive states for them."""

    path: str
    data: bytes
    crc32: int


def check_path(path: str) -> None:
    """Refuse (``zip``) a path outside the v1 rules: 1–255 bytes, at most 8 ``[A-Za-z0-9._-]+`` segments,
    none ``.`` or ``..`` (so no absolute path, backslash or parent reference)."""
    segments = path.split("/")
    if not 1 <= len(path.encode()) <= 255 or len(segments) > 8:
        refuse("zip", f"entry name {path[:80]!r} must be 1-255 bytes with at most 8 segments", path=path[:255])
    for segment in segments:
        if not _SEGMENT.fullmatch(segment) or segment in (".", ".."):
            refuse("zip", f"entry name {path[:80]!r} has a segment {segment[:40]!r} outside [A-Za-z0-9._-]+ "
                          "(or '.', '..', empty)", path=path[:255])


def read_pack_zip(data: bytes) -> list[ZipEntry]:
    """The entries of a canonical v1 pack zip, in archive order; raises ``PackUnusable`` (``zip``) otherwise.

    Checks, in order: the end record (22 bytes, nothing after it, one disk, no comment), each central
    directory entry's fixed fields, each local header against its central entry, entries packed from
    offset 0 with the central directory right after the last, paths by ``check_path``, ascending bytewise
    with no two equal ignoring ASCII case, and the limits of docs/formats.md.
    """
    if len(data) > MAX_PACK_BYTES:
        refuse("unreadable", f"pack is {len(data)} bytes, want at most {MAX_PACK_BYTES}")
    count, cd_size, cd_offset = _end_record(data)
    entries, offset, position = [], 0, cd_offset
    for _ in range(count):
        path, crc, size, local_offset, position = _central(data, position)
        if local_offset != offset:
            refuse("zip", f"entry {path!r} starts at {local_offset}, want {offset} (entries must be packed)", path=path)
        offset = _local(data, offset, path, crc, size)
        entries.append(ZipEntry(path, bytes(data[offset - size:offset]), crc))
    if offset != cd_offset or position != cd_offset + cd_size:
        refuse("zip", f"central directory at {cd_offset} of {cd_size} bytes, want at {offset} ending at {position}")
    _check_order(entries)
    return entries


def _end_record(data: bytes) -> tuple[int, int, int]:
    if len(data) < _END.size:
        refuse("zip", f"pack is {len(data)} bytes: too short for a zip end record")
    sig, disk, cd_disk, here, count, cd_size, cd_offset, comment = _END.unpack_from(data, len(data) - _END.size)
    if (sig, disk, cd_disk, comment) != (_SIG_END, 0, 0, 0) or here != count:
        refuse("zip", "the last 22 bytes are not a one-disk zip end record without comment "
                      "(trailing bytes, a comment or a multi-disk archive)")
    if not 1 <= count <= MAX_ENTRIES:
        refuse("zip", f"zip has {count} entries, want 1 to {MAX_ENTRIES}")
    if cd_offset + cd_size != len(data) - _END.size:
        refuse("zip", f"central directory ({cd_offset} + {cd_size}) does not end where the end record starts")
    return count, cd_size, cd_offset


def _central(data: bytes, position: int) -> tuple[str, int, int, int, int]:
    if position + _CENTRAL.size > len(data):
        refuse("zip", f"central directory entry at {position} runs past the end of the pack")
    (sig, made_by, version, flags, method, time, date, crc, csize, usize, nlen, xlen, clen, disk, internal,
     external, local_offset) = _CENTRAL.unpack_from(data, position)
    fixed = (sig, made_by, version, flags, method, time, date, xlen, clen, disk, internal, external)
    if fixed != (_SIG_CENTRAL, _MADE_BY, _VERSION, _FLAGS, 0, _TIME, _DATE, 0, 0, 0, 0, _ATTRS):
        refuse("zip", f"central directory entry at {position} is not a v1 stored entry (fixed fields differ)")
    if csize != usize or usize > MAX_FILE_BYTES:
        refuse("zip", f"central directory entry at {position}: sizes {csize}/{usize}, want equal and <= {MAX_FILE_BYTES}")
    path = _name(data, position + _CENTRAL.size, nlen)
    return path, crc, usize, local_offset, position + _CENTRAL.size + nlen


def _local(data: bytes, offset: int, path: str, crc: int, size: int) -> int:
    if offset + _LOCAL.size > len(data):
        refuse("zip", f"local header of {path!r} runs past the end of the pack", path=path)
    fields = _LOCAL.unpack_from(data, offset)
    nlen = len(path.encode())
    if fields != (_SIG_LOCAL, _VERSION, _FLAGS, 0, _TIME, _DATE, crc, size, size, nlen, 0):
        refuse("zip", f"local header of {path!r} differs from its central directory entry or the v1 fields",
               path=path)
    start = offset + _LOCAL.size
    if bytes(data[start:start + nlen]) != path.encode():
        refuse("zip", f"local header name differs from the central directory name {path!r}", path=path)
    end = start + nlen + size
    if end > len(data):
        refuse("zip", f"data of {path!r} runs past the end of the pack", path=path)
    return end


def _name(data: bytes, start: int, length: int) -> str:
    raw = bytes(data[start:start + length])
    try:
        path = raw.decode("utf-8")
    except UnicodeDecodeError:
        refuse("zip", f"entry name {raw[:80]!r} is not UTF-8")
    check_path(path)
    return path


def _check_order(entries: list[ZipEntry]) -> None:
    folded: set[str] = set()
    for before, entry in zip([None, *entries], entries, strict=False):
        if before is not None and entry.path.encode() <= before.path.encode():
            refuse("zip", f"entry {entry.path!r} after {before.path!r}: names must ascend (bytewise), no duplicates",
                   path=entry.path)
        if entry.path.lower() in folded:
            refuse("zip", f"entry {entry.path!r} equals another ignoring case", path=entry.path)
        folded.add(entry.path.lower())
