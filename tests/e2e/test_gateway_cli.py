"""``tiezheng gateway`` end to end, every part a real process: ``tiezheng serve`` goes down, the gateway keeps
relaying a virtual BLE detector into its outbox, is restarted in the middle of the outage, the server comes
back, and the queue syncs in order with nothing lost or doubled; an out-of-limit reading queued offline
suspends the permit the moment it reaches the server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.sensors.config import GatewayFolder
from ingest.sensors.decoder import encode
from ingest.sensors.gateway import Binding, Relay
from ingest.sensors.model import load_models
from tests.e2e.gateway_support import Server, Tenant, active_permit, free_port

pytestmark = [pytest.mark.ble, pytest.mark.slow]
M4 = "F2:00:00:00:00:01"  # the virtual adapter's four-gas detector


def _gateway(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    folder = [] if args[0] == "scan" else ["--dir", str(root)]
    return subprocess.run([sys.executable, "-m", "evidence_api.cli", "gateway", *args, *folder],
                          check=False, capture_output=True, text=True, timeout=120)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Server, Tenant]]:
    server = Server(tmp_path / "server", free_port())
    server.start()
    try:
        yield server, active_permit(server.url)
    finally:
        server.stop()


def _status(root: Path) -> dict[str, int]:
    done = _gateway(root, "status", "--json")
    assert done.returncode == 0, done.stderr
    outbox: dict[str, int] = json.loads(done.stdout)["outbox"]
    return outbox


def test_gateway_outage_restart_and_sync(world: tuple[Server, Tenant], tmp_path: Path) -> None:
    server, tenant = world
    root = tmp_path / "gw"
    made = _gateway(root, "init", "--server", server.url, "--tenant", "acme-chem", "--id", "gw-1",
                    "--token", tenant.tokens["ingest"], "--register-token", tenant.tokens["admin"], "--area", "unit-3")
    assert made.returncode == 0, made.stderr
    scanned = _gateway(root, "scan", "--adapter", "virtual", "--timeout", "5")
    assert f"{M4}  TZ-M4-0001" in scanned.stdout and "model tz-m4" in scanned.stdout, scanned.stdout
    bound = _gateway(root, "bind", M4, "--detector", "m4-0001", "--model", "tz-m4", "--permit", "HW-1",
                     "--point", "动火点 1 m")
    assert bound.returncode == 0, bound.stderr
    assert _gateway(root, "bind", M4, "--detector", "x", "--model", "tz-m9", "--permit", "HW-1").returncode == 2

    server.stop()  # the network goes away
    first = _gateway(root, "run", "--adapter", "virtual", "--duration", "5", "--sync-every", "1")
    assert first.returncode == 1 and "m4-0001 (F2:00:00:00:00:01): connected" in first.stdout, first.stdout + first.stderr
    assert "offline, next try" in first.stdout and "server unreachable" in first.stdout
    offline = _status(root)
    assert offline["queued"] >= 2 and offline["sent"] == 0
    second = _gateway(root, "run", "--adapter", "virtual", "--duration", "4", "--sync-every", "1")  # gateway restarted
    assert second.returncode == 1, second.stdout + second.stderr
    folder = GatewayFolder(root)
    box = folder.outbox()
    alarm = Relay(box, load_models()).on_notification(
        Binding(M4, "m4-0001", "tz-m4", "HW-1", "动火点 1 m"), encode(load_models()["tz-m4"],
                                                                    {"lel": 25.0, "o2": 20.9, "h2s": 0, "co": 0}))
    queued = box.event_ids()
    box.close()
    assert len(queued) > offline["queued"]

    server.start()  # the network is back
    synced = _gateway(root, "sync")
    assert synced.returncode == 0 and "in sync" in synced.stdout, synced.stdout + synced.stderr
    assert _status(root)["sent"] == len(queued)
    with tenant.client("reader") as reader:
        timeline = reader.timeline("HW-1")
        permit = reader.permit("HW-1")
    logged = [e.event_id for e in timeline if e.actor["id"] == "gw-1"]
    assert logged == queued  # every queued event, once each, in queue order
    assert permit.state == "suspended"
    assert timeline[-2].kind == "permit.suspended" and permit.document["gas_tests"][-1]["event_id"] == alarm
