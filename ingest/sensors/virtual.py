"""Virtual detectors: bumble GATT peripherals that emulate a detector model on a ``LocalLink``.

Each ``VirtualDetector`` is a device with its own virtual controller that advertises the model's service,
serves the reading characteristic and notifies values laid out by the model file (``decoder.encode``), or
any raw bytes a test wants to send (truncated, oversized, out of range). ``VirtualRadio`` puts a gateway
central (``BumbleLink``) and the detectors on one link. Test-only machinery: bumble is a test dependency.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from datetime import datetime

from bumble import gatt
from bumble.controller import Controller
from bumble.core import UUID, AdvertisingData
from bumble.device import Device
from bumble.hci import Address
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from ingest.sensors.bumble_link import BumbleLink
from ingest.sensors.decoder import encode
from ingest.sensors.model import DetectorModel

__all__ = ["VirtualDetector", "VirtualRadio"]

_addresses = (f"F2:00:00:00:{n // 256:02X}:{n % 256:02X}" for n in itertools.count(1))


def _device(link: LocalLink, name: str, address: str) -> Device:
    controller = Controller(name, link=link, public_address=address)
    return Device(name=name, address=Address(address), host=Host(controller, AsyncPipeSink(controller)))


def _uuid_list(uuid: str) -> tuple[int, bytes]:
    value = UUID(uuid)
    if len(value.to_bytes()) == 2:
        return AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS, value.to_bytes()
    return AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS, value.to_bytes()


class VirtualDetector:
    """A detector of ``model`` at ``address`` advertising ``name``; ``start`` it, then ``send`` readings."""

    def __init__(self, link: LocalLink, model: DetectorModel, *, name: str, address: str | None = None) -> None:
        self.model, self.name, self.address = model, name, address or next(_addresses)
        self.device = _device(link, name, self.address)
        self._reading = gatt.Characteristic(model.reading_characteristic,
                                            gatt.Characteristic.Properties.NOTIFY, gatt.Characteristic.READABLE,
                                            bytes(model.length))
        self.device.add_service(gatt.Service(model.service_uuid, [self._reading]))
        self.subscribed = asyncio.Event()
        self._reading.on(self._reading.EVENT_SUBSCRIPTION, lambda *_: self.subscribed.set())
        self._sequence = itertools.count()

    async def start(self) -> None:
        """Power on and advertise the model's service and the name."""
        await self.device.power_on()
        self.device.advertising_data = bytes(AdvertisingData([
            (AdvertisingData.COMPLETE_LOCAL_NAME, self.name.encode()), _uuid_list(self.model.service_uuid)]))
        await self.advertise()

    async def advertise(self) -> None:
        """Advertise (again, after ``stop``: the detector is switched back on); a new subscription is awaited."""
        self.subscribed.clear()
        await self.device.start_advertising(auto_restart=False)

    async def send(self, values: Mapping[str, float], *, detector_time: datetime | None = None) -> bytes:
        """Notify one reading (field name → value in the field's unit); returns the bytes sent."""
        data = encode(self.model, values, sequence=next(self._sequence), detector_time=detector_time)
        await self.send_raw(data)
        return data

    async def send_raw(self, data: bytes) -> None:
        """Notify ``data`` exactly as given (for malformed notifications)."""
        await self.device.notify_subscribers(self._reading, data, force=True)

    async def stop(self) -> None:
        """Drop every connection (the detector is switched off)."""
        for connection in list(self.device.connections.values()):
            await connection.disconnect()


class VirtualRadio:
    """One ``LocalLink`` with the gateway's central and any number of virtual detectors."""

    def __init__(self) -> None:
        self.link = LocalLink()  # type: ignore[no-untyped-call]
        self.central = _device(self.link, "gateway", "F0:00:00:00:00:01")
        self.detectors: list[VirtualDetector] = []

    async def start(self) -> BumbleLink:
        """Power on the central; returns the detector interface over it."""
        await self.central.power_on()
        return BumbleLink(self.central)

    async def add(self, model: DetectorModel, name: str, *, address: str | None = None) -> VirtualDetector:
        """Create, start and return a virtual detector of ``model``."""
        detector = VirtualDetector(self.link, model, name=name, address=address)
        await detector.start()
        self.detectors.append(detector)
        return detector
