"""The detector interface: scan for detectors, connect, subscribe to the reading characteristic, disconnect.

Two adapters implement it: ``bleak_link.BleakLink`` (production, the host's Bluetooth stack) and
``bumble_link.BumbleLink`` (virtual controllers on a bumble ``LocalLink``, for tests and demos; this
machine has no radio). Everything above it — the decoders, the gateway, the outbox — is the same code
whichever adapter runs underneath.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Advertisement", "DetectorConnection", "DetectorLink", "Notification", "normalise_uuid"]

Notification = Callable[[bytes], object]
"""Called with each value the detector notifies, in the order they arrive."""


def normalise_uuid(value: str) -> str:
    """A 128-bit UUID in lower-case 8-4-4-4-12 form (bleak and bumble spell them differently)."""
    return value.strip().lower()


@dataclass(frozen=True)
class Advertisement:
    """What a scan saw of one device: its address, advertised name, service UUIDs (lower case) and RSSI."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...]
    rssi: int | None = None


class DetectorConnection(Protocol):
    """An open connection to one detector."""

    address: str

    async def subscribe(self, service_uuid: str, characteristic_uuid: str, on_value: Notification) -> None:
        """Enable notifications of ``characteristic_uuid`` in ``service_uuid``; raises ``DetectorError`` if the
        detector has no such characteristic or refuses."""

    async def wait_disconnected(self) -> None:
        """Return once the link is gone (the detector walked away, was switched off, or ``disconnect``)."""

    async def disconnect(self) -> None:
        """Close the connection (no error if it is already closed)."""


class DetectorLink(Protocol):
    """A Bluetooth LE central: finds detectors and connects to them."""

    async def scan(self, timeout: float, *, service_uuids: Sequence[str] = (),
                   want: int | None = None) -> list[Advertisement]:
        """Devices seen within ``timeout`` seconds (only those advertising one of ``service_uuids``, if given),
        stopping early once ``want`` devices were seen; raises ``AdapterUnavailable`` without a radio."""
        ...

    async def connect(self, address: str, *, timeout: float = 20.0) -> DetectorConnection:
        """Connect to the detector at ``address``; raises ``DetectorError`` naming it when that fails."""
        ...
