"""The gateway over virtual BLE (bumble controllers on a LocalLink): two detector models with different byte
layouts are found, connected and relayed through the same decoder and outbox the bleak adapter feeds, and
their readings reach the permit. Each GATT connection takes about 2 s here, so there are few tests."""

from __future__ import annotations

import asyncio
import importlib.util
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.client import ApiClient
from ingest.outbox import Outbox
from ingest.outbox_sync import OutboxSync
from ingest.sensors.gateway import Binding, Relay, watch
from ingest.sensors.model import load_models
from tests.api.permit_support import Plant, seed_plant, to_active
from tests.api.support import Api
from tests.conftest import _missing_service
from tests.helpers import TENANT, make_actor

pytestmark = pytest.mark.ble
MODELS = load_models()


@pytest.fixture
def active(api: Api, pytestconfig: pytest.Config) -> Plant:
    if importlib.util.find_spec("bumble") is None:
        _missing_service(pytestconfig, "bumble is not installed (pip install -e '.[test]')")
    plant = seed_plant(api)
    to_active(plant)
    return plant


async def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for ``condition`` with a deadline (the BLE side runs on the same loop, so yield to it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"within {timeout} s: {what}")
        await asyncio.sleep(0.01)


def test_two_models_relayed_over_virtual_ble(active: Plant, tmp_path: Path) -> None:
    from ingest.sensors.virtual import VirtualRadio

    gateway = make_actor("gw-1", kind="device")
    active.admin.create_device(gateway, kind="gateway", area="unit-3")
    for detector in ("m4-0001", "s1-0002"):  # the relayed detectors are registered devices of the tenant
        active.admin.create_device(make_actor(detector, kind="device"), kind="detector", area="unit-3")
    box = Outbox(tmp_path / "outbox.db", gateway=gateway, tenant=TENANT, max_batch=8)
    relay, states = Relay(box, MODELS), []

    async def field() -> list[str]:
        radio = VirtualRadio()
        link = await radio.start()
        m4 = await radio.add(MODELS["tz-m4"], "M4-0001")
        s1 = await radio.add(MODELS["tz-s1-h2s"], "S1-0002")
        seen = await link.scan(10.0, service_uuids=[m.service_uuid for m in MODELS.values()], want=2)
        assert {(a.name, a.address) for a in seen} == {("M4-0001", m4.address), ("S1-0002", s1.address)}
        stop = asyncio.Event()
        bindings = [Binding(m4.address, "m4-0001", "tz-m4", "HW-1", "动火点 1 m"),
                    Binding(s1.address, "s1-0002", "tz-s1-h2s", "HW-1", "地沟口")]
        tasks = [asyncio.create_task(watch(link, b, relay, stop, on_state=lambda b, s: states.append((b.detector, s))))
                 for b in bindings]
        await asyncio.wait_for(asyncio.gather(m4.subscribed.wait(), s1.subscribed.wait()), 30)
        await m4.send({"lel": 3.0, "o2": 20.9, "h2s": 0.5, "co": 4})
        await s1.send({"h2s": 1.25}, detector_time=datetime.now(UTC).replace(microsecond=0))
        await s1.send_raw(b"\x00\x01\x02")  # a truncated notification
        await _until(lambda: relay.counts.queued == 2 and relay.counts.refused == 1, "2 readings and 1 refusal")
        stop.set()
        await asyncio.gather(*tasks)
        return box.event_ids()

    queued = asyncio.run(field())
    assert [s for _, s in states] == ["connected", "connected"]
    sync = OutboxSync(box, ApiClient(active.api.client, token=active.api.ingest, retries=0))
    assert sync.sync_once().sent == 3
    timeline = {e.event_id: e for e in active.admin.timeline("HW-1")}
    assert [timeline[q].kind for q in queued] == ["detector.reading", "detector.reading", "detector.fault"]
    permit = active.permit()
    assert permit["state"] == "active" and permit["detector"]["event_id"] == queued[1]
