"""Inclusion and consistency from C2SP tlog-tiles hash tiles alone, against a checkpoint already trusted.

The log serves its RFC 9162 Merkle tree (SM3) as tiles (docs/formats.md, "Tiles"): the tile of level ``L``
and index ``N`` holds the hashes of the complete subtrees of height ``8·L`` with indices ``N·256 …`` — 256 in a
full tile, ``(s >> 8·L) mod 256`` in the partial tile at the right edge of a tree of ``s`` leaves. Tiles come
from wherever the caller's ``fetch`` gets them (the service, a static store, a CDN, a directory): none is
trusted. ``TiledTree`` checks every tile before using a hash of it:

1. the partial tiles of the checkpoint's tree size together must fold to the checkpoint's root;
2. a full tile must hash (as a complete subtree of 256 hashes) to its entry in the tile one level up, which is
   checked the same way, up to a partial tile of step 1.

A tile of the wrong length, one that fails either check, or a fetch that fails is refused naming the tile.
Proofs are then built from checked hashes and checked once more by ``verifier.merkle`` (RFC 9162 §2.1.3.2,
§2.1.4.2), so the answer agrees with the log's own ``/v1/log/proofs`` byte for byte.
"""

from __future__ import annotations

from collections.abc import Callable

from verifier.errors import CheckUnavailable, InvalidProof, MalformedInput, VerificationFailed, VerifierError
from verifier.hashing import HASH_SIZE, empty_root, node_hash
from verifier.merkle import verify_consistency, verify_inclusion

__all__ = [
    "MAX_TREE_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Fetch",
    "LeafMismatch",
    "TileInvalid",
    "TileUnavailable",
    "TiledTree",
    "TreesInconsistent",
    "tile_path",
]

Fetch = Callable[[str], bytes]
"""Gets a tile by its path relative to the log's tile prefix (``tile/0/x001/234.p/5``); raises on failure."""

TILE_HEIGHT = 8
"""Merkle levels per tile: a level-L tile holds hashes of subtrees of height 8·L."""
TILE_WIDTH = 256
"""Hashes in a full tile."""
MAX_TREE_SIZE = 2**64 - 1
"""The largest tree size a checkpoint can state."""


class TileInvalid(VerificationFailed):
    """A tile is not the one the trusted checkpoint commits to: wrong length, or hashes that do not check."""


class TileUnavailable(CheckUnavailable):
    """A tile could not be fetched (nothing was shown either way)."""


class LeafMismatch(VerificationFailed):
    """The checked tiles hold a different hash at the leaf's index than the one claimed."""


class TreesInconsistent(VerificationFailed):
    """The tiles of the newer tree give another root for the older size than the older checkpoint states."""


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """The C2SP path of a tile: ``tile/<L>/<N>[.p/<W>]``, ``N`` in 3-digit groups, all but the last ``x``-prefixed.

    >>> tile_path(0, 1234067), tile_path(2, 5, 17)
    ('tile/0/x001/x234/067', 'tile/2/005.p/17')
    """
    digits = f"{index:0{-(-len(str(index)) // 3) * 3}d}"
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/" + "/".join(["x" + g for g in groups[:-1]] + groups[-1:]) + suffix


def _perfect(hashes: bytes) -> bytes:
    """The root of a complete subtree whose bottom row is ``hashes`` (a power of two of them, concatenated)."""
    row = [hashes[i:i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def _blocks(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees (level, index) that make up leaves [start, end), left to right (start aligned)."""
    blocks = []
    while start < end:
        level = (end - start).bit_length() - 1
        blocks.append((level, start >> level))
        start += 1 << level
    return blocks


def _split(width: int) -> int:
    """The largest power of two strictly below ``width`` (> 1): where RFC 9162 splits a range."""
    return 1 << ((width - 1).bit_length() - 1)


class TiledTree:
    """The Merkle tree of one trusted checkpoint, read hash by hash from tiles that are checked before use.

    ``tree_size`` and ``root`` come from a checkpoint the caller has verified; ``fetch`` gets tiles (see
    ``Fetch``); at most ``max_tiles`` are fetched (a proof needs a few dozen). Requires
    0 <= tree_size <= MAX_TREE_SIZE and a 32-byte root, else raises ``MalformedInput``.
    """

    def __init__(self, tree_size: int, root: bytes, fetch: Fetch, *, max_tiles: int = 1_000) -> None:
        if not 0 <= tree_size <= MAX_TREE_SIZE:
            raise MalformedInput(f"tree size out of range: got {tree_size}, want 0 <= size <= {MAX_TREE_SIZE}")
        if len(root) != HASH_SIZE:
            raise MalformedInput(f"root has wrong length: got {len(root)} bytes, want {HASH_SIZE}")
        self.tree_size, self.root, self._fetch, self._max_tiles = tree_size, bytes(root), fetch, max_tiles
        self._tiles: dict[tuple[int, int], bytes] = {}
        self._fetched = 0
        self._edge_checked = False

    # -- tiles -----------------------------------------------------------------------------------
    def _width(self, level: int, index: int) -> int:
        """The width tile (level, index) has in this tree (0: it does not exist)."""
        below = self.tree_size >> (TILE_HEIGHT * level)
        return max(0, min(TILE_WIDTH, below - index * TILE_WIDTH))

    def _get(self, level: int, index: int) -> bytes:
        """Fetch tile (level, index) at its width in this tree and check its length (not yet its hashes)."""
        width = self._width(level, index)
        path = tile_path(level, index, width)
        if self._fetched >= self._max_tiles:
            raise TileUnavailable(f"cannot fetch {path}: this tree already fetched its limit of {self._max_tiles} tiles")
        self._fetched += 1
        try:
            data = self._fetch(path)
        except VerifierError:
            raise
        except Exception as exc:  # any failure of the caller's transport is "unavailable"
            raise TileUnavailable(f"cannot fetch {path}: {exc}") from exc
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TileInvalid(f"{path}: the fetcher returned {type(data).__name__}, not bytes")
        if len(data) != HASH_SIZE * width:
            raise TileInvalid(f"{path} is {len(data):,} bytes: want {HASH_SIZE * width:,} "
                              f"({width} hashes of {HASH_SIZE} bytes)")
        return bytes(data)

    def verify_root(self) -> None:
        """Fetch and check the right-edge tiles now (step 1), also for an empty tree (its root must be SM3 of
        nothing); raises ``TileInvalid`` or ``TileUnavailable``. Every other method does this on first use."""
        self._check_edge()

    def _check_edge(self) -> None:
        """Step 1: fetch the partial tiles of this tree size and check that they fold to the root."""
        if self._edge_checked:
            return
        edge: dict[tuple[int, int], bytes] = {}
        level = 0
        while self.tree_size >> (TILE_HEIGHT * level):
            index = self.tree_size >> (TILE_HEIGHT * (level + 1))
            if self._width(level, index):
                edge[(level, index)] = self._get(level, index)
            level += 1
        calculated = self._fold(_blocks(0, self.tree_size), edge) if self.tree_size else empty_root()
        if calculated != self.root:
            paths = ", ".join(tile_path(lv, ix, self._width(lv, ix)) for lv, ix in edge) or "(none)"
            raise TileInvalid(f"the right-edge tiles {paths} do not hash to the checkpoint's root of tree size "
                              f"{self.tree_size}: calculated {calculated.hex()}, want {self.root.hex()}")
        self._tiles.update(edge)
        self._edge_checked = True

    def _tile(self, level: int, index: int) -> bytes:
        """Tile (level, index), checked (step 1 for the right edge, step 2 for a full tile)."""
        self._check_edge()
        known = self._tiles.get((level, index))
        if known is not None:
            return known
        data = self._get(level, index)  # a full tile: every partial one is held after step 1
        expected = self.node(TILE_HEIGHT * (level + 1), index)
        calculated = _perfect(data)
        if calculated != expected:
            parent = tile_path(level + 1, index // TILE_WIDTH, self._width(level + 1, index // TILE_WIDTH))
            raise TileInvalid(f"{tile_path(level, index)} does not hash to entry {index % TILE_WIDTH} of {parent}: "
                              f"calculated {calculated.hex()}, want {expected.hex()}")
        self._tiles[(level, index)] = data
        return data

    # -- hashes ----------------------------------------------------------------------------------
    def node(self, level: int, index: int) -> bytes:
        """The checked hash of the complete subtree over leaves [index·2^level, (index+1)·2^level).

        Requires that subtree to lie within the tree, else raises ``InvalidProof``.
        """
        if not 0 <= level <= 64 or index < 0 or (index + 1) << level > self.tree_size:
            raise InvalidProof(f"no complete subtree at level {level}, index {index} in a tree of {self.tree_size}")
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height
        data = self._tile(tile_level, first // TILE_WIDTH)
        offset = (first % TILE_WIDTH) * HASH_SIZE
        return _perfect(data[offset:offset + (HASH_SIZE << height)])

    def _fold(self, blocks: list[tuple[int, int]], tiles: dict[tuple[int, int], bytes] | None = None) -> bytes:
        """The right fold of complete subtrees ``blocks`` (from ``tiles`` as given, else checked ones)."""
        hashes = [self._unchecked(b, tiles) if tiles is not None else self.node(*b) for b in blocks]
        digest = hashes[-1]
        for left in reversed(hashes[:-1]):
            digest = node_hash(left, digest)
        return digest

    @staticmethod
    def _unchecked(block: tuple[int, int], tiles: dict[tuple[int, int], bytes]) -> bytes:
        level, index = block
        tile_level, height = divmod(level, TILE_HEIGHT)
        first = index << height
        offset = (first % TILE_WIDTH) * HASH_SIZE
        return _perfect(tiles[(tile_level, first // TILE_WIDTH)][offset:offset + (HASH_SIZE << height)])

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end) (RFC 9162 §2.1.1) from checked tiles; requires 0 <= start < end <=
        tree_size with ``start`` aligned as the MTH recursion visits it."""
        return self._fold(_blocks(start, end))

    def root_at(self, size: int) -> bytes:
        """The root of the first ``size`` leaves (a prefix of this tree); requires 0 <= size <= tree_size."""
        if not 0 <= size <= self.tree_size:
            raise InvalidProof(f"no tree of size {size} inside a tree of {self.tree_size}")
        return self.range_hash(0, size) if size else empty_root()

    # -- proofs ----------------------------------------------------------------------------------
    def inclusion_proof(self, leaf_index: int) -> list[bytes]:
        """The RFC 9162 audit path of ``leaf_index``, leaf side first, from checked tiles.

        Requires 0 <= leaf_index < tree_size, else raises ``InvalidProof``; raises ``TileInvalid`` or
        ``TileUnavailable`` for a tile it cannot use.
        """
        if not 0 <= leaf_index < self.tree_size:
            raise InvalidProof(f"leaf index out of range: got {leaf_index}, want 0 <= index < {self.tree_size}")
        path, start, end = [], 0, self.tree_size
        while end - start > 1:
            split = start + _split(end - start)
            if leaf_index < split:
                path.append(self.range_hash(split, end))
                end = split
            else:
                path.append(self.range_hash(start, split))
                start = split
        return path[::-1]

    def consistency_proof(self, old_size: int) -> list[bytes]:
        """The RFC 9162 §2.1.4.1 proof that the first ``old_size`` leaves are a prefix of this tree, from
        checked tiles (empty when old_size is 0 or tree_size). Requires 0 <= old_size <= tree_size."""
        if not 0 <= old_size <= self.tree_size:
            raise InvalidProof(f"tree sizes out of order: got {old_size} then {self.tree_size}")
        if old_size in (0, self.tree_size):
            return []
        proof, start, end, m, whole = [], 0, self.tree_size, old_size, True
        while m != end - start:
            k = _split(end - start)
            if m <= k:
                proof.append(self.range_hash(start + k, end))
                end = start + k
            else:
                proof.append(self.range_hash(start, start + k))
                start, m, whole = start + k, m - k, False
        if not whole:
            proof.append(self.range_hash(start, end))
        return proof[::-1]

    def verify_inclusion(self, leaf_index: int, leaf_hash: bytes) -> None:
        """Check that the leaf with ``leaf_hash`` sits at ``leaf_index`` of the trusted tree.

        Returns nothing; raises ``InvalidProof`` (index or hash size), ``LeafMismatch``, ``TileInvalid``,
        ``TileUnavailable``, or ``RootMismatch`` should the final RFC 9162 check fail.
        """
        if len(leaf_hash) != HASH_SIZE:
            raise InvalidProof(f"leaf hash has wrong length: got {len(leaf_hash)} bytes, want {HASH_SIZE}")
        proof = self.inclusion_proof(leaf_index)
        held = self.node(0, leaf_index)
        if held != leaf_hash:
            raise LeafMismatch(f"leaf {leaf_index} of the tree of size {self.tree_size} is {held.hex()}, "
                               f"not {bytes(leaf_hash).hex()}")
        verify_inclusion(leaf_index, self.tree_size, leaf_hash, proof, self.root)

    def verify_consistency(self, old_size: int, old_root: bytes) -> None:
        """Check that the trusted tree of ``old_size`` leaves with ``old_root`` is a prefix of this one.

        Requires 0 <= old_size <= tree_size and a 32-byte root. Returns nothing; raises ``InvalidProof``,
        ``TreesInconsistent``, ``TileInvalid``, ``TileUnavailable``, or ``RootMismatch`` (final RFC 9162 check).
        """
        if len(old_root) != HASH_SIZE:
            raise InvalidProof(f"old root has wrong length: got {len(old_root)} bytes, want {HASH_SIZE}")
        calculated = self.root_at(old_size)
        if calculated != old_root:
            raise TreesInconsistent(f"the tiles of tree size {self.tree_size} give root {calculated.hex()} for "
                                    f"size {old_size}, but its checkpoint says {bytes(old_root).hex()}: the two "
                                    f"checkpoints are not of one append-only log")
        verify_consistency(old_size, self.tree_size, old_root, self.root, self.consistency_proof(old_size))
