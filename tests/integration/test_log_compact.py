"""The log's compact storage on a real database (SQLite and PostgreSQL): what an event costs in rows and bytes
stays within bounds computed from the layout, and a proof in a big tree reads a bounded number of rows, in
one query (counted with an SQLAlchemy event listener), and still verifies with the independent verifier.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select, text

from ledger import storage as db
from ledger.canonical import canonical
from ledger.database import make_engine
from ledger.log import TransparencyLog
from ledger.merkle import Frontier, inclusion_proof
from ledger.sm import Signer, SM2PrivateKey, sm3
from tests.helpers import TENANT, make_actor, signed_item, submission
from verifier.merkle import verify_consistency, verify_inclusion

BIG = 20_003  # synthetic leaves: 2**14 < BIG < 2**15, with a ragged right edge
_WORDS_SAVE = 100  # the field names of an event, at least, are packed to a byte each
_HEX64 = re.compile(rb'"[0-9a-f]{64}"')
_UUID = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')


def test_each_event_stores_a_packed_leaf_and_an_eighth_of_a_merkle_node(log: TransparencyLog) -> None:
    count = 40
    receipts = log.submit(submission(*(signed_item(make_actor(), payload={"n": n}) for n in range(count))))

    with log.engine.connect() as conn:
        stored = {int(i): bytes(leaf) for i, leaf in conn.execute(select(db.events.c.leaf_index, db.events.c.leaf))}
        nodes = conn.execute(select(func.count()).select_from(db.merkle_nodes)).scalar_one()
    for receipt in receipts:
        leaf = log.events_since(receipt.leaf_index - 1, limit=1)[0].leaf
        saved = 33 * len(_HEX64.findall(leaf)) + 21 * len(_UUID.findall(leaf)) + _WORDS_SAVE
        assert len(stored[receipt.leaf_index]) <= len(leaf) - saved, leaf
    assert nodes == sum(count >> level for level in range(db.STORED_LEVEL, count.bit_length()))


@pytest.fixture
def big_tree(engine: Engine) -> Iterator[Frontier]:
    """``BIG`` synthetic leaves stored as the writer stores them (leaf hashes in ``events``, nodes >= level 4)."""
    frontier = Frontier()
    created = frontier.append(sm3(i.to_bytes(8, "big")) for i in range(BIG))
    with engine.begin() as conn:
        db.insert_rows(conn, db.events, [
            (index, f"{index:036d}", "t", "bench.synthetic", None, "k", digest, digest, canonical({"i": index}),
             b"", b"", None, "2026-12-01T00:00:00.000Z", "", db.event_key("t", f"{index:036d}"))
            for (level, index), digest in created if level == 0])
        db.insert_rows(conn, db.merkle_nodes,
                       [(db.node_key(node), digest) for node, digest in created if node[0] >= db.STORED_LEVEL])
        conn.execute(db.log_state.insert().values(id=1, tree_size=BIG))
    yield frontier


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("index", [0, 7, 16_383, 19_999, BIG - 1])
def test_inclusion_proof_in_a_big_tree_reads_o_log_n_rows_in_one_query(
        engine: Engine, log_key: SM2PrivateKey, big_tree: Frontier, statements: list[tuple[str, Any]],
        index: int) -> None:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    with engine.connect() as conn:  # the node store alone (the log's own read, with the top of the tree held
        statements.clear()          # in memory, is counted in tests/integration/test_treetop.py)
        reference = inclusion_proof(db.SqlNodeStore(conn), index, BIG)

    queries = [(sql, params) for sql, params in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(queries) == 1, queries
    rows_asked = len(queries[0][1])  # one key per row: node ids and leaf indices
    # <= 2 log2(n) stored subtrees, the 16 leaves of the leaf's block and < 16 of the right edge's partial block
    assert rows_asked <= 2 * BIG.bit_length() + 16 + 15
    leaf, root, proof = log.prove_inclusion(index, BIG)
    assert proof == reference and root == big_tree.root()
    verify_inclusion(index, BIG, leaf, proof, root)


def test_consistency_proof_in_a_big_tree_verifies(engine: Engine, log_key: SM2PrivateKey,
                                                 big_tree: Frontier) -> None:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))

    for first in (1, 17, 16_384, BIG - 1):
        proof = log.consistency_proof(first, BIG)
        verify_consistency(first, BIG, log.root_at(first), big_tree.root(), proof)


def test_writer_restarts_on_a_big_tree_and_appends_where_it_was(engine: Engine, log_key: SM2PrivateKey,
                                                                big_tree: Frontier) -> None:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key))
    log.start()
    try:
        (receipt,) = log.submit(submission(signed_item(make_actor())))
        big_tree.append([receipt.leaf_hash])
        assert receipt.leaf_index == BIG and log.root_at(BIG + 1) == big_tree.root()
    finally:
        log.close()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM events")).scalar_one() == BIG + 1


def test_an_event_sharing_the_id_key_of_another_is_neither_its_duplicate_nor_its_conflict(
        log: TransparencyLog) -> None:
    first, second = signed_item(make_actor(), payload={"n": 1}), signed_item(make_actor(), payload={"n": 2})
    log.submit(submission(first))
    with log.engine.begin() as conn:  # as if BLAKE2b put both ids on one key
        conn.execute(db.events.update().values(id_key=db.event_key(TENANT, second["event"]["event_id"])))

    (receipt,) = log.submit(submission(second))
    (retry,) = log.submit(submission(second))

    assert (receipt.leaf_index, receipt.duplicate) == (1, False)
    assert (retry.leaf_index, retry.duplicate) == (1, True)
    found = log.event(TENANT, second["event"]["event_id"])
    assert found is not None and found.leaf_index == 1 and found.leaf_hash == receipt.leaf_hash


def test_a_new_sqlite_database_has_4_kib_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("PRAGMA page_size=16384")  # as new databases were made for a while (87b5e37)
        conn.execute("CREATE TABLE t (x)")
    for path, want in ((tmp_path / "new.db", 4096), (old, 16384)):
        engine = make_engine(f"sqlite:///{path}")
        with engine.connect() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS u (y)"))
            assert conn.exec_driver_sql("PRAGMA page_size").scalar() == want
        engine.dispose()
