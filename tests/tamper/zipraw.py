"""Raw zip plumbing for the tamper suite: where each structure of a pack zip lies, its entries, and a writer
that checks nothing (to make hostile archives a real writer refuses)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Region", "entries_of", "layout", "raw_zip"]


@dataclass(frozen=True)
class Region:
    """A byte range of the archive: ``kind`` is ``header``, ``data``, ``central`` or ``end``."""

    kind: str
    path: str | None
    start: int
    length: int


def _walk(data: bytes) -> Iterator[tuple[str, int, int, int, int]]:
    """(path, local header offset, data offset, size, central entry offset) of each entry."""
    count, = struct.unpack_from("<H", data, len(data) - 12)
    position, = struct.unpack_from("<I", data, len(data) - 6)
    for _ in range(count):
        size, = struct.unpack_from("<I", data, position + 24)
        nlen, = struct.unpack_from("<H", data, position + 28)
        local, = struct.unpack_from("<I", data, position + 42)
        path = data[position + 46:position + 46 + nlen].decode()
        yield path, local, local + 30 + nlen, size, position
        position += 46 + nlen


def layout(data: bytes) -> list[Region]:
    """Every region of a canonical pack zip, in archive order of its entries."""
    regions = []
    for path, local, start, size, central in _walk(data):
        regions.append(Region("header", path, local, start - local))
        if size:
            regions.append(Region("data", path, start, size))
        regions.append(Region("central", path, central, 46 + len(path.encode())))
    regions.append(Region("end", None, len(data) - 22, 22))
    return regions


def entries_of(data: bytes) -> dict[str, bytes]:
    """Path → bytes of each entry of a canonical pack zip."""
    return {path: data[start:start + size] for path, _, start, size, _ in _walk(data)}


def raw_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A stored zip of ``entries`` in the given order, with v1's fixed fields and no checks at all."""
    parts, central, offset = [], [], 0
    for path, body in entries:
        name, crc = path.encode(), zlib.crc32(body)
        header = struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, 0, 0, 0x21, crc, len(body), len(body), len(name), 0)
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x0314, 20, 0x0800, 0, 0, 0x21, crc, len(body),
                                   len(body), len(name), 0, 0, 0, 0, 0x81A40000, offset) + name)
        parts += [header, name, body]
        offset += len(header) + len(name) + len(body)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join([*parts, directory, end])
