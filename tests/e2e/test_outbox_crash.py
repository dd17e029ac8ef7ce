"""``kill -9`` of the gateway at random moments while it queues and syncs: no acknowledged reading is lost,
none reaches the server twice, and the permit's timeline holds the queue in order."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.client import ApiClient
from ingest.outbox_sync import OutboxSync
from ingest.sensors.config import GatewayConfig, GatewayFolder
from tests.e2e.gateway_support import Server, Tenant, active_permit, free_port

pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Server, Tenant]]:
    server = Server(tmp_path / "server", free_port())
    server.start()
    try:
        yield server, active_permit(server.url)
    finally:
        server.stop()


def _run_until_killed(root: Path, acknowledged: int) -> list[str]:
    """Start the gateway, let it acknowledge ``acknowledged`` readings, then SIGKILL it; the ids it printed."""
    child = subprocess.Popen([sys.executable, "-m", "tests.e2e.outbox_child", str(root), "100000"],
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    seen = [child.stdout.readline().strip() for _ in range(acknowledged)]
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    return seen


def test_kill9_loses_no_acknowledged_reading_and_duplicates_none(world: tuple[Server, Tenant], tmp_path: Path) -> None:
    server, tenant = world
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    root = tmp_path / "gw"
    folder = GatewayFolder(root)
    actor = folder.create(GatewayConfig(server.url, "acme-chem", "gw-1", "gw-1#1"), tenant.tokens["ingest"])
    with tenant.client() as admin:
        admin.create_device(actor, kind="gateway", area="unit-3")
    acknowledged: list[str] = []
    for _ in range(4):
        acknowledged += _run_until_killed(root, rng.randint(3, 40))
    box = folder.outbox()
    queued = box.event_ids()
    assert set(acknowledged) <= set(queued), f"seed {seed}: acknowledged readings lost"
    with ApiClient.connect(server.url, tenant.tokens["ingest"], retries=0) as api:
        assert OutboxSync(box, api).sync_once().done
    with tenant.client("reader") as reader:
        logged = [e.event_id for e in reader.timeline("HW-1") if e.actor["id"] == "gw-1"]
    assert logged == queued, f"seed {seed}: the server's readings differ from the queue (lost, doubled or reordered)"
    assert box.status().pending == 0
