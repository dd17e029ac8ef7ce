"""Which detector took a reading: every ``detector.reading`` of a ``POST /v1/events`` batch that names a
detector (``payload.detector.id``) must name a detector registered in the caller's tenant, else the whole
batch is refused (422, rule ``detector.unregistered``) before anything is logged.

Why refuse, and not record and flag. A gateway relays the readings of the detectors bound to it, and its
key signs (attests) the batch: that vouches for what the gateway heard over Bluetooth, not for which
instrument it was. The detector's id travels only inside the payload, typed by whoever ran ``gateway bind``.
A reading from an id the plant never registered (a typo, a borrowed or uncalibrated detector, a forged id)
would count as continuous monitoring: a passing one stamps the permit's last detector reading and keeps the
``gas.monitoring_gap`` alarm quiet, which is the unsafe direction. Refused, the failure is loud and fails
safe: the gateway's outbox sets the batch aside with this reason (``tiezheng gateway status`` shows it,
nothing is deleted), the permit sees no reading and its monitoring-gap alarm fires, and the safety manager
registers the detector (``POST /v1/devices``, kind ``detector``) or fixes the binding. Flagging instead
would need the fold to see the flag and ignore such readings for monitoring while still alarming on
out-of-limit ones; that is the permit fold's part, not intake's.

A detector that signs its own readings is its own actor, and intake already requires its registered key;
readings that name no detector (a device's own format) are not checked here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, select

from evidence_api import db
from evidence_api.services.errors import RuleViolation
from ledger.log import PreparedEvent

__all__ = ["detector_id", "named_detectors", "refuse_unregistered_detectors"]


def detector_id(payload: Any) -> str | None:
    """The detector a reading's payload names (``detector.id``), or None if it names none. Read by the intake
    worker beside the seal (``PreparedEvent.detector``), so the server never opens a sealed payload for it."""
    detector = payload.get("detector") if isinstance(payload, dict) else None
    ident = detector.get("id") if isinstance(detector, dict) else None
    return ident if isinstance(ident, str) else None


def named_detectors(events: Sequence[PreparedEvent]) -> dict[str, str]:
    """``{detector id: first event id naming it}`` over the ``detector.reading`` events of a checked batch."""
    named: dict[str, str] = {}
    for p in events:
        if p.kind == "detector.reading" and p.detector is not None:
            named.setdefault(p.detector, p.event_id)
    return named


def refuse_unregistered_detectors(engine: Engine, tenant: str, named: dict[str, str]) -> None:
    """Raise ``RuleViolation`` (``detector.unregistered``) naming the first reading of ``named`` (from
    ``named_detectors``) whose detector is not a registered detector of ``tenant``; nothing is logged then.
    See the module for why."""
    if not named:
        return
    d = db.devices.c
    with engine.connect() as conn:
        known = dict(conn.execute(select(d.id, d.kind).where(d.tenant == tenant, d.id.in_(list(named)))).all())
    for ident, event_id in named.items():
        if known.get(ident) != "detector":
            what = f"is a {known[ident]}, not a detector" if ident in known else "is not a registered device"
            raise RuleViolation("detector.unregistered", f"reading {event_id} comes from detector {ident!r}, which "
                                f"{what} of tenant {tenant!r}; nothing of this batch was logged: register the "
                                "detector (POST /v1/devices, kind detector) or fix the gateway's binding, then resend")
