"""The log's proofs with the top of the tree in memory (``ledger.treetop``) against the reference: ``ledger.merkle``
over ``SqlNodeStore``, on the same database. Byte-identical proofs and roots, or the same refusal; every proof
also checked by the independent verifier."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, event

from evidence_api.db import migrate
from ledger import storage as db
from ledger.errors import ProofError, StorageError
from ledger.log import TransparencyLog
from ledger.merkle import Frontier, consistency_proof, inclusion_proof, root_at
from ledger.records import Submission
from ledger.sm import Signer, SM2PrivateKey, sm3
from ledger.storage import make_engine
from ledger.treetop import TreeTop
from tests.helpers import make_actor, prepared, unsigned_item
from verifier.merkle import verify_consistency, verify_inclusion

TOP = 5  # low enough that trees of a few thousand leaves have a top of several levels
SIZE = 2_100  # 2**11 < SIZE < 2**12, a ragged right edge (0b100000110100)


def _reference_inclusion(engine: Engine, index: int, size: int) -> tuple[bytes, bytes, list[bytes]]:
    with engine.connect() as conn:
        store = db.SqlNodeStore(conn)
        proof = inclusion_proof(store, index, size)
        return store.get_nodes([(0, index)])[(0, index)], root_at(store, size), proof


def _reference_consistency(engine: Engine, first: int, second: int) -> tuple[bytes, bytes, list[bytes]]:
    with engine.connect() as conn:
        store = db.SqlNodeStore(conn)
        proof = consistency_proof(store, first, second)
        return root_at(store, first), root_at(store, second), proof


def _refusal(call: object, *args: int) -> tuple[str, object]:
    try:
        return "ok", call(*args)  # type: ignore[operator]
    except ProofError as exc:
        return "refused", str(exc)


@pytest.fixture
def synthetic(engine: Engine, log_key: SM2PrivateKey) -> TransparencyLog:
    """``SIZE`` synthetic leaves stored as the writer stores them, and a log (not started) on them."""
    return _fill(engine, log_key)


def _fill(engine: Engine, log_key: SM2PrivateKey) -> TransparencyLog:
    created = Frontier().append(sm3(i.to_bytes(8, "big")) for i in range(SIZE))
    with engine.begin() as conn:
        db.insert_rows(conn, db.events, [
            (index, f"{index:036d}", "t", "bench.synthetic", None, "k", digest, digest, b"{}", b"", b"", None,
             "2026-12-01T00:00:00.000Z", "", db.event_key("t", f"{index:036d}"))
            for (level, index), digest in created if level == 0])
        db.insert_rows(conn, db.merkle_nodes,
                       [(db.node_key(node), digest) for node, digest in created if node[0] >= db.STORED_LEVEL])
        conn.execute(db.log_state.insert().values(id=1, tree_size=SIZE))
    return TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), top_level=TOP)


_SIZES = st.one_of(st.integers(0, SIZE + 2), st.sampled_from([0, 1, 2, 31, 32, 33, 1024, 2048, 2049, SIZE]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(-2, SIZE + 2), size=_SIZES)
def test_prove_inclusion_equals_the_reference_or_refuses_alike(synthetic: TransparencyLog, index: int,
                                                               size: int) -> None:
    engine = synthetic.engine
    got = _refusal(synthetic.prove_inclusion, index, size)
    if size > SIZE:
        assert got == ("refused", f"tree size {size} is beyond the log's size {SIZE}")
        return
    assert got == _refusal(lambda i, s: _reference_inclusion(engine, i, s), index, size)
    assert _refusal(synthetic.inclusion_proof, index, size) == _refusal(
        lambda i, s: _reference_inclusion(engine, i, s)[2], index, size)
    if got[0] == "ok":
        leaf, root, proof = got[1]  # type: ignore[misc]
        verify_inclusion(index, size, leaf, proof, root)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=_SIZES, second=_SIZES)
def test_prove_consistency_equals_the_reference_or_refuses_alike(synthetic: TransparencyLog, first: int,
                                                                 second: int) -> None:
    engine = synthetic.engine
    got = _refusal(synthetic.prove_consistency, first, second)
    if second > SIZE:
        assert got == ("refused", f"tree size {second} is beyond the log's size {SIZE}")
        return
    assert got == _refusal(lambda a, b: _reference_consistency(engine, a, b), first, second)
    assert _refusal(synthetic.consistency_proof, first, second) == _refusal(
        lambda a, b: _reference_consistency(engine, a, b)[2], first, second)
    assert synthetic.root_at(second) == _reference_consistency(engine, second, second)[1]
    if got[0] == "ok":
        root1, root2, proof = got[1]  # type: ignore[misc]
        verify_consistency(first, second, root1, root2, proof)


def test_inclusion_proofs_of_many_leaves_equal_the_reference(synthetic: TransparencyLog) -> None:
    rng = random.Random(12)
    for size in (1, 33, 2048, SIZE):
        indices = sorted(rng.sample(range(size), min(size, 700)))
        with synthetic.engine.connect() as conn:
            want = [inclusion_proof(db.SqlNodeStore(conn), i, size) for i in indices]
        assert synthetic.inclusion_proofs(indices, size) == want


def test_proofs_equal_the_reference_while_the_writer_grows_the_tree(engine: Engine, log_key: SM2PrivateKey) -> None:
    rng, actor = random.Random(7), make_actor()
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key), top_level=4)
    log.start()
    try:
        for _ in range(12):
            log.submit(Submission([prepared(unsigned_item(actor, payload={"n": rng.random()}))
                                   for _ in range(rng.randrange(1, 90))]))
            size = log.tree_size
            for _ in range(8):
                index, first = rng.randrange(size), rng.randrange(size + 1)
                assert log.prove_inclusion(index, size) == _reference_inclusion(engine, index, size)
                assert log.prove_consistency(first, size) == _reference_consistency(engine, first, size)
    finally:
        log.close()


def test_the_top_holds_every_node_of_its_levels_and_nothing_more(synthetic: TransparencyLog) -> None:
    top = TreeTop(TOP)
    with synthetic.engine.connect() as conn:
        top.catch_up(conn, SIZE)
        store = db.SqlNodeStore(conn)
        for level in range(TOP, SIZE.bit_length()):
            assert top.count(level) == SIZE >> level
            held = [top.get((level, i)) for i in range(SIZE >> level)]
            assert held == [store.get_nodes([(level, i)])[(level, i)] for i in range(SIZE >> level)]
        assert top.get((TOP, SIZE >> TOP)) is None and top.get((TOP - 1, 0)) is None
    assert top.nbytes() == 32 * sum(SIZE >> level for level in range(TOP, SIZE.bit_length()))


def test_a_top_below_the_stored_levels_is_refused() -> None:
    with pytest.raises(ValueError, match=r"the top of the tree must start at a stored level \(>= 4\), got 3"):
        TreeTop(3)


def test_a_node_store_missing_a_node_of_the_top_is_refused_with_the_reason(synthetic: TransparencyLog) -> None:
    with synthetic.engine.begin() as conn:
        conn.execute(delete(db.merkle_nodes).where(db.merkle_nodes.c.node_id == db.node_key((TOP, 40))))

    with pytest.raises(StorageError, match=rf"merkle_nodes holds 64 of the 65 nodes of level {TOP} from index 0: "
                                           r"the node store is incomplete \(restore it from a backup\)"):
        synthetic.prove_inclusion(3, SIZE)
    # a tree small enough to need no node of the missing one's is still proven
    assert synthetic.prove_inclusion(3, 40 << TOP) == _reference_inclusion(synthetic.engine, 3, 40 << TOP)


def test_a_proof_of_a_held_top_is_one_query_of_few_rows(tmp_path: Path, log_key: SM2PrivateKey) -> None:
    url = f"sqlite:///{tmp_path / 'count.db'}"
    migrate(url)
    engine, selects = make_engine(url), []
    event.listen(engine, "connect", lambda raw, _record: raw.set_trace_callback(
        lambda sql: selects.append(sql) if sql.lstrip().upper().startswith("SELECT") else None))
    log = _fill(engine, log_key)
    log.root_at(SIZE)  # the top is read once
    for index in (0, 1_000, SIZE - 1):
        selects.clear()

        leaf, root, proof = log.prove_inclusion(index, SIZE)

        assert len(selects) == 1, selects
        # below the top: stored nodes by key, the 16 leaf hashes of the leaf's lowest stored node and those of
        # the right edge's block below level 4 (4 here): two runs
        assert selects[0].count("merkle_nodes") <= 1 and selects[0].count("BETWEEN") <= 2
        verify_inclusion(index, SIZE, leaf, proof, root)
    engine.dispose()
