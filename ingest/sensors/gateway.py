"""The gateway's relay: detector notifications → declarative decoder → ``detector.reading`` events in the outbox.

A detector is *bound* to a permit (``Binding``: its address, its id, its model, the permit and the
measuring point). Each notification is decoded with the model's file; a reading becomes the payload of a
gas test on the permit (``GasTest`` on the server: %vol, %vol, mg/m³) carrying the detector's identity, its
sequence number, the raw notification and whose clock ``sampled_at`` is. A notification the decoder refuses
is not dropped either: it is queued as a ``detector.fault`` event with the reason and the raw bytes, so the
permit's timeline shows that the detector said something nobody could read.
``watch`` keeps one detector connected (reconnecting with backoff) under either adapter.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ingest.outbox import Outbox, OutboxError
from ingest.sensors.decoder import Reading, decode
from ingest.sensors.detector import DetectorLink
from ingest.sensors.errors import DetectorError, ReadingRefused
from ingest.sensors.model import DetectorModel
from ledger.clock import rfc3339

__all__ = ["Binding", "Relay", "RelayCounts", "reading_payload", "watch"]

_log = logging.getLogger(__name__)
_FUTURE_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Binding:
    """Detector ``detector`` (model ``model``, at BLE ``address``) measures for ``permit`` at ``point``."""

    address: str
    detector: str
    model: str
    permit: str
    point: str = "detector"

    def to_json(self) -> dict[str, str]:
        """The binding as stored in ``bindings.json``."""
        return {"address": self.address, "detector": self.detector, "model": self.model, "permit": self.permit,
                "point": self.point}


def reading_payload(binding: Binding, reading: Reading, gateway_time: datetime) -> dict[str, Any]:
    """The ``detector.reading`` payload for ``reading``: a gas test sampled at the detector's time (or the
    gateway's, if the detector has no clock or its clock is ahead of the gateway's by more than 5 min)."""
    own = reading.detector_time is not None and reading.detector_time <= gateway_time + _FUTURE_TOLERANCE
    sampled = reading.detector_time if own and reading.detector_time else gateway_time
    detector: dict[str, Any] = {"id": binding.detector, "model": reading.model, "raw": reading.raw.hex(),
                                "clock": "detector" if own else "gateway"}
    if reading.sequence is not None:
        detector["sequence"] = reading.sequence
    return {"sampled_at": rfc3339(sampled), "point": binding.point, "purpose": "periodic",
            "readings": reading.gas_readings(), "detector": detector}


@dataclass
class RelayCounts:
    """What the relay did since it started: readings queued, notifications refused (queued as faults), and
    notifications that could not be queued at all (the outbox could not write), each with the last reason."""

    queued: int = 0
    refused: int = 0
    last_refusal: str | None = None
    failed: int = 0
    last_failure: str | None = None
    per_detector: dict[str, int] = field(default_factory=dict)


class Relay:
    """Decodes notifications of bound detectors with their ``models`` and queues them in ``outbox``."""

    def __init__(self, outbox: Outbox, models: Mapping[str, DetectorModel]) -> None:
        self.outbox, self.models, self.counts = outbox, models, RelayCounts()

    def model_of(self, binding: Binding) -> DetectorModel:
        """The decoder of ``binding``; raises ``DetectorError`` naming the known models if it has none."""
        if binding.model not in self.models:
            raise DetectorError(f"detector {binding.detector} is bound as model {binding.model!r}, which has no model "
                                f"file; known models {sorted(self.models)}")
        return self.models[binding.model]

    def on_notification(self, binding: Binding, data: bytes) -> str:
        """Decode ``data`` from ``binding``'s detector and queue it (durably); returns the queued event id."""
        now = self.outbox.clock.now()
        subject = {"permit": binding.permit}
        try:
            reading = decode(self.model_of(binding), data)
        except ReadingRefused as exc:
            self.counts.refused += 1
            self.counts.last_refusal = f"{binding.detector}: {exc}"
            _log.error("detector %s: notification refused: %s", binding.detector, exc)
            fault = {"detector": {"id": binding.detector, "model": binding.model, "raw": data[:512].hex()},
                     "reason": str(exc), "size": len(data)}
            return self.outbox.enqueue("detector.fault", fault, subject=subject, occurred_at=rfc3339(now)).event_id
        queued = self.outbox.enqueue("detector.reading", reading_payload(binding, reading, now), subject=subject,
                                     occurred_at=rfc3339(now))
        self.counts.queued += 1
        self.counts.per_detector[binding.detector] = self.counts.per_detector.get(binding.detector, 0) + 1
        return queued.event_id

    def relay(self, binding: Binding, data: bytes) -> None:
        """``on_notification`` for a radio callback: a failure to queue is logged and counted, never raised
        into the BLE stack (which would swallow it); the reading was not acknowledged, so nothing claims it."""
        try:
            self.on_notification(binding, data)
        except (OutboxError, DetectorError) as exc:
            self.counts.failed += 1
            self.counts.last_failure = f"{binding.detector}: {exc}"
            _log.error("detector %s: a notification could not be queued and is lost: %s", binding.detector, exc)


async def watch(link: DetectorLink, binding: Binding, relay: Relay, stop: asyncio.Event, *,
                on_state: Callable[[Binding, str], None] = lambda b, s: None,
                retry: timedelta = timedelta(seconds=2), max_retry: timedelta = timedelta(seconds=60)) -> None:
    """Keep ``binding``'s detector connected and relayed until ``stop`` is set; reconnect after a lost link
    with a doubling wait (``retry`` … ``max_retry``). ``on_state`` hears "connected", "lost: …"."""
    model, delay = relay.model_of(binding), retry
    while not stop.is_set():
        try:
            connection = await link.connect(binding.address)
            await connection.subscribe(model.service_uuid, model.reading_characteristic,
                                       lambda data: relay.relay(binding, data))
        except DetectorError as exc:
            on_state(binding, f"lost: {exc}")
            await _wait(stop, delay)
            delay = min(delay * 2, max_retry)
            continue
        on_state(binding, "connected")
        delay = retry
        await _first(stop.wait(), connection.wait_disconnected())
        if stop.is_set():
            await connection.disconnect()
        else:
            on_state(binding, "lost: the detector disconnected")


async def _wait(stop: asyncio.Event, delay: timedelta) -> None:
    try:
        await asyncio.wait_for(stop.wait(), delay.total_seconds())
    except TimeoutError:
        pass


async def _first(*waits: Any) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    _, rest = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for task in rest:
        task.cancel()
