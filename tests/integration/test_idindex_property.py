"""Property: the event-id index (``ledger.idindex``) answers what the old index over ``events.id_key`` answered
(the reference: every leaf whose row holds the key), for random id keys with many collisions and the extreme
keys, at every step of random appends, tail flushes, merge slices and writer restarts, both through the
writer's memory and from the database alone."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, text

from evidence_api.db import migrate
from ledger import storage as db
from ledger.database import begin_write, make_engine
from ledger.idindex import IdIndex, IdTuning, leaves_with_key, merge_step
from tests.integration.test_idindex import check_stored_form

KEYS = st.one_of(st.integers(-3, 3), st.sampled_from([-(1 << 63), (1 << 63) - 1, 1 << 40, -(1 << 40)]),
                 st.integers(-(1 << 63), (1 << 63) - 1))
STEP = st.one_of(st.tuples(st.just("append"), st.lists(KEYS, min_size=1, max_size=7)),
                 st.tuples(st.just("idle"), st.just([])), st.tuples(st.just("restart"), st.just([])))
TUNING = st.builds(IdTuning, tail=st.integers(1, 6), fan_in=st.integers(2, 3), slice=st.integers(1, 4))


def _reference(conn: Connection, key: int) -> list[int]:
    """What ``ix_events_id_key`` answered (migration 0011): every leaf with that key."""
    return sorted(int(i) for (i,) in conn.execute(text("SELECT leaf_index FROM events WHERE id_key = :k"), {"k": key}))


def _append(conn: Connection, size: int, keys: list[int]) -> list[tuple[int, int]]:
    rows = [(size + n, f"{size + n:036d}", "t", "k", None, "k", b"c", b"h", b"{}", b"", b"", None,
             "2026-12-01T00:00:00.000Z", "", key) for n, key in enumerate(keys)]
    db.insert_rows(conn, db.events, rows)
    size += len(keys)
    if conn.execute(text("UPDATE log_state SET tree_size = :n WHERE id = 1"), {"n": size}).rowcount == 0:
        conn.execute(text("INSERT INTO log_state (id, tree_size) VALUES (1, :n)"), {"n": size})
    return [(key, size - len(keys) + n) for n, key in enumerate(keys)]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated empty database, copied for each example (migrating costs more than an example)."""
    path = tmp_path_factory.mktemp("ids") / "template.db"
    migrate(f"sqlite:///{path}")
    return path


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tuning=TUNING, steps=st.lists(STEP, min_size=1, max_size=25), probes=st.lists(KEYS, max_size=5),
       background=st.booleans())
def test_id_index_agrees_with_the_old_index(template: Path, tmp_path: Path, tuning: IdTuning,
                                            steps: list[tuple[str, list[int]]], probes: list[int],
                                            background: bool) -> None:
    """``background``: the filter is built by a thread while the steps run (installed whenever it is done)."""
    path = tmp_path / f"ids-{uuid.uuid4()}.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    index, size, seen = IdIndex(tuning), 0, set(probes)
    try:
        with engine.connect() as conn:
            index.load(conn, engine=engine if background else None)
        for kind, keys in steps:
            with begin_write(engine) as conn:
                if kind == "append":
                    added = _append(conn, size, keys)
                    size += len(keys)
                    seen.update(keys)
                    done = index.maintain(conn, size, len(keys))
                elif kind == "idle":
                    added, done = [], index.maintain(conn, size, 0) if index.merge_due else None
                else:
                    added, done = [], None
            if kind == "restart":
                index = IdIndex(tuning)
                with engine.connect() as conn:
                    index.load(conn, engine=engine if background else None)
            else:
                index.committed(added, done)
            check_stored_form(engine)
            with engine.connect() as conn:
                for key in seen:
                    want = _reference(conn, key)
                    assert sorted(index.leaves(conn, [key]).get(key, [])) == want
                    assert sorted(index.leaves(conn, [key], in_writer=False).get(key, [])) == want
                    assert leaves_with_key(conn, key) == want
        with begin_write(engine) as conn:  # the merges run to their end and still agree
            while merge_step(conn, tuning):
                pass
        check_stored_form(engine)
        with engine.connect() as conn:
            assert all(leaves_with_key(conn, key) == _reference(conn, key) for key in seen)
    finally:
        engine.dispose()
