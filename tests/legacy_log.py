"""Events written the way the log writer wrote them before migration 0010, for tests that fill a database at
an older revision and then migrate it (today's writer needs today's schema): every column but ``id_key``, the
leaf as canonical JSON, a Merkle node for every complete subtree, the permits' chain heads and the tree size.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text

from ledger import storage as db
from ledger.hashing import leaf_hash
from ledger.log import Receipt
from ledger.merkle import Frontier
from tests.helpers import prepared

_COLUMNS = ("leaf_index", "event_id", "tenant", "kind", "permit", "key_id", "claim_hash", "leaf_hash", "leaf",
            "payload_sealed", "payload_key", "attestation", "received_at", "flags")


def append_legacy(engine: Engine, items: list[dict[str, Any]]) -> list[Receipt]:
    """Append signed ``items`` in one transaction, as the writer before 0010 did; their receipts."""
    with engine.begin() as conn:
        frontier = Frontier.load(db.SqlNodeStore(conn), db.read_tree_size(conn))
        heads = {(t, p): bytes(h) for t, p, h in conn.execute(text("SELECT tenant, permit, leaf_hash FROM permit_heads"))}
        rows, nodes, receipts = [], [], []
        for item in items:
            p = prepared(item)
            leaf = p.leaf.fill(heads.get((p.tenant, p.permit or "")))
            digest, index = leaf_hash(leaf), frontier.size
            nodes += [{"k": db.node_key(node), "h": h} for node, h in frontier.append([digest])]
            rows.append(dict(zip(_COLUMNS, (index, p.event_id, p.tenant, p.kind, p.permit, p.key_id, p.claim_hash,
                                            digest, leaf, p.payload_sealed, p.payload_key, None, p.received_at, ""),
                                 strict=True)))
            if p.permit is not None:
                conn.execute(text("DELETE FROM permit_heads WHERE tenant = :t AND permit = :p"),
                             {"t": p.tenant, "p": p.permit})
                conn.execute(text("INSERT INTO permit_heads (tenant, permit, leaf_hash, leaf_index) "
                                  "VALUES (:t, :p, :h, :i)"), {"t": p.tenant, "p": p.permit, "h": digest, "i": index})
                heads[(p.tenant, p.permit)] = digest
            receipts.append(Receipt(p.event_id, index, digest, p.received_at))
        conn.execute(text(f"INSERT INTO events ({', '.join(_COLUMNS)}) VALUES ({', '.join(':' + c for c in _COLUMNS)})"),
                     rows)
        conn.execute(text("INSERT INTO merkle_nodes (node_id, hash) VALUES (:k, :h)"), nodes)
        conn.execute(text("DELETE FROM log_state"))
        conn.execute(text("INSERT INTO log_state (id, tree_size) VALUES (1, :n)"), {"n": frontier.size})
    return receipts


def legacy_root(receipts: list[Receipt]) -> bytes:
    """The root of the tree of these receipts' leaves (from leaf 0)."""
    frontier = Frontier()
    frontier.append(r.leaf_hash for r in receipts)
    return frontier.root()
