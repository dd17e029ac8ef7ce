"""One group commit of the log writer: check each submission against the log, stage its rows, write them.

Submissions are taken in queue order. Each is checked for idempotency per tenant (an ``event_id`` names an
event within its tenant only), gets the next leaf indices, and is linked into its permits' ``prev`` chains.
Rows of submissions without a commit hook are buffered and written in bulk. A submission with a hook is
written in a SAVEPOINT of its own, its hook run there; if the hook raises, the savepoint is rolled back and
the submission's share of the frontier, the chain heads and the staged ids is undone, so the submissions
after it get the indices and ``prev`` links they would have had without it. It alone gets the error.

Everything happens inside the caller's one transaction: the group is durable together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError

from ledger import storage as db
from ledger import writer_sql as sql
from ledger.canonical import canonical
from ledger.errors import DuplicateConflict, LedgerError, StorageError
from ledger.hashing import leaf_hash
from ledger.idindex import IdIndex, Maintenance
from ledger.merkle import Frontier
from ledger.packing import pack, pack_leaf, pack_packed_leaf
from ledger.reader import FoldHead
from ledger.records import PreparedEvent, Receipt, Submission

__all__ = ["GroupCommit"]

_log = logging.getLogger(__name__)

_Key = tuple[str, str]  # (tenant, event_id) and (tenant, permit)


@dataclass
class _Mark:
    """What to restore if a hooked submission fails: the frontier and the entries it touched."""

    frontier: Frontier
    heads: dict[_Key, tuple[bytes, int] | None]
    fresh: list[_Key]
    folds: int  # how many ``GroupCommit.folds`` there were


class GroupCommit:
    """Stages and writes the submissions of one group commit on ``conn``, growing ``frontier``.

    Call ``add`` for each submission in order, then ``finish``; commit ``conn``'s transaction afterwards.
    """

    def __init__(self, conn: Connection, frontier: Frontier, ids: IdIndex) -> None:
        self.conn, self.frontier, self.ids = conn, frontier, ids
        self._upkeep: Maintenance | None = None
        self._heads: dict[_Key, tuple[bytes, int]] = {}
        self._staged: dict[_Key, tuple[bytes, Receipt]] = {}  # claim hash and receipt of each new event
        self._events: list[tuple[Any, ...]] = []
        self._nodes: list[tuple[int, bytes]] = []
        self.folds: list[FoldHead] = []
        """The ``FoldHead`` of each new event staged, in leaf order (``ledger.recent``, once committed)."""
        self._attestations: dict[bytes, dict[str, Any]] = {}
        self._id_keys: dict[_Key, int] = {}  # ``storage.event_key`` of each id probed, reused for its row
        self._flag_codes: dict[tuple[str, ...], str] = {}  # ``storage.encode_flags`` of each set of flags seen

    def add(self, sub: Submission) -> list[Receipt] | LedgerError:
        """Stage ``sub``; its receipts (in its order), or the error that refused it (then nothing of it is
        staged). A ``DuplicateConflict``, or whatever its hook raised (as a ``LedgerError``)."""
        try:
            existing = self._existing(sub)
        except DuplicateConflict as exc:
            return exc
        fresh = _fresh(sub.events, existing)
        self._load_heads(fresh)
        if sub.on_commit is None or not fresh:
            return self._stage(sub, fresh, existing)
        return self._stage_hooked(sub, fresh, existing)

    def finish(self) -> None:
        """Write what is still buffered, the permits' chain heads and the new tree size."""
        self._flush()
        sql.upsert_heads(self.conn, self._heads)
        sql.set_tree_size(self.conn, self.frontier.size)
        self._maintain()

    def committed(self) -> None:
        """Tell the id index that this group's transaction committed (call after the commit, before the
        receipts are handed out): its new ids join the writer's memory."""
        id_keys = self._id_keys
        self.ids.committed(((id_keys[key], receipt.leaf_index) for key, (_, receipt) in self._staged.items()),
                           self._upkeep)

    def _maintain(self) -> None:
        """One step of the id index's upkeep in a savepoint: if it fails, the group still commits (the step is
        tried again with a later group). Most groups have none due: no savepoint then."""
        if not self.ids.upkeep_due(len(self._staged)):
            self._upkeep = None
            return
        try:
            with self.conn.begin_nested():
                self._upkeep = self.ids.maintain(self.conn, self.frontier.size, len(self._staged))
        except SQLAlchemyError as exc:
            _log.error("event-id index upkeep failed (tried again with the next group): %s", exc)
            self._upkeep = None

    # -- one submission --------------------------------------------------------------------------
    def _stage_hooked(self, sub: Submission, fresh: list[PreparedEvent],
                      existing: dict[_Key, Receipt]) -> list[Receipt] | LedgerError:
        assert sub.on_commit is not None
        self._flush()  # the savepoint then holds this submission's rows only
        mark = _Mark(self.frontier.copy(), {k: self._heads.get(k) for k in _permit_keys(fresh)},
                     [(p.tenant, p.event_id) for p in fresh], len(self.folds))
        try:
            with self.conn.begin_nested():
                receipts = self._stage(sub, fresh, existing)
                self._flush()
                sub.on_commit(self.conn, [self._staged[(p.tenant, p.event_id)][1] for p in fresh])
        except Exception as exc:  # noqa: BLE001 - any hook failure refuses this submission, not the group
            self._undo(mark)
            return _hook_error(exc, sub)
        return receipts

    def _undo(self, mark: _Mark) -> None:
        self.frontier = mark.frontier
        for key, head in mark.heads.items():
            if head is None:
                self._heads.pop(key, None)
            else:
                self._heads[key] = head
        for key in mark.fresh:
            self._staged.pop(key, None)
        del self.folds[mark.folds:]
        self._events.clear()
        self._nodes.clear()
        self._attestations.clear()

    def _stage(self, sub: Submission, fresh: list[PreparedEvent], existing: dict[_Key, Receipt]) -> list[Receipt]:
        first, staged, rows, id_keys, codes = self.frontier.size, self._staged, self._events, self._id_keys, self._flag_codes
        folds = self.folds
        attestation = sub.attestation_digest
        digests, receipts = [], []
        for index, p in enumerate(fresh, start=first):
            leaf, digest = self._leaf(p, index)
            key = (p.tenant, p.event_id)
            receipt = Receipt(p.event_id, index, digest, p.received_at)
            staged[key] = (p.claim_hash, receipt)
            digests.append(digest)
            receipts.append(receipt)
            flags = codes.get(p.flags) if type(p.flags) is tuple else None
            if flags is None:
                flags = db.encode_flags(p.flags)
                if type(p.flags) is tuple:
                    codes[p.flags] = flags
            folds.append(FoldHead(index, p.tenant, p.kind, p.permit, p.key_id))
            rows.append((index, p.event_id, p.tenant, p.kind, p.permit, p.key_id, p.claim_hash, digest, leaf,
                         p.payload_sealed, p.payload_key, attestation, p.received_at, flags, id_keys[key]))
        self._nodes.extend((db.node_key(node), digest) for node, digest in self.frontier.extend(digests, db.STORED_LEVEL))
        if fresh and sub.attestation is not None and attestation is not None:
            self._attestations.setdefault(attestation, {
                "digest": attestation, "tenant": fresh[0].tenant, "body": pack(canonical(sub.attestation))})
        if not existing and len(receipts) == len(sub.events):
            return receipts  # every event new and once: the receipts are in submission order already
        by_key = dict(existing)
        by_key.update(zip(((p.tenant, p.event_id) for p in fresh), receipts, strict=True))
        return [by_key[(p.tenant, p.event_id)] for p in sub.events]

    def _leaf(self, p: PreparedEvent, index: int) -> tuple[bytes, bytes]:
        """(stored leaf, leaf hash) of ``p`` at ``index``: links it to its permit's chain and advances the
        chain. The leaf is stored packed (``ledger.packing``), in the form the intake worker packed if it did;
        its hash is over the canonical bytes."""
        template, permit = p.leaf, p.permit
        if permit is None:
            prev = None
        else:
            head = self._heads.get((p.tenant, permit))
            prev = head[0] if head else None
        digest = leaf_hash(template.fill(prev))
        if permit is not None:
            self._heads[(p.tenant, permit)] = (digest, index)
        if template.packed is not None:
            return pack_packed_leaf(template.packed, prev), digest
        return pack_leaf(template.head, prev, template.tail), digest

    # -- reads against the log and the group -----------------------------------------------------
    def _existing(self, sub: Submission) -> dict[_Key, Receipt]:
        """Receipts of events already logged by their tenant (an idempotent retry), committed or staged in
        this group; ``DuplicateConflict`` if an id of the tenant is taken by different content."""
        claims: dict[_Key, bytes] = {}
        for p in sub.events:
            if claims.setdefault((p.tenant, p.event_id), p.claim_hash) != p.claim_hash:
                raise DuplicateConflict(f"event_id {p.event_id} appears twice in the batch with different content")
        known = self._logged(claims) | {k: self._staged[k] for k in claims if k in self._staged}
        for key, (stored_claim, _) in known.items():
            if stored_claim != claims[key]:
                raise DuplicateConflict(f"event_id {key[1]} is already logged with different content")
        return {key: replace(receipt, duplicate=True) for key, (_, receipt) in known.items()}

    def _logged(self, keys: dict[_Key, bytes]) -> dict[_Key, tuple[bytes, Receipt]]:
        """The logged events among ``keys``: their id keys looked up in the id index (``ledger.idindex``: the
        writer's memory, the runs only for keys its filter may hold), each row found checked by its id."""
        id_keys = self._id_keys
        by_key = []
        for pair in keys:
            key = id_keys.get(pair)
            if key is None:
                key = id_keys[pair] = db.event_key(*pair)
            by_key.append(key)
        indices = [i for hits in self.ids.leaves(self.conn, by_key).values() for i in hits]
        if not indices:
            return {}
        found = {}
        for tenant, event_id, claim, index, digest, received_at in db.events_at(self.conn, indices):
            if (tenant, event_id) in keys:
                found[(tenant, event_id)] = (bytes(claim), Receipt(event_id, index, bytes(digest), received_at))
        return found

    def _load_heads(self, fresh: Sequence[PreparedEvent]) -> None:
        wanted = [k for k in _permit_keys(fresh) if k not in self._heads]
        if wanted:
            self._heads.update(sql.load_heads(self.conn, wanted))

    # -- writes ----------------------------------------------------------------------------------
    def _flush(self) -> None:
        """Write the buffered events, nodes and attestations (the buffers empty only once written)."""
        db.insert_rows(self.conn, db.events, self._events)
        db.insert_rows(self.conn, db.merkle_nodes, self._nodes)
        sql.new_attestations(self.conn, self._attestations)
        self._events, self._nodes, self._attestations = [], [], {}


def _fresh(events: Sequence[PreparedEvent], existing: dict[_Key, Receipt]) -> list[PreparedEvent]:
    """The events not yet logged, each id once, in submission order."""
    fresh, seen = [], set(existing)
    for p in events:
        if (p.tenant, p.event_id) not in seen:
            seen.add((p.tenant, p.event_id))
            fresh.append(p)
    return fresh


def _permit_keys(events: Sequence[PreparedEvent]) -> set[_Key]:
    return {(p.tenant, p.permit) for p in events if p.permit is not None}


def _hook_error(exc: Exception, sub: Submission) -> LedgerError:
    """The error a submission whose hook failed gets: the hook's own ``LedgerError``, else a ``StorageError``."""
    first = sub.events[0].event_id if sub.events else "-"
    if isinstance(exc, LedgerError):
        _log.warning("commit hook of the submission starting with event %s refused it: %s", first, exc)
        return exc
    _log.error("commit hook of the submission starting with event %s failed; that submission is not written, "
               "the rest of its group is", first, exc_info=not isinstance(exc, SQLAlchemyError))
    return StorageError(f"the submission's commit hook failed, none of its events was written: {exc}")
