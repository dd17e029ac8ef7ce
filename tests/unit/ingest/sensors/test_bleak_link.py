"""The production adapter, tested where no radio exists: with no Bluetooth stack it refuses clearly (scan,
connect, and the gateway's watch loop), and bleak's scan results map onto our advertisements."""

from __future__ import annotations

import asyncio

import pytest
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from ingest.sensors.bleak_link import BleakLink, advertisement_of
from ingest.sensors.detector import Advertisement
from ingest.sensors.errors import AdapterUnavailable
from ingest.sensors.gateway import Binding, Relay, watch
from ingest.sensors.model import load_models

NO_STACK = r"no usable Bluetooth stack on this host \(FileNotFoundError.*\); on Linux start bluetoothd \(BlueZ\)"


@pytest.fixture(autouse=True)
def _no_system_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """Point D-Bus at a socket that does not exist, as on a host without BlueZ (this machine has none either)."""
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/tiezheng-test/system_bus_socket")


def test_scan_without_stack_refused() -> None:
    with pytest.raises(AdapterUnavailable, match=NO_STACK):
        asyncio.run(BleakLink().scan(1.0, service_uuids=["7a3c0001-5d1f-4a52-9c1e-2b8e6f0d4a10"]))


def test_connect_without_stack_refused() -> None:
    with pytest.raises(AdapterUnavailable, match=NO_STACK):
        asyncio.run(BleakLink().connect("AA:BB:CC:DD:EE:FF", timeout=2.0))


def test_watch_without_stack_reports_lost_and_stops() -> None:
    states: list[str] = []

    async def run() -> None:
        stop = asyncio.Event()

        def on_state(_: Binding, state: str) -> None:
            states.append(state)
            stop.set()

        binding = Binding("AA:BB:CC:DD:EE:FF", "m4-0001", "tz-m4", "HW-1")
        await watch(BleakLink(), binding, Relay(None, load_models()), stop, on_state=on_state)  # type: ignore[arg-type]

    asyncio.run(run())
    assert len(states) == 1 and states[0].startswith("lost: no usable Bluetooth stack")


def test_advertisement_of_bleak_result() -> None:
    device = BLEDevice("AA:BB:CC:DD:EE:FF", "fallback", details=None)
    data = AdvertisementData(local_name="M4-0001", manufacturer_data={}, service_data={},
                             service_uuids=["7A3C0001-5D1F-4A52-9C1E-2B8E6F0D4A10"], tx_power=None, rssi=-61,
                             platform_data=())
    assert advertisement_of(device, data) == Advertisement(
        "AA:BB:CC:DD:EE:FF", "M4-0001", ("7a3c0001-5d1f-4a52-9c1e-2b8e6f0d4a10",), -61)
    assert advertisement_of(device, data._replace(local_name=None)).name == "fallback"


def test_gateway_scan_without_stack_exits_2_saying_why(capsys: pytest.CaptureFixture[str]) -> None:
    from ingest.sensors.cli import scan_command

    assert scan_command(adapter="bleak", timeout=1.0) == 2
    assert "no usable Bluetooth stack on this host" in capsys.readouterr().err.replace("\n", " ")
