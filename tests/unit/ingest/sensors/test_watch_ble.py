"""The gateway's watch loop over virtual BLE: a detector switched off is reported lost, reconnected when it
advertises again, and its readings keep arriving in the outbox."""

from __future__ import annotations

import asyncio
import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest

from ingest.outbox import Outbox
from ingest.sensors.gateway import Binding, Relay, watch
from ingest.sensors.model import load_models
from tests.conftest import _missing_service
from tests.helpers import TENANT, make_actor

pytestmark = pytest.mark.ble
MODELS = load_models()


@pytest.fixture(autouse=True)
def _bumble(pytestconfig: pytest.Config) -> None:
    if importlib.util.find_spec("bumble") is None:
        _missing_service(pytestconfig, "bumble is not installed (pip install -e '.[test]')")


async def _relayed(relay: Relay, count: int) -> None:
    while relay.counts.queued < count:
        await asyncio.sleep(0.01)  # yield to the link until the notification is relayed


def test_watch_reconnects_after_detector_switched_off(tmp_path: Path) -> None:
    from ingest.sensors.virtual import VirtualRadio

    relay = Relay(Outbox(tmp_path / "outbox.db", gateway=make_actor("gw-1", kind="device"), tenant=TENANT), MODELS)
    states: asyncio.Queue[str] = asyncio.Queue()

    async def field() -> None:
        radio = VirtualRadio()
        link = await radio.start()
        s1 = await radio.add(MODELS["tz-s1-h2s"], "S1-0002")
        stop = asyncio.Event()
        binding = Binding(s1.address, "s1-0002", "tz-s1-h2s", "HW-1")
        task = asyncio.create_task(watch(link, binding, relay, stop, on_state=lambda b, s: states.put_nowait(s),
                                         retry=timedelta(milliseconds=50)))
        assert await asyncio.wait_for(states.get(), 30) == "connected"
        await asyncio.wait_for(s1.subscribed.wait(), 30)
        await s1.send({"h2s": 1.0})
        await s1.stop()
        assert await asyncio.wait_for(states.get(), 30) == "lost: the detector disconnected"
        await s1.advertise()
        while (state := await asyncio.wait_for(states.get(), 30)) != "connected":
            assert state.startswith("lost: ")  # tries made before it advertised again
        await asyncio.wait_for(s1.subscribed.wait(), 30)
        await s1.send({"h2s": 2.0})
        await asyncio.wait_for(_relayed(relay, 2), 30)
        stop.set()
        await asyncio.wait_for(task, 30)

    asyncio.run(field())
    assert relay.counts.per_detector == {"s1-0002": 2}
