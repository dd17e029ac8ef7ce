"""Gateway outbox benchmark: readings per second from decode to the durable queue, and the sync rate of a
24-hour backlog against a real ``tiezheng serve``.

Run: .venv/bin/python -m bench.outbox [--readings 2000] [--detectors 2] [--hours 24] [--interval 1]

1. Decode → durable queue: each notification decoded with its model file and committed (fsync'd) on its own,
   as the gateway does while relaying; beside it the decoder alone and a commit per 100 readings, to show
   where the time goes.
2. Backlog: ``detectors`` × ``hours`` of one reading every ``interval`` s, synthesised with the gateway's
   clock moved back (so the server flags each one ``received_late``), queued, then sealed (one SM2
   attestation per 500) and synced over HTTP; the rate is events acknowledged per second of sync.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.intake import ADMIN, TENANT, _port, start_server
from ingest.client import ApiClient
from ingest.outbox import Outbox
from ingest.outbox_sync import OutboxSync
from ingest.seed import new_actor, open_tenant
from ingest.sensors.decoder import decode, encode
from ingest.sensors.gateway import Binding, Relay, reading_payload
from ingest.sensors.model import load_models
from ledger.clock import ManualClock, rfc3339

MODELS = load_models()
M4 = MODELS["tz-m4"]
BINDING = Binding("F2:00:00:00:00:01", "m4-0001", "tz-m4", "HW-1", "动火点 1 m")


def _notifications(count: int) -> list[bytes]:
    return [encode(M4, {"lel": n % 30 / 10, "o2": 20.9, "h2s": 0.1, "co": n % 20}, sequence=n) for n in range(count)]


def bench_queue(readings: int, folder: Path) -> None:
    """Decode alone, decode + one fsync'd commit per reading, decode + one commit per 100."""
    data = _notifications(readings)
    start = time.perf_counter()
    for raw in data:
        decode(M4, raw)
    decode_rate = readings / (time.perf_counter() - start)
    gateway = new_actor("gw-bench", "device")
    relay = Relay(Outbox(folder / "single.db", gateway=gateway, tenant=TENANT), MODELS)
    start = time.perf_counter()
    for raw in data:
        relay.on_notification(BINDING, raw)
    single = readings / (time.perf_counter() - start)
    box = Outbox(folder / "grouped.db", gateway=gateway, tenant=TENANT)
    start = time.perf_counter()
    for chunk in range(0, readings, 100):
        now = box.clock.now()
        box.enqueue_many([("detector.reading", reading_payload(BINDING, decode(M4, raw), now), {"permit": "HW-1"},
                           None, None) for raw in data[chunk:chunk + 100]])
    grouped = readings / (time.perf_counter() - start)
    print(f"decode only                       {decode_rate:10.0f} readings/s")
    print(f"decode → durable queue (1/commit) {single:10.0f} readings/s  ({single / decode_rate:.3f}× decode only)")
    print(f"decode → durable queue (100/commit){grouped:9.0f} readings/s  ({grouped / single:.1f}× one per commit)")


def _backlog(box: Outbox, detectors: int, hours: float, interval: float) -> int:
    start = datetime.now(UTC) - timedelta(hours=hours)
    steps = int(hours * 3600 / interval)
    raw = _notifications(1)[0]
    reading = decode(M4, raw)
    rows: list = []
    for step in range(steps):
        at = start + timedelta(seconds=step * interval)
        for d in range(detectors):
            binding = Binding(f"F2:00:00:00:01:{d:02X}", f"m4-{d:04d}", "tz-m4", "HW-1", "动火点 1 m")
            rows.append(("detector.reading", reading_payload(binding, reading, at), {"permit": "HW-1"}, rfc3339(at), None))
        if len(rows) >= 2000:
            box.enqueue_many(rows)
            rows = []
    if rows:
        box.enqueue_many(rows)
    return steps * detectors


def bench_backlog(detectors: int, hours: float, interval: float, folder: Path) -> None:
    """Queue the backlog offline, then sync it to a real server and report the rate."""
    port = _port()
    server = start_server(folder / "server", port, profile=False)
    base = f"http://127.0.0.1:{port}"
    try:
        access = open_tenant(ApiClient.connect(base, ADMIN), TENANT, "Bench")
        gateway = new_actor("gw-bench", "device")
        access.admin.create_device(gateway, kind="gateway")
        box = Outbox(folder / "backlog.db", gateway=gateway, tenant=TENANT, clock=ManualClock(datetime.now(UTC)))
        start = time.perf_counter()
        total = _backlog(box, detectors, hours, interval)
        queued = time.perf_counter() - start
        start = time.perf_counter()
        box.seal()
        sealed = time.perf_counter() - start
        with ApiClient.connect(base, access.tokens["ingest"], retries=0, timeout=120) as api:
            start = time.perf_counter()
            report = OutboxSync(box, api).sync_once()
            synced = time.perf_counter() - start
        assert report.done and report.sent == total, report
        print(f"backlog: {detectors} detector(s) × {hours:g} h at 1 per {interval:g} s = {total} readings")
        print(f"  queued in {queued:.1f} s ({total / queued:.0f}/s), sealed in {sealed:.1f} s "
              f"({total / 500:.0f} attestations)")
        print(f"  synced in {synced:.1f} s: {total / synced:.0f} readings/s; a day's backlog clears in "
              f"{synced / hours * 24 / 60:.1f} min")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def main() -> None:
    """Parse the arguments and run both parts."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readings", type=int, default=2000, help="readings for the queue figure")
    parser.add_argument("--detectors", type=int, default=2, help="detectors in the backlog")
    parser.add_argument("--hours", type=float, default=24.0, help="hours of backlog")
    parser.add_argument("--interval", type=float, default=10.0, help="seconds between readings of one detector")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench_queue(args.readings, Path(tmp))
        bench_backlog(args.detectors, args.hours, args.interval, Path(tmp))


if __name__ == "__main__":
    main()
