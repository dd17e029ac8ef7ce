"""The log's event-id index: the newest ids in the writer's memory, the older ones in sorted runs on disk.

Each event's ``events.id_key`` (``storage.event_key``: 8 bytes of BLAKE2b over tenant and id, not unique) is
found through two parts (docs/formats.md, "Event-id index"):

- the **tail**: the events with ``leaf_index >= log_state.ids_merged``. They carry no index on disk; the single
  writer holds their keys in a dict (rebuilt at start-up by one scan of those rows in leaf order), and a reader
  without the writer scans those rows (at most about ``IdTuning.tail`` plus one group), see ``leaves_with_key``;
- the **runs**: ``event_ids`` rows ``(run, id_key, leaf_index)`` of the events below the cursor. A full tail is
  written as one new run, sorted, at the end of the table's key space (each page written once, not once per
  key as a random index insert is); ``fan_in`` runs of one size class are merged into one, in key-range slices
  of ``slice`` keys, one slice per transaction: each slice moves its keys from the source runs to the target
  in one transaction, so every key is in exactly one listed run at every commit (``kill -9`` between slices
  loses nothing and finds nothing twice). The writer's duplicate check probes the runs only for keys an
  in-memory Bloom filter over every run's keys may hold (a fresh id costs no read). The writer saves that filter
in ``id_filter`` when it stops cleanly, with the cursor it covers; the next start loads it and adds only the keys
flushed since (a crash costs a rebuild in the background, during which lookups probe the runs instead).

Every change on disk happens in the caller's write transaction; the writer's memory follows only once it has
committed (``Maintenance`` is what ``IdIndex.committed`` applies).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ledger.sm import sm3
from ledger.storage import placeholder

__all__ = ["IdIndex", "IdTuning", "Maintenance", "index_all", "leaves_with_key", "saved_filter_covers"]

_log = logging.getLogger(__name__)
_MIN_KEY, _KEY_SPAN = -(1 << 63), 1 << 64
_PARAMS = 900  # bound parameters per probe (SQLite allows 999 by default)


@dataclass(frozen=True)
class IdTuning:
    """``tail``: unmerged events before the tail becomes a run; ``fan_in``: runs of one size class merged into
    one; ``slice``: keys moved per merge step (one step per group commit, or per idle moment of the writer)."""

    tail: int = 32_768
    fan_in: int = 8
    slice: int = 65_536


@dataclass(frozen=True)
class Maintenance:
    """What one transaction did to the index: ``flushed_to`` is the new cursor if the tail became a run (its
    keys go into the filter once committed), ``more`` whether a merge is left to do."""

    flushed_to: int | None
    more: bool


class _Bloom:
    """Bloom filter over 64-bit keys that are already uniform hashes: two probes from disjoint bit slices of the
    key, at least 16 bits per key of ``capacity`` (≈1.4 % false positives when full)."""

    def __init__(self, capacity: int) -> None:
        bits = max(1 << 16, 1 << (16 * capacity - 1).bit_length())
        bits = min(bits, 1 << 32)  # the second probe takes bits 32..63: keep the slices disjoint
        self.mask, self.capacity, self.count = bits - 1, bits >> 4, 0
        self.bits = bytearray(bits >> 3)

    def maybe(self, key: int) -> bool:
        bits, mask = self.bits, self.mask
        i, j = key & mask, (key >> 32) & mask
        return bool(bits[i >> 3] >> (i & 7) & bits[j >> 3] >> (j & 7) & 1)

    @classmethod
    def restore(cls, bits: bytes, count: int) -> _Bloom | None:
        """A filter saved as ``bits`` holding ``count`` keys, or None if ``bits`` is not of a size ``__init__``
        makes (a power of two from 2^16 to 2^32 bits)."""
        size = len(bits) * 8
        if size < 1 << 16 or size > 1 << 32 or size & (size - 1) or count < 0:
            return None
        bloom = cls.__new__(cls)
        bloom.mask, bloom.capacity, bloom.count, bloom.bits = size - 1, size >> 4, count, bytearray(bits)
        return bloom


class _Filter:
    """A growing set of Bloom filters (a new one of twice the capacity when the last is full): no rebuild."""

    def __init__(self, capacity: int, blooms: list[_Bloom] | None = None) -> None:
        self._blooms = blooms or [_Bloom(capacity)]

    def add_all(self, keys: Iterable[int]) -> None:
        """Add ``keys`` (the loop is ``_Bloom.add`` inlined: start-up adds every run's key)."""
        bloom = self._blooms[-1]
        bits, mask, room = bloom.bits, bloom.mask, bloom.capacity - bloom.count
        for key in keys:
            if room <= 0:
                bloom.count = bloom.capacity
                bloom = _Bloom(2 * bloom.capacity)
                self._blooms.append(bloom)
                bits, mask, room = bloom.bits, bloom.mask, bloom.capacity
            i, j = key & mask, (key >> 32) & mask
            bits[i >> 3] |= 1 << (i & 7)
            bits[j >> 3] |= 1 << (j & 7)
            room -= 1
        bloom.count = bloom.capacity - room

    def maybe(self, key: int) -> bool:
        for bloom in self._blooms:
            if bloom.maybe(key):
                return True
        return False


class _Everything:
    """The filter until the real one is built: any key may be in a run."""

    def add_all(self, keys: Iterable[int]) -> None:
        """Nothing to remember."""

    def maybe(self, key: int) -> bool:
        return True


def _run_keys(conn: Connection, tuning: IdTuning, saved: tuple[int, _Filter] | None = None) -> _Filter:
    """A filter over every key in ``event_ids`` (one statement, streamed: one snapshot of the runs). With
    ``saved`` (cursor, filter of every key below that cursor), only the keys of the events from that cursor on
    are read and added to it: a merge moves rows between runs but never changes their ``leaf_index``."""
    if saved is None:
        count = int(conn.exec_driver_sql("SELECT count(*) FROM event_ids").scalar_one())
        keys, since = _Filter(count + 8 * tuning.tail), ""
    else:
        keys, since = saved[1], f" WHERE leaf_index >= {saved[0]}"
    rows = conn.exec_driver_sql(f"SELECT id_key FROM event_ids{since}",
                                execution_options={"stream_results": True, "yield_per": 65_536})
    keys.add_all(int(k) for (k,) in rows)
    return keys


def _saved(conn: Connection) -> tuple[int, _Filter] | None:
    """The filter the writer saved when it last stopped cleanly, with the cursor it covers (every key of the
    events below it); None if there is none, or if it does not read back whole (its SM3 digest is checked:
    a filter missing a bit would let a reused id in, so a damaged one is rebuilt instead)."""
    rows = conn.exec_driver_sql("SELECT part, merged, key_count, digest, bits FROM id_filter ORDER BY part").all()
    if not rows:
        return None
    blooms, cursors = [], {int(r[1]) for r in rows}
    for part, (number, _, count, digest, bits) in enumerate(rows):
        bloom = _Bloom.restore(bytes(bits), int(count)) if int(number) == part and len(cursors) == 1 else None
        if bloom is None or sm3(bytes(bits)) != bytes(digest):
            _log.warning("the saved event-id filter does not read back whole (part %s); rebuilding it from the "
                         "runs instead", number)
            return None
        blooms.append(bloom)
    return cursors.pop(), _Filter(0, blooms)


def _store(conn: Connection, merged: int, keys: _Filter) -> None:
    """Replace the saved filter with ``keys``, which holds every key of the events below ``merged``."""
    mark = placeholder(conn)
    conn.exec_driver_sql("DELETE FROM id_filter")
    for part, bloom in enumerate(keys._blooms):
        bits = bytes(bloom.bits)
        conn.exec_driver_sql(f"INSERT INTO id_filter (part, merged, key_count, digest, bits) VALUES "
                             f"({part}, {merged}, {bloom.count}, {mark}, {mark})", (sm3(bits), bits))


def saved_filter_covers(conn: Connection) -> int | None:
    """The cursor the saved event-id filter covers (events below it), or None if no filter is saved."""
    value = conn.exec_driver_sql("SELECT MIN(merged) FROM id_filter").scalar()
    return None if value is None else int(value)


class _Tail:
    """id_key -> leaf indices of the unmerged events (a key of two events keeps both, oldest first)."""

    def __init__(self) -> None:
        self.one: dict[int, int] = {}
        self.more: dict[int, list[int]] = {}

    def __len__(self) -> int:
        return len(self.one) + sum(len(v) for v in self.more.values())

    def add(self, key: int, index: int) -> None:
        if key in self.one:
            self.more.setdefault(key, []).append(index)
        else:
            self.one[key] = index

    def get(self, key: int) -> list[int]:
        first = self.one.get(key)
        if first is None:
            return []
        return [first, *self.more.get(key, ())]


class IdIndex:
    """The writer's view of the index (one per log; only the writer thread changes it).

    ``load`` reads the tail and the runs' keys; until then (and after ``unload``) ``loaded`` is False and
    lookups must go to ``leaves_with_key``. Requires the single writer: nothing else adds events.
    """

    def __init__(self, tuning: IdTuning | None = None) -> None:
        self.tuning = tuning or IdTuning()
        self.loaded = False
        self._tail: _Tail = _Tail()
        self._filter: _Filter | _Everything = _Filter(1)
        self._merging = False
        self._generation = 0
        self._pending: list[list[int]] | None = None  # keys flushed while the filter is being built
        self._built: tuple[int, _Filter] | None = None  # a builder's (generation, filter), for the writer
        self._saved_at: int | None = None  # the cursor of the filter in ``id_filter``, if it read back whole
        self._builder: threading.Thread | None = None  # the background build of the filter, if one was started

    # -- memory ----------------------------------------------------------------------------------
    def load(self, conn: Connection, *, engine: Engine | None = None) -> None:
        """Rebuild the memory from the database: the tail from the events above the cursor (leaf order), and
        the filter over every run's key. With ``engine``, the filter is built in a background thread on a
        connection of its own (~1 µs of CPU per key: seconds at 10^7 leaves, which a start-up should not wait
        for) and the writer installs it at its next commit; until then every key not in the tail is looked up
        in the runs (exact, only slower). Without ``engine``, it is built here."""
        merged = _merged(conn)
        tail = _Tail()
        for key, index in conn.exec_driver_sql(
                f"SELECT id_key, leaf_index FROM events WHERE leaf_index >= {merged} ORDER BY leaf_index"):
            tail.add(int(key), int(index))
        self._generation += 1
        self._built, self._pending = None, []
        saved = _saved(conn)
        self._saved_at = None if saved is None else saved[0]
        if saved is not None and saved[0] == merged:  # saved at a clean stop, nothing flushed since
            self._filter, self._pending = saved[1], None
        elif engine is None:
            self._filter = _run_keys(conn, self.tuning, saved)
            self._pending = None
        else:
            self._filter = _Everything()
            self._builder = threading.Thread(target=self._build, args=(engine, self._generation, saved),
                                             daemon=True, name="tiezheng-id-filter")
            self._builder.start()
        self._tail = tail
        self._merging = _plan(conn, self.tuning) is not None
        self.loaded = True

    def _build(self, engine: Engine, generation: int, saved: tuple[int, _Filter] | None) -> None:
        try:
            with engine.connect() as conn:
                built = _run_keys(conn, self.tuning, saved)
        except SQLAlchemyError as exc:
            _log.error("cannot build the event-id filter; every id is looked up in the runs instead: %s", exc)
            return
        self._built = generation, built

    def _install(self) -> None:
        """In the writer thread: take a finished filter, with the keys flushed since its build began."""
        done, pending = self._built, self._pending
        if done is None or pending is None or done[0] != self._generation:
            return
        built = done[1]
        for keys in pending:
            built.add_all(keys)
        self._filter, self._built, self._pending = built, None, None

    def settle(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for a filter still being built in the background (before ``save`` at a
        clean stop: a small log's build takes milliseconds, and without it nothing is saved; a large one's build
        is given up on, as before, and the next start builds it again)."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def save(self, conn: Connection) -> bool:
        """Save the filter over the runs' keys in ``id_filter`` (in ``conn``'s write transaction) so that the
        next ``load`` need not read every key again; call it once the writer has stopped. False (nothing saved)
        while the filter is still being built, or when the one ``load`` read whole (or this saved) covers the same
        cursor, so holds the same keys; a filter saved before stays valid for its own cursor."""
        self._install()
        keys, merged = self._filter, _merged(conn)
        if not isinstance(keys, _Filter) or self._saved_at == merged:  # still building, or saved already
            return False
        _store(conn, merged, keys)
        self._saved_at = merged
        return True

    def unload(self) -> None:
        """Stop answering from memory (the writer stopped: another process may write next). The memory itself
        stays until the next ``load`` replaces it, so a reader that saw ``loaded`` just before reads it whole."""
        self.loaded = False

    def leaves(self, conn: Connection, keys: Iterable[int], *, in_writer: bool = True) -> dict[int, list[int]]:
        """Leaf indices of the committed events with each of ``keys`` (keys without one are absent): the tail
        from memory, the runs probed for the keys the filter may hold (``run_leaves``; a reader passes
        ``in_writer=False``). Requires ``loaded``. The memory changes only after the database has: a key
        leaves the tail only once it is in the filter and a committed run."""
        if in_writer:
            self._install()
        found: dict[int, list[int]] = {}
        probe = []
        tail, maybe = self._tail, self._filter.maybe
        for key in keys:
            hits = tail.get(key)
            if hits:
                found[key] = hits
            if maybe(key):
                probe.append(key)
        for key, index in run_leaves(conn, probe, in_writer=in_writer):
            found.setdefault(key, []).append(index)
        return found

    def committed(self, added: Iterable[tuple[int, int]], done: Maintenance | None) -> None:
        """Apply a committed transaction: ``added`` (id_key, leaf_index) of its new events, then what its
        maintenance did (a flushed tail's keys move to the filter before the tail is dropped, so a concurrent
        reader always finds them in one of the two)."""
        self._install()
        tail = self._tail
        for key, index in added:
            tail.add(key, index)
        if done is None:
            return
        if done.flushed_to is not None:
            if self._pending is not None:  # a builder may have read the runs before this one
                self._pending.append(list(tail.one))
            self._filter.add_all(tail.one)  # a key in ``more`` is in ``one`` too
            self._tail = _Tail()
        self._merging = done.more

    # -- maintenance (inside the writer's transaction) ---------------------------------------------
    def maintain(self, conn: Connection, size: int, staged: int) -> Maintenance | None:
        """One step of upkeep on ``conn`` after a group commit staged ``staged`` new events (the log now holds
        ``size``): write the tail as a run when it is full, else move one slice of a due merge. None if there
        was nothing to do. Requires ``loaded``."""
        if len(self._tail) + staged >= self.tuning.tail:
            flush_tail(conn, size)
            return Maintenance(size, True)
        if self._merging:
            return Maintenance(None, merge_step(conn, self.tuning))
        return None

    def upkeep_due(self, staged: int) -> bool:
        """Whether ``maintain`` after a group that staged ``staged`` new events would do anything (the writer
        skips the savepoint around it otherwise)."""
        return self._merging or len(self._tail) + staged >= self.tuning.tail

    @property
    def filtered(self) -> bool:
        """Whether the filter over the runs' keys is installed (else every non-tail key is probed)."""
        return isinstance(self._filter, _Filter)

    @property
    def merge_due(self) -> bool:
        """Whether a merge has work left (the writer does it between group commits when idle)."""
        return self.loaded and self._merging


def _merged(conn: Connection) -> int:
    """The cursor: every event below it is in a run (0 on a new log)."""
    value = conn.exec_driver_sql("SELECT ids_merged FROM log_state WHERE id = 1").scalar()
    return int(value or 0)


def _marks(conn: Connection, count: int) -> str:
    mark = placeholder(conn)
    return ", ".join([mark] * count)


def _runs(conn: Connection) -> list[int]:
    return [int(r) for (r,) in conn.exec_driver_sql("SELECT run FROM id_runs ORDER BY run")]


def run_leaves(conn: Connection, keys: Sequence[int], *, in_writer: bool = True) -> list[tuple[int, int]]:
    """(id_key, leaf_index) of every run entry with one of ``keys``, on ``conn``. ``in_writer``: ``conn`` is in
    the writer's transaction, so no one changes the runs meanwhile; otherwise the run list is read again
    afterwards and the probe repeated if a merge started or ended in between (``leaves_with_key``)."""
    runs = _runs(conn) if keys else []
    while runs:
        found: list[tuple[int, int]] = []
        for start in range(0, len(keys), _PARAMS):
            some = tuple(keys[start:start + _PARAMS])
            found.extend((int(k), int(i)) for k, i in conn.exec_driver_sql(
                f"SELECT id_key, leaf_index FROM event_ids WHERE run IN ({', '.join(map(str, runs))}) "
                f"AND id_key IN ({_marks(conn, len(some))})", some))
        if in_writer:
            return found
        again = _runs(conn)
        if again == runs:
            return found
        runs = again
    return []


def leaves_with_key(conn: Connection, key: int) -> list[int]:
    """Leaf indices of the committed events with ``key``, from the database alone (no writer needed): the
    listed runs, and a scan of the tail's rows above the cursor. The cursor and the run list are read before
    and after (with literal values the planner sees how small the tail is, also on PostgreSQL); if either
    moved, a flush or merge committed meanwhile and the lookup is done again. A run number is never reused and
    the cursor only grows, so equal before and after means unchanged in between."""
    state = _merged(conn), _runs(conn)
    while True:
        merged, runs = state
        parts = [f"SELECT leaf_index FROM events WHERE leaf_index >= {merged} AND id_key = {_marks(conn, 1)}"]
        if runs:
            parts.append(f"SELECT leaf_index FROM event_ids WHERE run IN ({', '.join(map(str, runs))}) "
                         f"AND id_key = {_marks(conn, 1)}")
        found = sorted(int(i) for (i,) in conn.exec_driver_sql(" UNION ALL ".join(parts), (key,) * len(parts)))
        again = _merged(conn), _runs(conn)
        if again == state:
            return found
        state = again


def _new_run(conn: Connection) -> int:
    return int(conn.exec_driver_sql("SELECT COALESCE(MAX(run), -1) + 1 FROM id_runs").scalar_one())


def flush_tail(conn: Connection, size: int) -> None:
    """Write the events from the cursor up to ``size`` (staged ones of ``conn``'s transaction included) as one
    new run, sorted by key, and move the cursor to ``size``."""
    merged = _merged(conn)
    if size <= merged:
        return
    run = _new_run(conn)
    conn.exec_driver_sql(f"INSERT INTO id_runs (run, key_count, merging_into, built_below) VALUES ({run}, {size - merged}, "
                         "NULL, NULL)")
    conn.exec_driver_sql(f"INSERT INTO event_ids (run, id_key, leaf_index) SELECT {run}, id_key, leaf_index FROM events "
                         f"WHERE leaf_index >= {merged} AND leaf_index < {size} ORDER BY id_key, leaf_index")
    conn.exec_driver_sql(f"UPDATE log_state SET ids_merged = {size} WHERE id = 1")


def index_all(conn: Connection) -> None:
    """Move every event not yet in a run into one new run (after events rows were written by other means than
    the log writer, e.g. a synthetic fill) and save the filter over every run's keys, as a clean stop of the
    writer does; the log's writer must not be running."""
    size = int(conn.exec_driver_sql("SELECT COALESCE(MAX(leaf_index) + 1, 0) FROM events").scalar_one())
    flush_tail(conn, size)
    _store(conn, size, _run_keys(conn, IdTuning()))


def _level(keys: int, tuning: IdTuning) -> int:
    level, bound = 0, tuning.tail * tuning.fan_in
    while keys >= bound:
        level, bound = level + 1, bound * tuning.fan_in
    return level


def _plan(conn: Connection, tuning: IdTuning) -> tuple[int, list[int], int, int] | None:
    """The merge to work on: (target, sources, keys, built_below) of the one in progress, else of a new one
    (``fan_in`` complete runs of the lowest size class that has that many), else None."""
    rows = conn.exec_driver_sql("SELECT run, key_count, merging_into, built_below FROM id_runs ORDER BY run").all()
    for run, keys, _, built in rows:
        if built is not None:
            return int(run), [int(r) for r, _, into, _ in rows if into == run], int(keys), int(built)
    classes: dict[int, list[tuple[int, int]]] = {}
    for run, keys, _, _ in rows:
        classes.setdefault(_level(int(keys), tuning), []).append((int(run), int(keys)))
    for level in sorted(classes):
        if len(classes[level]) >= tuning.fan_in:
            chosen = classes[level][:tuning.fan_in]
            return -1, [r for r, _ in chosen], sum(k for _, k in chosen), _MIN_KEY
    return None


def merge_step(conn: Connection, tuning: IdTuning) -> bool:
    """Move one key-range slice of the due merge (starting it if none is in progress): its keys go from the
    source runs into the target run, the target's ``built_below`` moves past them; the last slice drops the
    sources' rows of ``id_runs`` and completes the target. True if a merge has work left afterwards."""
    plan = _plan(conn, tuning)
    if plan is None:
        return False
    target, sources, keys, low = plan
    if target < 0:
        target = _new_run(conn)
        conn.exec_driver_sql(f"INSERT INTO id_runs (run, key_count, merging_into, built_below) VALUES ({target}, {keys}, "
                             f"NULL, {low})")
        conn.exec_driver_sql(f"UPDATE id_runs SET merging_into = {target} WHERE run IN ({', '.join(map(str, sources))})")
    high = low + -(-_KEY_SPAN * tuning.slice // max(keys, 1))
    last = high >= -_MIN_KEY  # every key left is below high: the last slice
    where = (f"run IN ({', '.join(map(str, sources))}) AND id_key >= {low}" + ("" if last else f" AND id_key < {high}"))
    conn.exec_driver_sql(f"INSERT INTO event_ids (run, id_key, leaf_index) SELECT {target}, id_key, leaf_index "
                         f"FROM event_ids WHERE {where} ORDER BY id_key, leaf_index")
    conn.exec_driver_sql(f"DELETE FROM event_ids WHERE {where}")
    if last:
        conn.exec_driver_sql(f"DELETE FROM id_runs WHERE merging_into = {target}")
        conn.exec_driver_sql(f"UPDATE id_runs SET built_below = NULL WHERE run = {target}")
        return _plan(conn, tuning) is not None
    conn.exec_driver_sql(f"UPDATE id_runs SET built_below = {high} WHERE run = {target}")
    return True
