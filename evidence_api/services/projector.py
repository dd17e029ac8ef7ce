"""``Projector``: folds committed log events into the service's projections, behind a durable cursor.

The projections are the permit documents (``permits.evolve``), certificate rows, expiry-warning rows and
the notification queue. The projector reads ``log.events_since(cursor)`` in pages, opens each payload it
needs (``ledger.keystore``), folds it, and commits the projection rows together with the new cursor in one
transaction: after a crash at any point the projection resumes exactly where its last commit left it, and
``rebuild()`` replays the whole log from leaf 0 into empty projections.

The permit workflow's own appends fold in the log writer's transaction: ``CommitFold`` is their commit hook
(``Submission.on_commit``), which folds every event from the cursor through the submission's last leaf on
the writer's connection, with the same code and the same cursor, so the action and its projection commit
together (one transaction, one fsync, no second writer waiting on the first). It is a shortcut, never the
only way: when the cursor is far behind, during a rebuild, or if that fold fails for any reason, it rolls
its own savepoint back and leaves the events to the cursor as before, so a projection can still never
refuse or fail an append. Every fold re-reads the cursor inside its write transaction (under the write
lock on SQLite, a row lock on PostgreSQL), so a page folded meanwhile by the writer is never folded twice.

What it folds: permit events of a permit it knows (a ``permit.drafted`` creates one; events of a permit
that was never drafted through the workflow are observations and stay in the log only); and the
``certificate.registered`` and ``certificate.expiry_warning`` events the service signed itself.

An event that cannot be folded (a bug, a payload the fold refuses) is recorded in ``projection_failures``
with the error and logged, and the cursor moves on: one bad event never stops the other tenants' and
permits' projections. Its permit stops there (later events of that permit are recorded as not applied)
rather than be folded on top of a state that misses an event; ``status()`` reports this, the workflow
refuses to decide on such a permit, and ``rebuild()`` after the fix replays it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, bindparam, delete, insert, select, update

from evidence_api import db
from evidence_api.services import permits
from evidence_api.services.foreseen import Foreseen, fold_permit_event, is_observation, workers_changed
from evidence_api.services.monitored import MonitoredPermits
from evidence_api.services.notify import enqueue
from evidence_api.services.permit_model import Permit
from evidence_api.services.permit_store import load_permit, load_permits, notice, store_permit
from evidence_api.services.projection_pages import CommitFold, FoldedPage, ProjectionStatus
from evidence_api.services.rules import Rules
from ledger.clock import Clock
from ledger.database import begin_write
from ledger.keystore import DataKeyWrapper, open_sealed
from ledger.log import Receipt, TransparencyLog
from ledger.reader import FoldHead, LoggedEvent, events_on

__all__ = ["CommitFold", "FoldedPage", "ProjectionStatus", "Projector"]

_log = logging.getLogger(__name__)

_CERTIFICATE_KINDS = frozenset({"certificate.registered", "certificate.expiry_warning"})

# statements built once: every action runs these (building one costs more than running it)
_c, _f = db.projection_cursors.c, db.projection_failures.c
_CURSOR = select(_c.leaf_index).where(_c.name == bindparam("b_name"))
_LOCKED_CURSOR = _CURSOR.with_for_update()
_SAVE_CURSOR = update(db.projection_cursors).where(_c.name == bindparam("b_name")).values(
    leaf_index=bindparam("b_leaf"), updated_at=bindparam("b_at"))
_STOPPED = select(_f.tenant, _f.permit, _f.leaf_index).where(_f.permit.is_not(None))
_STOPPED_AT = select(_f.leaf_index).where(_f.tenant == bindparam("b_tenant"), _f.permit == bindparam("b_permit")
                                          ).order_by(_f.leaf_index).limit(1)


def _may_matter(event: FoldHead, tenant: str, permit_id: str) -> bool:
    """Whether folding ``event`` may change what a decision on ``permit_id`` of ``tenant`` reads."""
    if event.kind in permits.WORKFLOW_KINDS or event.kind in _CERTIFICATE_KINDS:
        return True
    return event.permit == permit_id and event.tenant == tenant


class _LeftToCursor(Exception):
    """A fold in the writer's transaction met an event it would record as not folded: the cursor does that."""


_Page = FoldedPage


class Projector:
    """Folds the log into the projections; ``service_key_id`` is the key the service signs its events with."""

    NAME = "main"

    def __init__(self, engine: Engine, log: TransparencyLog, wrapper: DataKeyWrapper, rules: Callable[[str], Rules],
                 *, service_key_id: str, clock: Clock, page: int = 500) -> None:
        self._engine, self._log, self._wrapper, self._rules = engine, log, wrapper, rules
        self._service_key_id, self._clock, self._page = service_key_id, clock, page
        self._lock = threading.RLock()
        self._replaying = False
        self._generation = 0  # one more at each rebuild: a page folded before it is not settled after it
        self._folded_to = -1  # a lower bound of the cursor (a read of it, or a committed fold), for catch_up_before
        self.foreseen_written = 0
        """How many workflow submissions' folds were written as foreseen (``services.foreseen``) so far."""
        self.monitored = MonitoredPermits()
        """The permits in a field state, in step with this projection (``services.monitored``)."""
        self.monitored.load(engine)

    # -- running -----------------------------------------------------------------------------------
    def catch_up(self, until: int | None = None) -> int:
        """Fold committed events until the cursor has passed leaf ``until`` (None: the log's current end);
        returns the cursor. Safe from any thread: one fold runs at a time."""
        with self._lock:
            cursor = self.cursor()
            if until is None and cursor >= self._log.tree_size - 1:
                self._advance(cursor)
                return cursor  # nothing committed past it (the writer's own folds keep it there)
            while until is None or cursor < until:
                folded = self._fold_page(cursor)
                if folded == cursor:
                    break
                cursor = folded
            self._advance(cursor)
            return cursor

    def catch_up_before(self, tenant: str, permit_id: str) -> None:
        """Before a decision on ``permit_id``: fold what is committed (``catch_up``) if any of it can change
        what the decision reads — an event of that permit, a workflow action or a certificate event of any
        permit (they feed the facts), or more than a page. Observations of other permits (readings, notes)
        cannot: they are left to the next fold (the action's own, in the writer's transaction)."""
        last = self._log.tree_size - 1
        if self._folded_to >= last:
            return
        cursor = self.cursor()
        if cursor >= last:
            self._advance(cursor)
            return
        pending = self._log.heads_since(cursor, limit=self._page)
        if len(pending) == self._page or any(_may_matter(e, tenant, permit_id) for e in pending):
            self.catch_up()

    def cursor(self) -> int:
        """The last leaf index folded (-1 before the first)."""
        with self._engine.connect() as conn:
            value = conn.execute(_CURSOR, {"b_name": self.NAME}).scalar()
        return -1 if value is None else int(value)

    def rebuild(self) -> int:
        """Empty every projection and fold the whole log again from leaf 0; returns the cursor. The
        notification queue is kept as it is and nothing is queued again (those notifications went out, or
        are still queued, the first time)."""
        with self._lock:
            self._generation += 1
            self._folded_to = -1
            self.monitored.begin_rebuild()
            try:
                with self._engine.begin() as conn:
                    for table in (db.permit_workers, db.permits, db.certificate_warnings, db.certificates,
                                  db.projection_failures, db.projection_cursors):
                        conn.execute(delete(table))
                    self._save_cursor(conn, -1)  # the row stays: folds lock it (PostgreSQL)
                _log.warning("projections emptied; folding the log again from leaf 0")
                self._replaying = True
                return self.catch_up()
            finally:
                self._replaying = False
                self.monitored.end_rebuild(self._engine)  # whatever happened, as the projection now is

    def status(self) -> ProjectionStatus:
        """The cursor, the log's size and every event the projection could not fold."""
        f = db.projection_failures.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(db.projection_failures).order_by(f.leaf_index)).all()
        return ProjectionStatus(self.cursor(), self._log.tree_size, [dict(r._mapping) for r in rows])

    def stopped_at(self, tenant: str, permit_id: str) -> int | None:
        """The leaf at which ``permit_id``'s projection stopped (an event it could not fold), or None. Asked
        of the database only if ``monitored`` does not hold the permit settled (it holds every stopped permit
        as unsettled from before the commit that stops it, ``_fold_page``)."""
        if self.monitored.settled((tenant, permit_id)):
            return None
        with self._engine.connect() as conn:
            leaf: int | None = conn.execute(_STOPPED_AT, {"b_tenant": tenant, "b_permit": permit_id}).scalar()
        return leaf

    def failed(self, leaves: list[int]) -> dict[int, str]:
        """Of ``leaves``, those the projection could not fold, with the error."""
        f = db.projection_failures.c
        with self._engine.connect() as conn:
            return dict(conn.execute(select(f.leaf_index, f.error).where(f.leaf_index.in_(leaves))).all())

    # -- folding -----------------------------------------------------------------------------------
    def _fold_page(self, cursor: int) -> int:
        heads = self._log.heads_since(cursor, limit=self._page)
        if not heads:
            return cursor
        until = heads[-1].leaf_index
        with begin_write(self._engine) as conn:  # the write lock first: the page reads, then writes
            moved = self._locked_cursor(conn)
            if moved != cursor:
                return moved  # the log writer folded these meanwhile (``fold_committing``): go on from there
            page = _Page(conn)
            self._load_stopped(page)
            self._load_permits(page, heads)
            if all(self._passed_over(page, head) for head in heads):
                self._save_cursor(conn, until)  # nothing of the page folds: no leaf or payload is read
            else:
                self._fold_events(page, events_on(conn, cursor, until), loaded=True)
            # unsettled before the commit: whoever reads ``monitored`` never sees a stopped permit as settled
            self.monitored.doubt(key for key in page.stopped if self.monitored.settled(key))
        self.monitored.apply(page.permits, page.stopped)  # committed: the watched permits follow
        self._advance(until)
        return until

    def fold_committing(self, conn: Connection, until: int, *, foreseen: Foreseen | None = None,
                        receipts: list[Receipt] | None = None) -> FoldedPage | None:
        """Fold every event past the cursor through leaf ``until`` on ``conn``, the log writer's transaction
        that holds them (``CommitFold``), and move the cursor there; the page, for ``settle`` once that
        transaction committed. None (nothing written) if the cursor is more than a page behind, a rebuild
        runs, or the fold failed: the events are then folded from the cursor after the commit, as any.

        With ``foreseen`` (the fold of the submission's new events, ``receipts``, worked out by the workflow)
        that is written instead, if it still holds (``_write_foreseen``); otherwise the log is folded."""
        if self._replaying or self.monitored.rebuilding:
            return None  # the rebuild folds from leaf 0 (and queues no notification again)
        if foreseen is not None and receipts is not None:
            written = self._write_foreseen(conn, foreseen, receipts)
            if written is not None:
                return written
        savepoint = conn.begin_nested()
        try:
            cursor = self._locked_cursor(conn)
            if not cursor < until <= cursor + self._page:
                savepoint.rollback()
                return None
            page = _Page(conn, self._generation)
            self._fold_events(page, events_on(conn, cursor, until), isolated=False)
        except _LeftToCursor as why:
            savepoint.rollback()
            _log.info("projection through leaf %d left to the cursor: %s", until, why)
            return None
        except Exception:  # noqa: BLE001 - the events are logged whatever happens here: the cursor folds them later
            savepoint.rollback()
            _log.error("projection in the log's transaction failed through leaf %d; folding it after the commit",
                       until, exc_info=True)
            return None
        savepoint.commit()
        page.until = until
        return page

    def _write_foreseen(self, conn: Connection, foreseen: Foreseen, receipts: list[Receipt]) -> FoldedPage | None:
        """Write ``foreseen`` for the new events ``receipts`` if it is what folding them gives (they are its
        events, the permit is settled, the tenant's rules the same, and ``foreseen.write``'s checks hold); the
        page, or None with nothing written."""
        key = (foreseen.tenant, foreseen.permit_id)
        if (not foreseen.matches(receipts) or not self.monitored.settled(key)
                or self._rules(foreseen.tenant) is not foreseen.rules):
            return None
        permit = foreseen.write(conn, receipts[0].leaf_index, cursor=self.NAME, at=self._clock.stamp())
        if permit is None:
            return None
        page = _Page(conn, self._generation)
        page.permits[key], page.until = permit, receipts[-1].leaf_index
        self.foreseen_written += 1
        return page

    def settle(self, page: FoldedPage) -> None:
        """Follow a page ``fold_committing`` folded, once its transaction committed: the watched permits (not
        if a rebuild ran since: the rebuild's own load is newer)."""
        with self._lock:
            if page.generation == self._generation:
                self.monitored.apply(page.permits, page.stopped)
                self._advance(page.until)

    def _advance(self, cursor: int) -> None:
        with self._lock:
            self._folded_to = max(self._folded_to, cursor)

    def _locked_cursor(self, conn: Connection) -> int:
        """The cursor as committed, read in a write transaction and locked until it ends (PostgreSQL: the
        row; SQLite: the transaction already holds the database's write lock)."""
        value = conn.execute(_LOCKED_CURSOR, {"b_name": self.NAME}).scalar()
        return -1 if value is None else int(value)

    def _fold_events(self, page: _Page, events: list[LoggedEvent], *, isolated: bool = True,
                     loaded: bool = False) -> None:
        """Fold ``events`` and move the cursor past them; each in a savepoint, a failure recorded, unless not
        ``isolated`` (in the writer's transaction): then any event that would be recorded raises
        ``_LeftToCursor``, and the whole page is left to the cursor, which records it. ``loaded``: the page's
        stopped permits and permits are loaded already."""
        if not loaded:
            self._load_stopped(page)
            self._load_permits(page, events)
        for event in events:
            if isolated:
                self._fold_isolated(page, event)
            else:
                self._fold_strict(page, event)
        if events:
            self._save_cursor(page.conn, events[-1].leaf_index)

    def _load_stopped(self, page: _Page) -> None:
        for tenant, permit_id, leaf in page.conn.execute(_STOPPED).all():
            page.stopped.setdefault((tenant, permit_id), leaf)

    def _load_permits(self, page: _Page, events: list[LoggedEvent] | list[FoldHead]) -> None:
        """The page's permits in one query per tenant (None: not a permit the workflow runs)."""
        wanted: dict[str, set[str]] = {}
        for event in events:
            if event.permit is not None:
                wanted.setdefault(event.tenant, set()).add(event.permit)
        for tenant, ids in wanted.items():
            found = load_permits(page.conn, tenant, ids)
            page.permits.update({(tenant, i): found.get(i) for i in ids})

    def _passed_over(self, page: _Page, head: FoldHead) -> bool:
        """Whether the fold of the page's events does nothing with ``head``'s: not an event of a stopped
        permit (recorded as not applied) and nothing to fold (``_nothing_to_fold``)."""
        stopped = head.permit is not None and (head.tenant, head.permit) in page.stopped
        return not stopped and self._nothing_to_fold(page, head)

    def _nothing_to_fold(self, page: _Page, event: LoggedEvent | FoldHead) -> bool:
        """Whether folding ``event`` would change nothing (no savepoint for it then): an event of no permit
        that is not the service's certificate event, or an observation of a permit the workflow does not run."""
        if event.kind in _CERTIFICATE_KINDS and event.key_id == self._service_key_id:
            return False
        if event.permit is None:
            return True
        key = (event.tenant, event.permit)
        return key in page.permits and page.permits[key] is None and event.kind != "permit.drafted"

    def _save_cursor(self, conn: Connection, leaf_index: int) -> None:
        at = self._clock.stamp()
        if conn.execute(_SAVE_CURSOR, {"b_name": self.NAME, "b_leaf": leaf_index, "b_at": at}).rowcount == 0:
            conn.execute(insert(db.projection_cursors).values(name=self.NAME, leaf_index=leaf_index, updated_at=at))

    def _fold_strict(self, page: _Page, event: LoggedEvent) -> None:
        key = (event.tenant, event.permit) if event.permit is not None else None
        if key is not None and key in page.stopped:
            raise _LeftToCursor(f"leaf {event.leaf_index}: its permit's projection stopped at leaf {page.stopped[key]}")
        if not self._nothing_to_fold(page, event):
            try:
                self._fold(page, event)
            except Exception as exc:  # the cursor folds it again and records why it fails
                raise _LeftToCursor(f"leaf {event.leaf_index} does not fold: {type(exc).__name__}: {exc}") from exc

    def _fold_isolated(self, page: _Page, event: LoggedEvent) -> None:
        """Fold one event in a savepoint; a failure is rolled back to it and recorded instead."""
        key = (event.tenant, event.permit) if event.permit is not None else None
        if key is not None and key in page.stopped:
            self._record(page, event, f"not applied: the permit's projection stopped at leaf {page.stopped[key]}")
            return
        if self._nothing_to_fold(page, event):
            return
        savepoint = page.conn.begin_nested()
        try:
            self._fold(page, event)
        except Exception as exc:  # noqa: BLE001 - any failure of one event must not stop the others
            savepoint.rollback()
            if key is not None:
                page.permits.pop(key, None)
                page.stopped[key] = event.leaf_index
            _log.error("projection: leaf %d (%s %s of %s) not folded: %s", event.leaf_index, event.kind,
                       event.event_id, event.tenant, exc, exc_info=True)
            self._record(page, event, f"{type(exc).__name__}: {exc}")
        else:
            savepoint.commit()

    def _record(self, page: _Page, event: LoggedEvent, error: str) -> None:
        page.failures[event.leaf_index] = error[:2000]
        page.conn.execute(insert(db.projection_failures).values(
            leaf_index=event.leaf_index, event_id=event.event_id, tenant=event.tenant, kind=event.kind,
            permit=event.permit, error=error[:2000], failed_at=self._clock.stamp()))

    def _fold(self, page: _Page, event: LoggedEvent) -> None:
        if event.kind in _CERTIFICATE_KINDS and event.key_id == self._service_key_id:
            self._fold_certificate(page.conn, event)
        elif event.permit is not None:
            self._fold_permit(page, event)

    def _opened(self, event: LoggedEvent) -> tuple[dict[str, Any], Any]:
        """The event as logged (with ``received_at`` and ``prev``) and its decrypted payload."""
        context = f"{event.tenant}|{event.event_id}".encode()
        plain = orjson.loads(open_sealed(self._wrapper, event.tenant, event.payload_sealed, event.payload_key,
                                         context=context))
        return orjson.loads(event.leaf), plain["payload"]

    def _fold_permit(self, page: _Page, event: LoggedEvent) -> None:
        assert event.permit is not None
        key = (event.tenant, event.permit)
        if key not in page.permits:
            page.permits[key] = load_permit(page.conn, event.tenant, event.permit)
        old = page.permits[key]
        if old is None and event.kind != "permit.drafted":
            return  # an event of a permit the workflow does not run: it stays in the log only
        if old is not None and is_observation(old, event.kind):
            # an observation (media, a reading outside field work): in the permit's chain, counted, no change
            self._store(page, event, old.model_copy(update={"version": old.version + 1}), old.version)
            return
        body, payload = self._opened(event)
        folded = fold_permit_event(old, event.kind, body, payload, event.received_at, self._rules(event.tenant))
        assert folded is not None, "a draft, or an action on a permit the workflow runs"
        new = folded[0]
        self._store(page, event, new, old.version if old else 0)
        if not self._replaying:
            notice(page.conn, event.tenant, new, event.kind, [event.event_id], event.received_at)

    def _store(self, page: _Page, event: LoggedEvent, permit: Permit, previous_version: int) -> None:
        old = page.permits.get((event.tenant, permit.id))
        store_permit(page.conn, event.tenant, permit, previous_version, event.received_at,
                     workers=workers_changed(old, permit))
        page.permits[(event.tenant, permit.id)] = permit

    def _fold_certificate(self, conn: Connection, event: LoggedEvent) -> None:
        _, payload = self._opened(event)
        at = event.received_at
        if event.kind == "certificate.registered":
            conn.execute(insert(db.certificates).values(tenant=event.tenant, created_at=at, updated_at=at, **payload))
            return
        conn.execute(insert(db.certificate_warnings).values(
            tenant=event.tenant, certificate=payload["certificate"], due_kind=payload["due_kind"],
            due_on=payload["due_on"], days_before=payload["days_before"], event_id=event.event_id, created_at=at))
        if not self._replaying:
            enqueue(conn, event.tenant, "certificate.expiry_warning", payload, created_at=at)
