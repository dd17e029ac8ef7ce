"""Migration 0010 (packed leaves and attestations, Merkle nodes from level 4 up) on SQLite and PostgreSQL.

The layout before 0010 is made by 0010's own downgrade from a log the writer filled, and checked against what
the writer before 0010 stored (canonical JSON leaves and bodies, every complete subtree as a node, computed
here independently with ``Frontier``); the upgrade must then give back the same events, attestations, roots
and proofs, and the log must go on appending where it was.
"""

from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

import evidence_api
from ledger.canonical import canonical
from ledger.database import make_engine
from ledger.events import attestation_digest
from ledger.hashing import leaf_hash
from ledger.log import Submission, TransparencyLog
from ledger.merkle import Frontier
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import TENANT, make_actor, prepared, signed_item, submission
from verifier.merkle import verify_inclusion

LEAVES = 37  # two full 16-leaf blocks and a partial one


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(evidence_api.__file__).parent / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _open(engine: Engine, key: SM2PrivateKey) -> TransparencyLog:
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(key))
    log.start()
    return log


def _attested(count: int) -> Submission:
    items = [signed_item(make_actor(), permit="P-9", payload={"n": n}) for n in range(count)]
    events = [prepared(item) for item in items]
    body = {"v": 1, "tenant": TENANT, "actor": items[0]["event"]["actor"], "signature": "c2ln",
            "event_hashes": [p.claim_hash.hex() for p in events]}
    return Submission(events, body, attestation_digest(body))


def _nodes(engine: Engine) -> dict[int, bytes]:
    with engine.connect() as conn:
        return {int(k): bytes(h) for k, h in conn.execute(text("SELECT node_id, hash FROM merkle_nodes"))}


def _raw(engine: Engine, query: str) -> list[bytes]:
    with engine.connect() as conn:
        return [bytes(v) for (v,) in conn.execute(text(query))]


def test_migration_0010_down_gives_the_old_layout_and_up_keeps_the_log(database_url: str,
                                                                       log_key: SM2PrivateKey) -> None:
    config, engine = _alembic(database_url), make_engine(database_url)
    command.upgrade(config, "head")
    log = _open(engine, log_key)
    receipts = log.submit(submission(*(signed_item(make_actor(), payload={"n": n}) for n in range(LEAVES - 5))))
    attested = _attested(5)
    receipts += log.submit(attested)
    events = [log.event(TENANT, r.event_id) for r in receipts]
    digest, attestation = attested.attestation_digest, attested.attestation
    assert digest is not None and attestation is not None and log.attestation(TENANT, digest) == attestation
    log.close()
    root = log.latest_checkpoint().checkpoint.root_hash  # type: ignore[union-attr]

    command.downgrade(config, "0009")

    leaves = _raw(engine, "SELECT leaf FROM events ORDER BY leaf_index")
    assert leaves == [e.leaf for e in events if e is not None] and all(leaf[:1] == b"{" for leaf in leaves)
    assert _raw(engine, "SELECT body FROM attestations") == [canonical(attestation)]
    full = Frontier()
    expected = {(level << 56) | index: digest for (level, index), digest in full.append(map(leaf_hash, leaves))}
    assert _nodes(engine) == expected and full.root() == root

    command.upgrade(config, "head")

    assert all(not leaf.startswith(b"{") for leaf in _raw(engine, "SELECT leaf FROM events"))
    assert _nodes(engine) == {k: h for k, h in expected.items() if k >> 56 >= 4}
    log = _open(engine, log_key)
    try:
        assert [log.event(TENANT, r.event_id) for r in receipts] == events
        assert log.attestation(TENANT, digest) == attestation
        assert json.loads(events[-1].leaf)["subject"] == {"permit": "P-9"}  # type: ignore[union-attr]
        assert log.root_at(LEAVES) == root
        for index in (0, 15, 16, 31, 36):
            leaf, at_root, proof = log.prove_inclusion(index, LEAVES)
            verify_inclusion(index, LEAVES, leaf, proof, at_root)
        (more,) = log.submit(submission(signed_item(make_actor(), permit="P-9")))
        assert more.leaf_index == LEAVES
        assert b'"prev":"' + receipts[-1].leaf_hash.hex().encode() in log.events_since(LEAVES - 1, limit=1)[0].leaf
    finally:
        log.close()
        engine.dispose()
