"""``Workflow``: runs signed permit actions through the rules and into the log, one permit at a time.

For each action: (1) the item's shape is checked; (2) a retry of an already logged event returns its
receipt and changes nothing; (3) the item is checked like any intake item (registered key, SM2 signature,
payload commitment); (4) the signer must be a registered user; (5) under the permit's lock, the facts the
rules need are loaded and ``permits.decide`` decides on the current projection; (6) the event and any
follow-up events the service signs (suspension, alarm) are appended together, and the projector folds
them (``permits.evolve``) in the same transaction (``projector.CommitFold``; or, if it left them to its
cursor, (7) the workflow waits, still under the lock, until the projector has folded them), so the next
decision on the permit sees them; it answers with the permit as projected. A refused action writes nothing at all. The
lock is per process: one service process owns a database (as the log writer does).
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Engine, select

from evidence_api import db
from evidence_api.services import permits
from evidence_api.services.errors import Conflict, Forbidden, NotFound, ServiceError
from evidence_api.services.foreseen import foresee
from evidence_api.services.monitored import values_readings
from evidence_api.services.people import Organisation
from evidence_api.services.permit_facts import load_facts
from evidence_api.services.permit_model import Permit
from evidence_api.services.permit_rules import reading_failures
from evidence_api.services.permit_store import load_permit
from evidence_api.services.projector import CommitFold, Projector
from evidence_api.services.recorder import Recorder
from ledger.clock import Clock
from ledger.errors import LedgerError, MalformedInput, StorageError
from ledger.events import check_claim
from ledger.keystore import DataKeyWrapper, open_sealed
from ledger.log import PreparedEvent, Receipt, Submission

__all__ = ["ActionResult", "Prepared", "Workflow", "check_item", "draft_id"]

_log = logging.getLogger(__name__)

_FULL, _WATCHED = object(), object()  # verdicts of ``Workflow._verdict``

ActionResult = tuple[Permit, list[Receipt]]
"""The permit after an action, and the receipts of the action and its follow-ups."""

Prepared = Submission | LedgerError | ServiceError
"""An action's item as the intake checked and sealed it, or what refused it."""

def check_item(tenant: str, item: Any) -> dict[str, Any]:
    """The event of a signed permit item after its shape check (before any lookup that trusts its fields);
    raises ``MalformedInput`` naming what is wrong."""
    if not isinstance(item, dict) or set(item) != {"event", "payload", "salt"} or not isinstance(item["event"], dict):
        raise MalformedInput("body must be one signed item: an object with exactly event, payload and salt")
    check_claim(item["event"], tenant=tenant)
    event: dict[str, Any] = item["event"]
    return event


def draft_id(tenant: str, item: Any) -> str:
    """The id of the permit a ``permit.drafted`` item creates; raises ``MalformedInput`` for another kind."""
    event = check_item(tenant, item)
    permit_id = event["subject"].get("permit")
    if event["kind"] != "permit.drafted":
        raise MalformedInput(f"POST /v1/permits takes a permit.drafted event, got {event['kind']!r}; "
                             "other actions go to POST /v1/permits/{id}/actions")
    if permit_id is None:
        raise MalformedInput("a draft is a signed item whose event.subject.permit names the new permit")
    return str(permit_id)


class Workflow:
    """Permit actions, detector observations and the watchdog of one service; ``clock`` is the service's."""

    def __init__(self, engine: Engine, org: Organisation, recorder: Recorder, wrapper: DataKeyWrapper,
                 projector: Projector, *, clock: Clock) -> None:
        self._engine, self._org, self._recorder, self.clock = engine, org, recorder, clock
        self._wrapper, self._projector = wrapper, projector
        self._locks: dict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        # appends finished per permit (under its lock), and permits with an append whose outcome is unknown:
        # what lets ``act`` skip its second retry check
        self._appends: dict[tuple[str, str], int] = defaultdict(int)
        self._unsure: set[tuple[str, str]] = set()

    @contextmanager
    def _locked(self, tenant: str, permit_id: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks[(tenant, permit_id)]
        with lock:
            yield

    # -- reading ---------------------------------------------------------------------------------
    def load(self, tenant: str, permit_id: str) -> Permit | None:
        """The permit's projected document, or None."""
        return load_permit(self._engine, tenant, permit_id)

    def get(self, tenant: str, permit_id: str) -> Permit:
        """The permit's projected document; raises ``NotFound``."""
        permit = self.load(tenant, permit_id)
        if permit is None:
            raise NotFound(f"permit {permit_id!r} does not exist for tenant {tenant!r}")
        return permit

    # -- acting ----------------------------------------------------------------------------------
    def act(self, tenant: str, permit_id: str, item: Any, *, prepared: Prepared | Future[Prepared] | None = None,
            received_at: str | None = None) -> ActionResult:
        """Apply a signed action item ``{"event", "payload", "salt"}`` to permit ``permit_id`` (a
        ``permit.drafted`` creates it). Returns the permit and the receipts (the action's first, then its
        follow-ups'). Raises what the intake checks and ``permits.decide`` raise; nothing is written then.
        ``prepared``: the item already checked and sealed by the intake (``IntakePool.prepare_item``), or
        what refused it (raised here, after the retry check, exactly where the check itself would raise).

        It may also be a ``Future`` of that, still being worked out in an intake worker, with ``received_at``
        the time it was stamped with: the rules then decide meanwhile (they read the item as sent, never what
        the worker makes of it), and the submission is waited for only to append it. The answer is the same:
        whatever the decision raised, or a retry it found, yields to the item's own refusal, as if that had
        been raised first; nothing is appended before the worker's answer is in.
        """
        event = check_item(tenant, item)
        appended = self._appends.get((tenant, permit_id), 0)  # read before the retry check below (see the second one)
        retry = self._recorder.existing(tenant, item)
        if retry is not None:
            return self.get(tenant, permit_id), [retry]
        if not isinstance(prepared, Future):
            if isinstance(prepared, LedgerError | ServiceError):
                raise prepared
            ready = prepared or self._recorder.prepare(tenant, [item])  # key, signature, commitment
            return self._act(tenant, permit_id, item, event, appended, lambda: ready, ready.events[0].received_at)
        if received_at is None:
            raise ValueError("a pending prepared item needs the received_at it was stamped with")
        pending = prepared

        def submission() -> Submission:
            outcome = pending.result()  # the worker's answer (it always comes: the pool answers or raises)
            if isinstance(outcome, LedgerError | ServiceError):
                raise outcome
            return outcome
        try:
            return self._act(tenant, permit_id, item, event, appended, submission, received_at)
        except BaseException:
            submission()  # the item's own refusal first, as the in-order checks would have raised it
            raise

    def _act(self, tenant: str, permit_id: str, item: dict[str, Any], event: dict[str, Any], appended: int,
             submission: Callable[[], Submission], received_at: str) -> ActionResult:
        """``act`` after the first retry check: ``submission()`` gives the checked item (or raises its refusal),
        stamped ``received_at``."""
        if event["subject"].get("permit") != permit_id:
            raise MalformedInput(f"event.subject.permit must be {permit_id!r}, got {event['subject'].get('permit')!r}")
        if event["actor"]["type"] != "user":
            raise Forbidden(f"permit actions are signed by users; got a {event['actor']['type']} key")
        user = self._org.user(tenant, event["actor"]["id"])
        actor = permits.Actor("user", user.id, user.roles)
        act = permits.Act(event["kind"], event, item["payload"], actor, received_at)
        with self._locked(tenant, permit_id):
            # the same item sent twice at once: the other one may have been appended meanwhile, and only then (an
            # item of this permit is appended under this lock, which counts it once its commit is known, or not
            # at all; an append since the count read above was committed before this lock was free)
            moved = (tenant, permit_id) in self._unsure or self._appends.get((tenant, permit_id), 0) != appended
            retry = self._recorder.existing(tenant, item) if moved else None
            if retry is not None:
                submission()  # a pending item's refusal comes first (as before the lock)
                return self.get(tenant, permit_id), [retry]
            old = self._current(tenant, permit_id)
            rules = self._org.rules(tenant)
            if event["kind"] == "permit.drafted":
                if old is not None:
                    raise Conflict(f"permit {permit_id!r} already exists; choose a new permit id")
                permits.decide_draft(act, rules)
                follow: list[permits.FollowUp] = []
            else:
                if old is None:
                    raise NotFound(f"permit {permit_id!r} does not exist for tenant {tenant!r}; draft it first")
                facts = load_facts(self._engine, self._org, tenant, old, act.kind, self.clock.today())
                follow = permits.decide(old, act, rules, facts, self.clock.now())
            receipts, permit = self._append(tenant, permit_id, submission(), follow, before=old,
                                            payloads=[item["payload"]])
            return permit or self.get(tenant, permit_id), receipts

    def _current(self, tenant: str, permit_id: str) -> Permit | None:
        """The projected permit to decide on, with every committed event that can change the decision folded
        (observations of it that came through ``POST /v1/events``, ``Projector.catch_up_before``; a rebuild in
        progress finishes first); ``StorageError`` if its projection stopped at an event."""
        self._projector.catch_up_before(tenant, permit_id)
        permit = self.load(tenant, permit_id)
        stopped = self._projector.stopped_at(tenant, permit_id) if permit is not None else None
        if stopped is not None:
            raise StorageError(f"permit {permit_id!r} cannot take actions: its projection stopped at leaf {stopped}, "
                               "an event it could not fold (see GET /v1/projection); rebuild it once that is fixed")
        return permit

    def _append(self, tenant: str, permit_id: str, submission: Submission, follow: Sequence[permits.FollowUp], *,
                before: Permit | None, payloads: Sequence[Any] = ()) -> tuple[list[Receipt], Permit | None]:
        """Sign the follow-ups, append them after ``submission`` (whose events' payloads are ``payloads``), and
        see the projector fold all of it; the receipts and the permit as folded (None: load it). ``StorageError``
        if it could not fold them (the events are logged; the status names them).

        The fold runs in the log writer's transaction (``CommitFold``), so the action and its projection
        commit together: worked out here from ``before``, the permit decided on (``services.foreseen``), the
        writer only writes it if it still holds, or else folds the log. If the writer left them to the cursor,
        this waits until the projector passed them."""
        items = [self._recorder.service_item(tenant, kind, payload, subject={"permit": permit_id})
                 for kind, payload in follow]
        if items:
            submission = Submission([*submission.events, *self._recorder.prepare(tenant, items).events])
        foreseen = foresee(tenant, permit_id, before, submission.events, [*payloads, *(i["payload"] for i in items)],
                           self._org.rules(tenant))
        fold = CommitFold(self._projector, foreseen)
        try:
            receipts = self._counted(tenant, permit_id, lambda: self._recorder.append(replace(submission, on_commit=fold)))
        except BaseException:
            if fold.page is not None:  # folded in a commit whose outcome this cannot tell (a timeout)
                self._projector.monitored.doubt(fold.page.permits)
            raise
        leaves = [r.leaf_index for r in receipts]
        page = fold.page
        if page is not None and not any(r.duplicate for r in receipts):
            self._projector.settle(page)
            failed = {leaf: page.failures[leaf] for leaf in leaves if leaf in page.failures}
        else:
            if page is not None:
                self._projector.settle(page)
            self._projector.catch_up(until=max(leaves))
            failed, page = self._projector.failed(leaves), None
        if failed:
            raise StorageError(f"permit {permit_id!r}: logged, but the projection could not fold leaf "
                               f"{min(failed)}: {failed[min(failed)]}")
        return receipts, page.permits.get((tenant, permit_id)) if page is not None else None

    # -- the service's own actions ---------------------------------------------------------------
    def watch_once(self, now: datetime | None = None) -> int:
        """Expire permits past their window and suspend active ones whose guardian went silent or whose gas
        re-analysis is overdue; returns how many permits got events. Run by the watchdog thread."""
        moment = now or self.clock.now()
        p = db.permits.c
        with self._engine.connect() as conn:
            rows = conn.execute(select(p.tenant, p.id).where(p.state.not_in(sorted(permits.TERMINAL | {"completed"})))).all()
        acted = 0
        for tenant, permit_id in rows:
            try:
                acted += self._watch(tenant, permit_id, moment)
            except Exception as exc:  # noqa: BLE001 - one bad permit must not stop the watchdog for the others
                _log.error("watchdog: permit %s/%s: %s", tenant, permit_id, exc)
        return acted

    def _watch(self, tenant: str, permit_id: str, now: datetime) -> int:
        with self._locked(tenant, permit_id):
            permit = self.load(tenant, permit_id)
            if permit is None:
                return 0
            follow = permits.due_follow_ups(permit, self._org.rules(tenant), now)
            if not follow:
                return 0
            self._append(tenant, permit_id, Submission([]), follow, before=permit)
            _log.warning("permit %s/%s: %s", tenant, permit_id, ", ".join(kind for kind, _ in follow))
            return 1

    def refuse_bypass(self, tenant: str, events: Sequence[PreparedEvent]) -> None:
        """Raise ``Conflict`` if a ``POST /v1/events`` batch carries a workflow action (an approval, a
        check-in ...) for a permit the workflow runs: those must pass the rules at
        ``POST /v1/permits/{id}/actions``. Observations (detector readings, media) are welcome."""
        drafted = next((p for p in events if p.kind == "permit.drafted"), None)
        if drafted is not None:
            raise Conflict(f"permit.drafted creates a permit the workflow runs: send it to POST /v1/permits, where "
                           f"the rules check it (event {drafted.event_id})")
        wanted = {p.permit: p.kind for p in events if p.permit is not None and p.kind in permits.WORKFLOW_KINDS}
        if not wanted:
            return
        p = db.permits.c
        with self._engine.connect() as conn:
            managed = conn.execute(select(p.id).where(p.tenant == tenant, p.id.in_(sorted(wanted)))).scalars().first()
        if managed is not None:
            raise Conflict(f"permit {managed!r} is run by the permit workflow: send {wanted[managed]} to "
                           f"POST /v1/permits/{managed}/actions, where the rules check it")

    @staticmethod
    def carries_actions(events: Sequence[PreparedEvent]) -> bool:
        """Whether a ``POST /v1/events`` batch holds a workflow kind for some permit (see ``append_raw``)."""
        return any(p.permit is not None and p.kind in permits.WORKFLOW_KINDS for p in events)

    def append_raw(self, tenant: str, submission: Submission) -> list[Receipt]:
        """Append a ``POST /v1/events`` batch that holds workflow kinds, under the locks of their permits:
        ``refuse_bypass`` then sees every workflow action on them fully projected (the workflow holds a
        permit's lock until its action is folded), so no draft in flight lets an unchecked action past."""
        wanted = sorted({p.permit for p in submission.events if p.permit is not None and p.kind in permits.WORKFLOW_KINDS})
        with ExitStack() as locks:
            for permit_id in wanted:
                locks.enter_context(self._locked(tenant, permit_id))
            self.refuse_bypass(tenant, submission.events)
            return self._counted(tenant, wanted, lambda: self._recorder.append(submission))

    def _counted(self, tenant: str, permit_ids: str | Sequence[str], append: Callable[[], list[Receipt]]) -> list[Receipt]:
        """Run ``append`` (under the permits' locks) and count it for each permit once it is known to be
        committed or not; if that is not known (it raised), the permit's retry checks never skip again."""
        keys = [(tenant, permit_ids)] if isinstance(permit_ids, str) else [(tenant, p) for p in permit_ids]
        try:
            return append()
        except BaseException:
            self._unsure.update(keys)
            raise
        finally:
            for key in keys:
                self._appends[key] += 1

    def observe_logged(self, tenant: str, logged: Sequence[PreparedEvent], *, until: int | None = None) -> None:
        """Evaluate the detector readings among events just logged by ``POST /v1/events`` (the last of them at
        leaf ``until``), per permit.

        Decided from memory first (``services.monitored``): a reading for a permit not in a field state costs
        nothing, one within its permit's limits a few comparisons (and the projector folds it before the answer,
        so the permit's document shows it, as before). A reading that may change its permit (out of limits), or
        whose permit is in flux (an action holds its lock, its projection stopped or is being rebuilt, or the
        intake sent no values; or that is not a gas test, on a watched permit) takes the full check: opened, and
        decided on the projection.
        """
        by_permit: dict[str, list[PreparedEvent]] = defaultdict(list)
        watched = False
        for p in logged:
            if p.kind != "detector.reading" or p.permit is None:
                continue
            verdict = self._verdict(tenant, p.permit, p)
            if verdict is _FULL:
                by_permit[p.permit].append(p)
            watched = watched or verdict is _WATCHED
        for permit_id, prepared in by_permit.items():
            self._observe(tenant, permit_id, [self._opened(tenant, p) for p in prepared])
        if watched and not by_permit:
            self._projector.catch_up(until=until)

    def _verdict(self, tenant: str, permit_id: str, reading: PreparedEvent) -> object:
        """``_FULL`` if ``reading`` may raise an alarm on its permit (or that cannot be told from memory),
        ``_WATCHED`` if its permit is watched and the reading within limits, else None."""
        key, monitored = (tenant, permit_id), self._projector.monitored
        if reading.observed is None or not monitored.settled(key) or self._busy(key):
            return _FULL
        content = monitored.content(key)
        if content is None:
            return None  # not in a field state: a reading there changes nothing
        if isinstance(reading.observed, str):
            return _FULL  # not a gas test: the full check says why in the log, as it always did
        try:
            rules = self._org.rules(tenant)
            if rules.photo_steps.get("detector.reading"):
                return _FULL  # a photo rule on readings: the full check decides (and refuses) as it always did
            gas = rules.level(content.type, content.level).gas
            failures = reading_failures(values_readings(reading.observed), content, gas, rules)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - anything unexpected here: let the full check decide and report it
            return _FULL
        return _FULL if failures else _WATCHED

    def _busy(self, key: tuple[str, str]) -> bool:
        """Whether an action on the permit is under way (its events may be logged and not yet projected)."""
        with self._guard:
            lock = self._locks.get(key)
        return lock is not None and lock.locked()

    def _opened(self, tenant: str, p: PreparedEvent) -> tuple[PreparedEvent, dict[str, Any], Any]:
        """A logged reading with its event as logged and its payload, opened for the full check."""
        context = f"{tenant}|{p.event_id}".encode()
        opened = orjson.loads(open_sealed(self._wrapper, tenant, p.payload_sealed, p.payload_key, context=context))
        return p, orjson.loads(p.leaf.fill(None)), opened["payload"]

    def _observe(self, tenant: str, permit_id: str, readings: Sequence[tuple[PreparedEvent, dict[str, Any], Any]]) -> None:
        """Evaluate detector readings already in the log for ``permit_id``: a reading out of limits suspends
        an active permit and raises an alarm at once."""
        with self._locked(tenant, permit_id):
            permit = self._current(tenant, permit_id)  # the readings are committed: folded before deciding
            if permit is None or permit.state not in ("approved", "active", "suspended"):
                return
            rules, now = self._org.rules(tenant), self.clock.now()
            for prepared, event, payload in readings:
                act = permits.Act("detector.reading", event, payload, permits.Actor("device", event["actor"]["id"]),
                                  prepared.received_at)
                try:
                    follow = permits.decide(permit, act, rules, permits.Facts(), now)
                except MalformedInput as exc:
                    _log.warning("detector reading %s on permit %s not evaluated: %s", event["event_id"], permit_id, exc)
                    continue
                if follow:
                    self._append(tenant, permit_id, Submission([]), follow, before=permit)
                    return
