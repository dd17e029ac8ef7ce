"""The production adapter of the detector interface: bleak, over the host's Bluetooth stack (BlueZ on Linux,
CoreBluetooth, WinRT). Every bleak and OS error is translated here, once, into ``DetectorError`` naming the
stage; a host without a usable stack (no D-Bus or BlueZ) gives ``AdapterUnavailable``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bleak import BleakClient, BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

from ingest.sensors.detector import Advertisement, DetectorConnection, Notification, normalise_uuid
from ingest.sensors.errors import AdapterUnavailable, DetectorError

__all__ = ["BleakConnection", "BleakLink", "advertisement_of"]

_NO_STACK = ("no usable Bluetooth stack on this host ({cause}); on Linux start bluetoothd (BlueZ) and the "
             "system D-Bus, and check that an adapter is up (`bluetoothctl show`)")


def advertisement_of(device: BLEDevice, data: AdvertisementData) -> Advertisement:
    """Our ``Advertisement`` for what bleak's scanner reports."""
    return Advertisement(address=device.address, name=data.local_name or device.name,
                         service_uuids=tuple(normalise_uuid(u) for u in data.service_uuids), rssi=data.rssi)


def _translate(stage: str, address: str | None, exc: Exception) -> DetectorError:
    if isinstance(exc, OSError) and not isinstance(exc, TimeoutError):
        return AdapterUnavailable(_NO_STACK.format(cause=f"{type(exc).__name__}: {exc}"))
    where = f" {address}" if address else ""
    return DetectorError(f"{stage}{where} failed: {type(exc).__name__}: {exc}")


class BleakConnection:
    """A connection made by ``BleakLink.connect``."""

    def __init__(self, client: BleakClient, address: str, gone: asyncio.Event) -> None:
        self._client, self.address, self._gone = client, address, gone

    async def subscribe(self, service_uuid: str, characteristic_uuid: str, on_value: Notification) -> None:
        """Enable notifications of the reading characteristic (see ``DetectorConnection``)."""
        service = self._client.services.get_service(service_uuid)
        characteristic = service.get_characteristic(characteristic_uuid) if service else None
        if characteristic is None:
            raise DetectorError(f"detector {self.address} has no characteristic {characteristic_uuid} in service "
                                f"{service_uuid}; is it the model it was bound as?")
        def relay(_: object, value: bytearray) -> None:
            """Hand bleak's value on as bytes."""
            on_value(bytes(value))

        try:
            await self._client.start_notify(characteristic, relay)
        except (BleakError, OSError) as exc:
            raise _translate("subscribe to", self.address, exc) from exc

    async def wait_disconnected(self) -> None:
        """Return once bleak reports the link gone."""
        await self._gone.wait()

    async def disconnect(self) -> None:
        """Close the connection."""
        try:
            await self._client.disconnect()
        except (BleakError, OSError) as exc:
            raise _translate("disconnect from", self.address, exc) from exc


class BleakLink:
    """``DetectorLink`` on the host's Bluetooth adapter."""

    async def scan(self, timeout: float, *, service_uuids: Sequence[str] = (),
                   want: int | None = None) -> list[Advertisement]:
        """Scan for ``timeout`` seconds (see ``DetectorLink.scan``; bleak filters by service UUID itself)."""
        wanted = [normalise_uuid(u) for u in service_uuids]
        try:
            if wanted:
                found = await BleakScanner.discover(timeout=timeout, return_adv=True, service_uuids=wanted)
            else:
                found = await BleakScanner.discover(timeout=timeout, return_adv=True)
        except (BleakError, OSError) as exc:
            raise _translate("scan", None, exc) from exc
        adverts = [advertisement_of(device, data) for device, data in found.values()]
        return adverts[:want] if want is not None else adverts

    async def connect(self, address: str, *, timeout: float = 20.0) -> DetectorConnection:
        """Connect to ``address`` and discover its services."""
        gone = asyncio.Event()
        client = BleakClient(address, disconnected_callback=lambda _: gone.set(), timeout=timeout)
        try:
            await client.connect()
        except (BleakError, OSError) as exc:
            raise _translate("connect to", address, exc) from exc
        return BleakConnection(client, address, gone)
