"""The test adapter of the detector interface: a bumble ``Device`` (a host stack on a virtual controller) as
the central. On a ``LocalLink`` it talks real HCI, link-layer and GATT procedures to the virtual detectors of
``ingest.sensors.virtual``, so the gateway's code runs unchanged, with no radio. bumble errors are translated
here into ``DetectorError``."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from bumble.core import UUID as BumbleUUID
from bumble.core import AdvertisingData, BaseBumbleError
from bumble.device import Advertisement as BumbleAdvertisement
from bumble.device import Connection, Device, Peer
from bumble.hci import Address

from ingest.sensors.detector import Advertisement, DetectorConnection, Notification, normalise_uuid
from ingest.sensors.errors import DetectorError

__all__ = ["BumbleConnection", "BumbleLink", "advertisement_of"]

_UUID_LISTS = (AdvertisingData.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
               AdvertisingData.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
               AdvertisingData.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
               AdvertisingData.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS)


def advertisement_of(advert: BumbleAdvertisement) -> Advertisement:
    """Our ``Advertisement`` for what bumble's scanner reports."""
    uuids: list[str] = []
    for kind in _UUID_LISTS:
        for value in advert.data.get_all(kind):
            uuids += [normalise_uuid(str(u)) for u in (value if isinstance(value, list) else [value])]
    name = advert.data.get(AdvertisingData.COMPLETE_LOCAL_NAME)
    return Advertisement(address=str(advert.address), name=name if isinstance(name, str) else None,
                         service_uuids=tuple(dict.fromkeys(uuids)), rssi=advert.rssi)


class BumbleConnection:
    """A connection made by ``BumbleLink.connect``."""

    def __init__(self, connection: Connection, address: str) -> None:
        self._connection, self.address = connection, address
        self._gone = asyncio.Event()
        connection.on(connection.EVENT_DISCONNECTION, lambda *_: self._gone.set())

    async def subscribe(self, service_uuid: str, characteristic_uuid: str, on_value: Notification) -> None:
        """Discover the reading characteristic and enable its notifications (see ``DetectorConnection``)."""
        peer = Peer(self._connection)
        try:
            await peer.discover_services([BumbleUUID(service_uuid)])
            services = peer.get_services_by_uuid(BumbleUUID(service_uuid))
            if services:
                await services[0].discover_characteristics()
            found = services[0].get_characteristics_by_uuid(BumbleUUID(characteristic_uuid)) if services else []
            if not found:
                raise DetectorError(f"detector {self.address} has no characteristic {characteristic_uuid} in service "
                                    f"{service_uuid}; is it the model it was bound as?")
            await found[0].subscribe(lambda value: on_value(bytes(value)))
        except (TimeoutError, BaseBumbleError) as exc:
            raise DetectorError(f"subscribe to {self.address} failed: {type(exc).__name__}: {exc}") from exc

    async def wait_disconnected(self) -> None:
        """Return once the link is gone."""
        await self._gone.wait()

    async def disconnect(self) -> None:
        """Close the connection."""
        if not self._gone.is_set():
            try:
                await self._connection.disconnect()
            except BaseBumbleError as exc:
                raise DetectorError(f"disconnect from {self.address} failed: {exc}") from exc


class BumbleLink:
    """``DetectorLink`` on a powered-on bumble ``Device`` (the gateway's virtual controller)."""

    def __init__(self, device: Device) -> None:
        self._device = device
        self._seen: dict[str, Address] = {}
        self._connecting = asyncio.Lock()  # a controller creates one LE connection at a time

    async def scan(self, timeout: float, *, service_uuids: Sequence[str] = (),
                   want: int | None = None) -> list[Advertisement]:
        """Scan until ``timeout`` or until ``want`` matching devices were seen (see ``DetectorLink.scan``)."""
        wanted = {normalise_uuid(u) for u in service_uuids}
        found: dict[str, Advertisement] = {}
        enough = asyncio.Event()

        def seen(advert: BumbleAdvertisement) -> None:
            """Keep a matching advertisement; note when enough were seen."""
            ours = advertisement_of(advert)
            if wanted and not wanted & set(ours.service_uuids):
                return
            found[ours.address], self._seen[ours.address] = ours, advert.address
            if want is not None and len(found) >= want:
                enough.set()

        self._device.on(self._device.EVENT_ADVERTISEMENT, seen)
        try:
            await self._device.start_scanning(filter_duplicates=True)
            try:
                await asyncio.wait_for(enough.wait(), timeout)
            except TimeoutError:
                pass  # the scan window ended: report what was seen
            await self._device.stop_scanning()
        finally:
            self._device.remove_listener(self._device.EVENT_ADVERTISEMENT, seen)
        return list(found.values())

    async def connect(self, address: str, *, timeout: float = 20.0) -> DetectorConnection:
        """Connect to ``address`` (as seen by the last scan, or else a random static address, as bumble's are)."""
        peer = self._seen.get(address) or Address(address)
        try:
            async with self._connecting:
                connection = await self._device.connect(peer, timeout=timeout)
        except (TimeoutError, BaseBumbleError) as exc:
            raise DetectorError(f"connect to {address} failed: {type(exc).__name__}: {exc}") from exc
        return BumbleConnection(connection, address)
