"""The log's RFC 9162 Merkle tree (SM3) as C2SP tlog-tiles hash tiles, computed from the log's storage.

A tile of level ``L`` and index ``N`` is the concatenation of ``W`` 32-byte hashes: those of the complete
subtrees of height ``8·L`` with indices ``N·256 … N·256 + W - 1`` (level 0: leaf hashes). A full tile has
``W = 256`` (8,192 bytes); the right edge of a tree of ``s`` leaves has one partial tile per level, of width
``(s >> 8·L) mod 256`` when that is not 0. Paths are ``tile/<L>/<N>[.p/<W>]`` with ``N`` in 3-digit groups,
all but the last prefixed ``x`` (``1234067`` → ``x001/x234/067``). Entry bundles (``tile/entries/…``) are not
served: leaf bytes carry tenant, permit and actor ids, while the public log shows only hashes (docs/formats.md,
"Tiles").

Every hash of a tile is a complete subtree's, which never changes once committed, so a tile's bytes are final
as soon as the tree holds its last subtree. A tile reads one range of one table: level 0 from
``events.leaf_hash``, level ``L >= 1`` from the stored nodes of level ``8·L`` (``ledger.treetop.read_level``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, select

from ledger import storage as db
from ledger.checkpoint import SignedCheckpoint
from ledger.errors import MalformedInput, ProofError
from ledger.merkle import root_at
from ledger.treetop import read_level

__all__ = [
    "MAX_TILE_LEVEL",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "EntriesNotServed",
    "Tile",
    "TileNotFound",
    "TilePathError",
    "encode_index",
    "full_tiles_between",
    "newest_checkpoint",
    "partial_tiles",
    "read_tile",
    "require_tile",
    "tiles_between",
    "tree_root",
]

TILE_HEIGHT = 8
"""Levels of the Merkle tree one tile spans: a level-L tile holds hashes of subtrees of height 8·L."""
TILE_WIDTH = 256
"""Hashes in a full tile (2**TILE_HEIGHT)."""
MAX_TILE_LEVEL = 63
"""The highest tile level a path may name (C2SP tlog-tiles)."""
_HASH = 32
_MAX_GROUPS = 7  # 21 decimal digits: more than any index of a tree of 2**64 leaves needs
_PATH = re.compile(r"tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?")


class TilePathError(MalformedInput):
    """A tile path that is not one: bad level, index groups or width (not canonical C2SP tlog-tiles)."""


class TileNotFound(ProofError):
    """A well-formed tile that does not exist (yet) in the tree the caller can see."""


class EntriesNotServed(TileNotFound):
    """An entry bundle was asked for: this log serves hash tiles only (leaf bytes are not public)."""


@dataclass(frozen=True)
class Tile:
    """One hash tile: ``level`` (0 … 63), ``index`` and ``width`` (1 … 256 hashes; 256 is a full tile)."""

    level: int
    index: int
    width: int = TILE_WIDTH

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL or self.index < 0 or not 1 <= self.width <= TILE_WIDTH:
            raise TilePathError(f"no tile of level {self.level}, index {self.index}, width {self.width}: want "
                                f"0 <= level <= {MAX_TILE_LEVEL}, index >= 0, 1 <= width <= {TILE_WIDTH}")

    @property
    def is_full(self) -> bool:
        """True for a full tile (256 hashes), whose bytes never change; a partial one is a prefix of it."""
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        """The canonical C2SP path, e.g. ``tile/1/x001/234.p/17``."""
        suffix = "" if self.is_full else f".p/{self.width}"
        return f"tile/{self.level}/{encode_index(self.index)}{suffix}"

    @property
    def leaves_needed(self) -> int:
        """The smallest tree size that holds every hash of this tile."""
        return (self.index * TILE_WIDTH + self.width) << (TILE_HEIGHT * self.level)

    @classmethod
    def parse(cls, path: str) -> Tile:
        """The tile a canonical path names (``tile/<L>/<N>[.p/<W>]``, no leading zeros, no empty tile).

        Raises ``EntriesNotServed`` for ``tile/entries/…`` and ``TilePathError`` (saying what is wrong) for
        anything else that is not a canonical tile path.
        """
        if path == "tile/entries" or path.startswith("tile/entries/"):
            raise EntriesNotServed(f"{_shown(path)}: entry bundles are not served by this log; it serves hash "
                                   f"tiles only, because leaf bytes carry tenant, permit and actor ids (read "
                                   f"an event's leaf through an evidence pack instead)")
        match = _PATH.fullmatch(path)
        if match is None:
            raise TilePathError(f"{_shown(path)} is not a tile path: want tile/<level>/<index>[.p/<width>], the "
                                f"index in 3-digit groups, all but the last prefixed 'x' (e.g. tile/0/x001/234)")
        level, groups, width = int(match[1]), match[2].split("/"), int(match[3] or TILE_WIDTH)
        if level > MAX_TILE_LEVEL:
            raise TilePathError(f"{_shown(path)}: tile level {level} is above {MAX_TILE_LEVEL}")
        if len(groups) > _MAX_GROUPS:
            raise TilePathError(f"{_shown(path)}: the index has {len(groups)} groups, at most {_MAX_GROUPS}")
        if match[3] is not None and width >= TILE_WIDTH:
            raise TilePathError(f"{_shown(path)}: a partial tile has 1 to {TILE_WIDTH - 1} hashes, not {width}")
        index = int("".join(group.lstrip("x") for group in groups))
        if groups[0] == "x000":
            raise TilePathError(f"{_shown(path)}: the index has a leading zero group; write it "
                                f"{encode_index(index)}")
        return cls(level, index, width)


def _shown(path: str) -> str:
    """``path`` for an error message: quoted, and cut short if long."""
    return repr(path if len(path) <= 80 else path[:77] + "...")


def encode_index(index: int) -> str:
    """A tile index as C2SP path elements: 3-digit groups, all but the last prefixed ``x``.

    >>> encode_index(1234067), encode_index(5)
    ('x001/x234/067', '005')
    """
    digits = str(index)
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + group for group in groups[:-1]] + groups[-1:])


def require_tile(tile: Tile, tree_size: int) -> None:
    """Raise ``TileNotFound`` (saying why) unless a tree of ``tree_size`` leaves holds every hash of ``tile``."""
    if tile.leaves_needed > tree_size:
        raise TileNotFound(f"{tile.path} does not exist yet: it needs a tree of {tile.leaves_needed:,} leaves "
                           f"and the newest checkpoint has {tree_size:,}")


def read_tile(conn: Connection, tile: Tile, tree_size: int) -> bytes:
    """The bytes of ``tile`` (``width`` hashes of 32 bytes) in a tree of ``tree_size`` committed leaves.

    Requires ``tree_size`` at most the log's committed size. Raises ``TileNotFound`` for a tile the tree does
    not hold and ``StorageError`` when the store lacks a hash it should have.
    """
    require_tile(tile, tree_size)
    first = tile.index * TILE_WIDTH
    return b"".join(read_level(conn, TILE_HEIGHT * tile.level, first, first + tile.width))


def partial_tiles(tree_size: int) -> list[Tile]:
    """The partial tiles of the right edge of a tree of ``tree_size`` leaves, level 0 first (none are empty).

    >>> [tile.path for tile in partial_tiles(70_000)]
    ['tile/0/273.p/112', 'tile/1/001.p/17', 'tile/2/000.p/1']
    """
    tiles = []
    level, size = 0, tree_size
    while size:
        if size % TILE_WIDTH:
            tiles.append(Tile(level, size // TILE_WIDTH, size % TILE_WIDTH))
        level, size = level + 1, size >> TILE_HEIGHT
    return tiles


def full_tiles_between(old_size: int, new_size: int) -> Iterator[Tile]:
    """The full tiles a tree of ``new_size`` leaves holds that one of ``old_size`` does not, level by level
    (what an exporter writes when the log grows). Requires 0 <= old_size <= new_size.

    >>> [tile.path for tile in full_tiles_between(0, 70_000)][-2:]
    ['tile/0/272', 'tile/1/000']
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"tree sizes out of order: {old_size} then {new_size}")
    level = 0
    while new_size >> (TILE_HEIGHT * (level + 1)):
        shift = TILE_HEIGHT * (level + 1)
        for index in range(old_size >> shift, new_size >> shift):
            yield Tile(level, index)
        level += 1


def tiles_between(conn: Connection, old_size: int, new_size: int, *, batch: int = 64) -> Iterator[tuple[Tile, bytes]]:
    """The tiles of ``full_tiles_between(old_size, new_size)``, in that order, each with its bytes, read
    ``batch`` tiles per query (an exporter's bulk read). Requires 0 <= old_size <= new_size <= the log's
    committed size; raises ``StorageError`` when the store lacks a hash."""
    if not 0 <= old_size <= new_size:
        raise ValueError(f"tree sizes out of order: {old_size} then {new_size}")
    size, level = TILE_WIDTH * _HASH, 0
    while new_size >> (TILE_HEIGHT * (level + 1)):
        shift = TILE_HEIGHT * (level + 1)
        for first in range(old_size >> shift, new_size >> shift, batch):
            last = min(first + batch, new_size >> shift)
            body = b"".join(read_level(conn, TILE_HEIGHT * level, first * TILE_WIDTH, last * TILE_WIDTH))
            for index in range(first, last):
                yield Tile(level, index), body[(index - first) * size:(index - first + 1) * size]
        level += 1


def newest_checkpoint(conn: Connection) -> SignedCheckpoint | None:
    """The stored checkpoint of the largest tree size, or None before the first."""
    text = conn.execute(select(db.checkpoints.c.text).order_by(db.checkpoints.c.tree_size.desc()).limit(1)).scalar()
    return SignedCheckpoint.from_text(text) if text else None


def tree_root(conn: Connection, tree_size: int) -> bytes:
    """The root of the first ``tree_size`` committed leaves, from the store (``ledger.merkle.root_at``)."""
    return root_at(db.SqlNodeStore(conn), tree_size)
