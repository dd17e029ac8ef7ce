"""Detector readings decided where they are cheap, and the permits that are watched, held in memory.

The intake worker has each reading's plaintext in hand when it seals it: ``read_values`` takes the values
of a gas sample from it there (or the reason it is not one), and they travel with the prepared event as
``PreparedEvent.observed``. The server keeps the permits under field work (approved, active, suspended: the
states a ``detector.reading`` is evaluated in) in ``MonitoredPermits``, kept in step with the permit
projection by the projector (after each committed page, emptied and refilled by a rebuild, loaded from the
projection on start). A reading for any other permit then costs the server nothing, and one for a watched
permit a few comparisons; only a reading that may change its permit goes through the workflow's full,
authoritative check (``Workflow._observe``), which decides exactly as before.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from pydantic import ValidationError
from sqlalchemy import Engine, select

from evidence_api import db
from evidence_api.services.permit_model import GasReadings, GasTest, Permit, PermitContent

__all__ = ["FIELD_STATES", "NOT_A_GAS_TEST", "MonitoredPermits", "Values", "read_values", "values_readings"]

FIELD_STATES = frozenset({"approved", "active", "suspended"})
"""The states in which a detector reading is evaluated against its permit's limits (``permits.ACTIONS``)."""

Values = tuple[float | None, float | None, tuple[tuple[str, float], ...]]
"""A gas sample's values as the worker sends them: combustible %vol, oxygen %vol, (toxic gas, mg/m³)..."""


NOT_A_GAS_TEST = "not a gas test"
"""What ``read_values`` returns for a payload that is not one (a device's own format)."""

_REQUIRED = ("sampled_at", "point", "readings")


def read_values(payload: Any) -> Values | str:
    """The values of a detector reading's payload, or ``NOT_A_GAS_TEST`` (validated as ``permits.decide``
    would: the workflow opens such a reading on a watched permit and logs why). Runs in the intake worker,
    beside the seal; a payload without the required fields is told apart without building the error."""
    if type(payload) is not dict or any(name not in payload for name in _REQUIRED):
        return NOT_A_GAS_TEST
    try:
        test = GasTest.model_validate(payload)
    except ValidationError:
        return NOT_A_GAS_TEST
    readings = test.readings
    return readings.combustible_pct_vol, readings.o2_pct_vol, tuple(readings.toxic_mg_m3.items())


def values_readings(values: Values) -> GasReadings:
    """``values`` as the model the limit check takes (already validated in the worker: not checked again)."""
    combustible, o2, toxic = values
    return GasReadings.model_construct(combustible_pct_vol=combustible, o2_pct_vol=o2, toxic_mg_m3=dict(toxic))


Key = tuple[str, str]


class MonitoredPermits:
    """The projected permits in a field state (tenant, permit → content), and whether that is settled.

    Written only by the projector, after its transaction committed (under its lock); read by the workflow
    from any thread (single dict lookups).
    """

    def __init__(self) -> None:
        self._field: dict[Key, PermitContent] = {}
        self._stopped: set[Key] = set()
        self._rebuilding = False

    def load(self, engine: Engine) -> None:
        """Fill from the projection as it is in the database (on start)."""
        p, f = db.permits.c, db.projection_failures.c
        with engine.connect() as conn:
            rows = conn.execute(select(p.tenant, p.id, p.doc, p.version).where(p.state.in_(sorted(FIELD_STATES)))).all()
            stopped = conn.execute(select(f.tenant, f.permit).where(f.permit.is_not(None)).distinct()).all()
        self._field = {(t, i): Permit.from_json(orjson.loads(doc) | {"version": v}).content for t, i, doc, v in rows}
        self._stopped = {(t, i) for t, i in stopped}

    def apply(self, permits: Mapping[Key, Permit | None], stopped: Iterable[Key]) -> None:
        """Follow a committed page of the projection: its permits as stored, and the permits it stopped."""
        for key, permit in permits.items():
            if permit is not None and permit.state in FIELD_STATES:
                self._field[key] = permit.content
            else:
                self._field.pop(key, None)
        self._stopped.update(stopped)

    def begin_rebuild(self) -> None:
        """The projection is emptied to be folded again: nothing here is settled until ``end_rebuild``."""
        self._rebuilding = True
        self._field, self._stopped = {}, set()

    def end_rebuild(self, engine: Engine) -> None:
        """The rebuild is over (or failed): load the projection as it now is, and be settled again. If even
        that fails, this stays unsettled: every reading then takes the workflow's full check."""
        self.load(engine)
        self._rebuilding = False

    @property
    def rebuilding(self) -> bool:
        """Whether a rebuild is under way (from ``begin_rebuild`` to ``end_rebuild``)."""
        return self._rebuilding

    def doubt(self, keys: Iterable[Key]) -> None:
        """Hold ``keys`` unsettled until the next load: their projection may have moved without this knowing
        (a fold whose commit's outcome is unknown). Every reading for them then takes the full check."""
        self._stopped.update(keys)

    def settled(self, key: Key) -> bool:
        """Whether what this holds for ``key`` is the projection's last word: not during a rebuild, and not for
        a permit whose projection stopped at an event it could not fold (the workflow refuses those)."""
        return not self._rebuilding and key not in self._stopped

    def content(self, key: Key) -> PermitContent | None:
        """The content of the permit if it is in a field state, else None."""
        return self._field.get(key)

    def watched(self, tenant: str) -> list[str]:
        """The ids of ``tenant``'s permits in a field state (sorted)."""
        return sorted(permit for t, permit in self._field if t == tenant)
