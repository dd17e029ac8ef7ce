"""The top of the RFC 9162 Merkle tree held in memory, so that a proof reads only the few nodes below it.

``TreeTop`` keeps the hash of every complete subtree of level ``TOP_LEVEL`` (10: 1,024 leaves) and above.
Those of level ``TOP_LEVEL`` are read from ``merkle_nodes`` as the tree grows (a complete subtree's hash never
changes once written, so the copy cannot go stale); the higher ones are hashed from them in memory. Memory is
64 bytes per 2**TOP_LEVEL leaves, two bytearrays' worth (≈ 610 KiB at 10⁷ leaves, 61 MiB at 10⁹); a restart
starts empty and the first proof reads the level back (≈ 10k rows at 10⁷ leaves, one range query).

``ProofStore`` is the ``NodeReader`` a proof then runs on: nodes of the top from memory, every other node in
one query (stored nodes by key, those below ``STORED_LEVEL`` folded from runs of ``events.leaf_hash``, read
by range), through the driver's own cursor. It gives the same hashes as ``ledger.storage.SqlNodeStore``,
which stays the reference (tests/unit/ledger/test_treetop.py compares every proof of both).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ledger.errors import ProofError, StorageError
from ledger.hashing import node_hash
from ledger.merkle import NodeId, NodeReader, path_ranges, perfect_root, subtree_blocks
from ledger.storage import STORED_LEVEL, node_key, placeholder

__all__ = ["TOP_LEVEL", "ProofStore", "RightEdges", "TreeTop", "inclusion_path", "read_level"]

TOP_LEVEL = 10
"""The lowest level held in memory: 2 hashes per 1,024 leaves; a proof reads at most 6 stored nodes below it
plus the 16 leaf hashes of its lowest stored node."""

_HASH = 32
_KEY_BITS = 56  # ledger.storage.node_key: the level sits above the low 56 bits of the key
_KEYS_PER_QUERY, _RUNS_PER_QUERY = 400, 200  # 800 bound parameters (SQLite's old limit is 999) and at most
# 201 SELECTs in one compound statement (SQLite's limit is 500)


class TreeTop:
    """Every complete subtree of level ``level`` (>= ``STORED_LEVEL``) and above, read or hashed once.

    Thread-safe: readers look up without a lock (a level only grows, by whole hashes, and a node is read
    only below a count taken first); ``catch_up`` appends under a lock.
    """

    def __init__(self, level: int = TOP_LEVEL) -> None:
        if level < STORED_LEVEL:
            raise ValueError(f"the top of the tree must start at a stored level (>= {STORED_LEVEL}), got {level}")
        self.level = level
        self._levels: list[bytearray] = [bytearray()]  # _levels[k]: the nodes of level ``level + k``
        self._lock = threading.Lock()

    def count(self, level: int) -> int:
        """How many nodes of ``level`` are held (0 below the top)."""
        k = level - self.level
        return len(self._levels[k]) // _HASH if 0 <= k < len(self._levels) else 0

    def get(self, node: NodeId) -> bytes | None:
        """The hash of ``node`` if it is held, else None."""
        level, index = node
        k = level - self.level
        if k < 0 or k >= len(self._levels):
            return None
        row = self._levels[k]
        return bytes(row[index * _HASH:(index + 1) * _HASH]) if (index + 1) * _HASH <= len(row) else None

    def nbytes(self) -> int:
        """Bytes of hashes held (what the top costs in memory, bar a few small objects)."""
        return sum(len(row) for row in self._levels)

    def catch_up(self, conn: Connection, tree_size: int) -> None:
        """Hold every complete node of the top within the first ``tree_size`` leaves, reading the missing
        ones of the lowest level from ``merkle_nodes`` on ``conn`` (one range query) and hashing upwards.

        Requires those nodes to be committed (``tree_size`` at most the log's committed size); raises
        ``StorageError`` when the store lacks one or cannot be read.
        """
        want = tree_size >> self.level
        if self.count(self.level) >= want:
            return
        with self._lock:
            have = self.count(self.level)
            if have >= want:
                return
            hashes = _read_level(conn, self.level, have, want)
            self._levels[0].extend(b"".join(hashes))
            self._hash_upwards()

    def _hash_upwards(self) -> None:
        k = 0
        while len(self._levels[k]) >= 2 * _HASH:
            if k + 1 == len(self._levels):
                self._levels.append(bytearray())
            below, above = self._levels[k], self._levels[k + 1]
            done, ready = len(above) // _HASH, len(below) // (2 * _HASH)
            above.extend(b"".join(node_hash(bytes(below[2 * i * _HASH:(2 * i + 1) * _HASH]),
                                            bytes(below[(2 * i + 1) * _HASH:(2 * i + 2) * _HASH]))
                                  for i in range(done, ready)))
            k += 1


def read_level(conn: Connection, level: int, start: int, end: int) -> list[bytes]:
    """The hashes of the complete nodes ``start <= index < end`` of ``level``, in order, in one range query:
    level 0 from ``events.leaf_hash``, a stored level (>= ``STORED_LEVEL``) from ``merkle_nodes``.

    Requires 0 <= start <= end and every one of those nodes committed; raises ``ValueError`` for a level in
    between (those are folded, not stored) and ``StorageError`` when the store lacks a node or cannot be read.
    """
    if not 0 <= start <= end:
        raise ValueError(f"node range [{start}, {end}) is not 0 <= start <= end")
    if level >= STORED_LEVEL:
        return _read_level(conn, level, start, end)
    if level != 0:
        raise ValueError(f"level {level} is not stored: only level 0 and levels >= {STORED_LEVEL} are")
    mark = placeholder(conn)
    sql = f"SELECT leaf_hash FROM events WHERE leaf_index >= {mark} AND leaf_index < {mark} ORDER BY leaf_index"
    rows = _fetch(conn, sql, (start, end))
    if len(rows) != end - start:
        raise StorageError(f"events hold {len(rows)} of the {end - start} leaf hashes from leaf {start}: the log "
                           f"is incomplete (restore it from a backup)")
    return [bytes(row[0]) for row in rows]


def _read_level(conn: Connection, level: int, start: int, end: int) -> list[bytes]:
    """The stored hashes of nodes ``start <= index < end`` of ``level``, in order."""
    mark = placeholder(conn)
    sql = f"SELECT hash FROM merkle_nodes WHERE node_id >= {mark} AND node_id < {mark} ORDER BY node_id"
    rows = _fetch(conn, sql, (node_key((level, start)), node_key((level, end))))
    if len(rows) != end - start:
        raise StorageError(f"merkle_nodes holds {len(rows)} of the {end - start} nodes of level {level} from "
                           f"index {start}: the node store is incomplete (restore it from a backup)")
    return [bytes(row[0]) for row in rows]


def _fetch(conn: Connection, sql: str, params: Sequence[int]) -> list[tuple[Any, ...]]:
    """Rows of one query through the driver's cursor (SQLAlchemy's result layer cost more than the read)."""
    dbapi = conn.dialect.loaded_dbapi
    try:
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return [tuple(row) for row in cursor.fetchall()]
        finally:
            cursor.close()
    except dbapi.Error as exc:
        raise StorageError(f"cannot read merkle nodes: {exc}") from exc


class ProofStore:
    """``NodeReader`` over a ``TreeTop`` and one connection: the top from memory, the rest in one query.

    Nodes at or above the top must be held (``TreeTop.catch_up`` to the proof's tree size first); any that
    is not is read from the store like the others. Every node read is also kept in ``seen``, so a caller can
    take the leaf hash and root of the same read afterwards.
    """

    def __init__(self, conn: Connection, top: TreeTop, *, extra: Iterable[NodeId] = ()) -> None:
        self._conn, self._top, self._extra = conn, top, set(extra)
        self.seen: dict[NodeId, bytes] = {}

    def get_nodes(self, ids: Iterable[NodeId]) -> Mapping[NodeId, bytes]:
        """The requested nodes (and the ``extra`` ones given at construction, on the first call)."""
        wanted, self._extra = set(ids) | self._extra, set()
        found: dict[NodeId, bytes] = {}
        rest = []
        for node in wanted:
            digest = self._top.get(node) if node[0] >= self._top.level else None
            if digest is None:
                rest.append(node)
            else:
                found[node] = digest
        if rest:
            found.update(self._read(rest))
        self.seen.update(found)
        return found

    def _read(self, nodes: list[NodeId]) -> dict[NodeId, bytes]:
        folded = [node for node in nodes if node[0] < STORED_LEVEL]
        keys = sorted(node_key(node) for node in nodes if node[0] >= STORED_LEVEL)
        runs = _leaf_runs(folded)
        rows = self._query(keys, runs)
        found = {(key >> _KEY_BITS, key & ((1 << _KEY_BITS) - 1)): rows[key] for key in keys if key in rows}
        for level, index in folded:
            hashes = [rows.get(-1 - i) for i in range(index << level, (index + 1) << level)]
            if all(h is not None for h in hashes):
                found[(level, index)] = perfect_root([h for h in hashes if h is not None])
        return found

    def _query(self, keys: list[int], runs: list[tuple[int, int]]) -> dict[int, bytes]:
        """Node key -> hash of the stored ``keys``; ``-1 - i`` -> leaf hash of each leaf in the ``runs``."""
        mark = placeholder(self._conn)
        found: dict[int, bytes] = {}
        for chunk in range(max(-(-len(keys) // _KEYS_PER_QUERY), -(-len(runs) // _RUNS_PER_QUERY))):
            some_keys = keys[chunk * _KEYS_PER_QUERY:(chunk + 1) * _KEYS_PER_QUERY]
            some_runs = runs[chunk * _RUNS_PER_QUERY:(chunk + 1) * _RUNS_PER_QUERY]
            parts = ([f"SELECT node_id, hash FROM merkle_nodes WHERE node_id IN ({', '.join([mark] * len(some_keys))})"]
                     if some_keys else [])
            parts += [f"SELECT -1 - leaf_index, leaf_hash FROM events WHERE leaf_index BETWEEN {mark} AND {mark}"
                      for _ in some_runs]
            params = [*some_keys, *(bound for run in some_runs for bound in run)]
            found.update((int(key), bytes(digest))
                         for key, digest in _fetch(self._conn, " UNION ALL ".join(parts), params))
        return found


def _leaf_runs(folded: Sequence[NodeId]) -> list[tuple[int, int]]:
    """The leaves under ``folded`` nodes as merged inclusive ranges [first, last], ascending."""
    spans = sorted((index << level, ((index + 1) << level) - 1) for level, index in folded)
    runs: list[tuple[int, int]] = []
    for first, last in spans:
        if runs and first <= runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], max(runs[-1][1], last))
        else:
            runs.append((first, last))
    return runs


class RightEdges:
    """The hashes of the ragged ranges ``[start, tree_size)`` at the right edge of trees, by (tree size, start).

    They are the same for every leaf's audit path in one tree size, so a proof against a size asked before
    reads only the complete subtrees of its own path. At most ``limit`` entries (≈ 160 bytes each, ≈ 0.6 MiB;
    a tree size has at most one per level); the memo starts again when full.
    """

    def __init__(self, limit: int = 4_096) -> None:
        self._limit, self._hashes = limit, dict[tuple[int, int], bytes]()

    def get(self, tree_size: int, start: int) -> bytes | None:
        """The hash of ``[start, tree_size)`` if it is remembered."""
        return self._hashes.get((tree_size, start))

    def put(self, tree_size: int, start: int, digest: bytes) -> None:
        """Remember the hash of ``[start, tree_size)``."""
        if len(self._hashes) >= self._limit:
            self._hashes.clear()
        self._hashes[(tree_size, start)] = digest


def inclusion_path(store: NodeReader, edges: RightEdges, leaf_index: int, tree_size: int) -> list[bytes]:
    """The RFC 9162 §2.1.3.1 audit path of ``leaf_index`` in ``tree_size`` leaves, leaf side first, in one
    ``get_nodes`` call: one complete subtree per level, and the ragged right-edge ranges from ``edges``.

    The same hashes as ``ledger.merkle.inclusion_proof`` (the reference, held equal by a property test).
    Requires 0 <= leaf_index < tree_size, else raises ``ProofError``.
    """
    if not 0 <= leaf_index < tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    ranges = path_ranges(leaf_index, tree_size)
    plans: list[NodeId | list[NodeId] | bytes] = []
    wanted: set[NodeId] = set()
    for start, end in ranges:
        width = end - start
        if width & (width - 1) == 0:  # a complete subtree (every range starts aligned to its size)
            level = width.bit_length() - 1
            plans.append((level, start >> level))
            wanted.add((level, start >> level))
        elif (known := edges.get(tree_size, start)) is not None:
            plans.append(known)
        else:
            blocks = subtree_blocks(start, end)
            plans.append(blocks)
            wanted.update(blocks)
    nodes = store.get_nodes(wanted)
    missing = wanted.difference(nodes)
    if missing:
        raise ProofError(f"node store lacks {len(missing)} subtree hashes, e.g. {min(missing)}")
    path = []
    for (start, _), plan in zip(ranges, plans, strict=True):
        if isinstance(plan, bytes):
            path.append(plan)
        elif isinstance(plan, tuple):
            path.append(nodes[plan])
        else:
            digest = nodes[plan[-1]]
            for block in reversed(plan[:-1]):
                digest = node_hash(nodes[block], digest)
            edges.put(tree_size, start, digest)
            path.append(digest)
    return path

