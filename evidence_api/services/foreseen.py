"""A workflow action's fold, worked out before it is logged, so that the log writer only has to write it.

The projector folds each permit event with ``fold_permit_event`` (below): an observation of a permit counts
as a new version, an action evolves the permit (``permits.evolve``, or ``permits.draft`` for a draft). That
function is pure, so the workflow can run it under the permit's lock, on the permit it decided on, with the
events it is about to append (``foresee``): the same kind, the event as the leaf will hold it (everything
but ``prev``, which no fold reads), the payload as it will decrypt (an ``orjson`` round trip of what is
sealed) and the same ``received_at``. In the log writer's transaction the projector then writes that result
(``Projector.fold_committing``) after checking, in the same statements that write it, that nothing moved
meanwhile: the projection cursor is exactly before the action's first leaf (so every earlier event is
folded) and the permit's row still has the version it was decided on (so it is the state this was worked
out from). Anything else — the cursor elsewhere, another version, a rebuild, other rules, a stopped
permit — and the projector folds from the log as it always does (the reference, and what a rebuild runs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, update

from evidence_api import db
from evidence_api.services import permits
from evidence_api.services.permit_model import Permit
from evidence_api.services.permit_store import changed_columns, notice, permit_row, store_permit
from evidence_api.services.rules import Rules
from ledger.records import PreparedEvent, Receipt

__all__ = ["Foreseen", "ForeseenStep", "fold_permit_event", "foresee", "is_observation", "workers_changed"]

_log = logging.getLogger(__name__)

_c = db.projection_cursors.c
_MOVE_CURSOR = update(db.projection_cursors).where(_c.name == bindparam("b_name"), _c.leaf_index == bindparam("b_from")
                                                   ).values(leaf_index=bindparam("b_leaf"), updated_at=bindparam("b_at"))


def is_observation(old: Permit, kind: str) -> bool:
    """Whether an event of ``kind`` on ``old`` is an observation (media, a reading outside field work, an
    action its state does not take): in the permit's chain and counted, but nothing else changes."""
    return kind not in permits.ACTIONS or old.state not in permits.ACTIONS[kind].states


def fold_permit_event(old: Permit | None, kind: str, body: dict[str, Any], payload: Any, received_at: str,
                      rules: Rules) -> tuple[Permit, bool] | None:
    """The permit after one logged event of it (``body``: the event as logged), and whether it was an action
    (it may notify) rather than an observation; None if the workflow does not run the permit (no draft)."""
    if old is None and kind != "permit.drafted":
        return None
    if old is not None and is_observation(old, kind):
        return old.model_copy(update={"version": old.version + 1}), False
    actor = body["actor"]
    act = permits.Act(kind, body, payload, permits.Actor(actor["type"], actor["id"]), received_at)
    return (permits.draft(act, rules) if old is None else permits.evolve(old, act, rules)), True


def workers_changed(old: Permit | None, new: Permit) -> bool:
    """Whether ``new``'s planned-hours rows (``permit_workers``) differ from ``old``'s: they depend only on
    the permit's content and on whether it is live."""
    return old is None or old.content != new.content or (old.state in permits.LIVE) != (new.state in permits.LIVE)


@dataclass(frozen=True)
class ForeseenStep:
    """One event of a foreseen fold: which, the permit after it and its row (``permit_store.permit_row``),
    whether it was an action (``acted``: it may notify) rather than an observation, and which columns of the
    permit's previous row it changes."""

    event_id: str
    kind: str
    received_at: str
    permit: Permit
    row: dict[str, Any]
    acted: bool
    columns: tuple[str, ...] = ()
    """The columns the row's UPDATE writes (``permit_store.changed_columns``; a draft inserts them all)."""


@dataclass(frozen=True)
class Foreseen:
    """The fold of a workflow submission's events on permit ``permit_id`` of ``tenant``, from ``before`` (the
    projected permit it was decided on; None for a draft), under ``rules``."""

    tenant: str
    permit_id: str
    before: Permit | None
    rules: Rules
    steps: tuple[ForeseenStep, ...]

    def matches(self, receipts: Sequence[Receipt]) -> bool:
        """Whether ``receipts`` (of the submission's new events, in log order) are exactly the foreseen events,
        on consecutive leaves."""
        return (len(receipts) == len(self.steps) and receipts[-1].leaf_index - receipts[0].leaf_index == len(receipts) - 1
                and all(step.event_id == r.event_id for step, r in zip(self.steps, receipts, strict=True)))

    def write(self, conn: Connection, first: int, *, cursor: str, at: str) -> Permit | None:
        """Write the fold on ``conn`` (the log writer's transaction, the events on leaves from ``first``) if the
        projection cursor ``cursor`` is right before ``first`` (moved past the last leaf, at ``at``, by the
        statement that checks it) and the permit's row is still at the version this was foreseen from
        (checked by its update); the permit after it, or None with nothing written (a savepoint of its own)."""
        savepoint = conn.begin_nested()
        try:
            moved = conn.execute(_MOVE_CURSOR, {"b_name": cursor, "b_from": first - 1,
                                                "b_leaf": first + len(self.steps) - 1, "b_at": at})
            if moved.rowcount != 1:
                savepoint.rollback()
                return None
            old = self.before
            for step in self.steps:
                store_permit(conn, self.tenant, step.permit, old.version if old else 0, step.received_at,
                             workers=workers_changed(old, step.permit), row=step.row, columns=step.columns)
                if step.acted:
                    notice(conn, self.tenant, step.permit, step.kind, [step.event_id], step.received_at)
                old = step.permit
        except Exception as exc:  # noqa: BLE001 - the permit moved (its version), or anything else: fold the log
            savepoint.rollback()
            _log.info("foreseen fold of permit %s/%s not written (%s); folding the log", self.tenant, self.permit_id, exc)
            return None
        savepoint.commit()
        return old


def foresee(tenant: str, permit_id: str, before: Permit | None, events: Sequence[PreparedEvent],
            payloads: Sequence[Any], rules: Rules) -> Foreseen | None:
    """The fold of ``events`` (with their ``payloads``, as signed) on ``before``; None if they are not all
    events of that permit or one of them does not fold (the projector then folds them from the log, and
    records why)."""
    permit, steps = before, []
    try:
        for event, payload in zip(events, payloads, strict=True):
            if event.tenant != tenant or event.permit != permit_id:
                return None
            body = orjson.loads(event.leaf.fill(None))
            folded = fold_permit_event(permit, event.kind, body, orjson.loads(orjson.dumps(payload)),
                                       event.received_at, rules)
            if folded is None:
                return None
            row = permit_row(folded[0], event.received_at)
            columns = changed_columns(permit, row) if permit is not None else ()
            permit = folded[0]
            steps.append(ForeseenStep(event.event_id, event.kind, event.received_at, permit, row, folded[1], columns))
    except Exception:  # noqa: BLE001 - the projector's own fold of the log decides, and records, what this cannot
        return None
    return Foreseen(tenant, permit_id, before, rules, tuple(steps))
