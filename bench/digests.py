"""Regulator digests: build time of a day with 100,000 events, and the latency of a 30-day on-demand
request (调取指令), cold (every digest built on the request) and warm (stored), p50/p99.

The service runs in-process on SQLite with a ``ManualClock``; events go straight into the log (prepared,
unsigned: a digest reads only the log's index columns and the permit projection), spread over 1,000 permits
whose projection rows are written directly. The request goes through the ASGI app (FastAPI's TestClient),
not a socket. Run: .venv/bin/python -m bench.digests [events-per-big-day] [days]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import orjson
from fastapi.testclient import TestClient
from sqlalchemy import insert, update

from evidence_api import db
from evidence_api.config import Settings
from evidence_api.main import create_app
from ledger.clock import ManualClock
from ledger.events import leaf_template
from ledger.log import PreparedEvent, Submission

TENANT, ADMIN = "bench-plant", "bench-admin-token-0123456789"
_KINDS = ("guardian.heartbeat", "detector.reading", "guardian.heartbeat", "permit.activated", "alarm.raised",
          "permit.suspended", "permit.closed", "gas.analysed")
_PERMITS = 1000


def _event(n: int, stamp: str) -> PreparedEvent:
    kind, permit = _KINDS[n % len(_KINDS)], f"P-{n % _PERMITS}"
    event = {"v": 1, "event_id": str(uuid.uuid4()), "tenant": TENANT, "kind": kind, "subject": {"permit": permit},
             "actor": {"type": "device", "id": "bench", "key_id": "bench#1"}, "occurred_at": stamp,
             "received_at": stamp, "payload_commitment": "00" * 32, "prev": None, "signature": "AA=="}
    return PreparedEvent(event_id=event["event_id"], tenant=TENANT, kind=kind, permit=permit, key_id="bench#1",
                         claim_hash=n.to_bytes(32, "big"), leaf=leaf_template(event), payload_sealed=b"{}",
                         payload_key=b"k", received_at=stamp)


def _fill(services: object, count: int, clock: ManualClock) -> None:
    log = services.log  # type: ignore[attr-defined]
    for first in range(0, count, 5000):
        log.submit(Submission([_event(n, clock.stamp()) for n in range(first, min(count, first + 5000))]))
    deadline = time.monotonic() + 60
    while (log.latest_checkpoint() is None or log.latest_checkpoint().checkpoint.tree_size < log.tree_size) \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    with services.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(update(db.projection_cursors).values(leaf_index=log.tree_size - 1))


def _permits(services: object, clock: ManualClock) -> None:
    doc = orjson.dumps({"alarms": [], "suspensions": []}).decode()
    with services.engine.begin() as conn:  # type: ignore[attr-defined]
        conn.execute(insert(db.sites).values(tenant=TENANT, id="s1", name="s", created_at=clock.stamp()))
        conn.execute(insert(db.permits), [
            {"tenant": TENANT, "id": f"P-{i}", "type": "hot_work", "level": "1", "state": "active", "area": "a1",
             "starts_at": clock.stamp(), "ends_at": clock.stamp(), "doc": doc, "version": 1,
             "updated_at": clock.stamp()} for i in range(_PERMITS)])


def main(big: int = 100_000, days: int = 30) -> None:
    """Fill ``days`` days (the last with ``big`` events, the others with 2,000), then measure."""
    start = datetime.fromisoformat("2026-10-01T09:00:00+08:00")
    clock = ManualClock(start)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(environment="dev", data_dir=Path(tmp), admin_token=ADMIN, intake_workers=0,
                            checkpoint_interval=0.2, anchor_interval=0.2, watchdog_interval=3600)
        with TestClient(create_app(settings, clock=clock)) as client:
            services = client.app.state.services  # type: ignore[attr-defined]
            services.projection_job.close()  # the permit rows below are stand-ins, not folded documents
            services.auth.create_tenant(TENANT, "bench")
            token = services.auth.issue_token(TENANT, "regulator", "bench")
            _permits(services, clock)
            for day in range(days):
                _fill(services, big if day == days - 1 else 2000, clock)
                clock.advance(timedelta(days=1))
            print(f"filled {services.log.tree_size:,} events over {days} days", flush=True)
            clock.advance(timedelta(hours=-7))  # 02:00 of the day after the last one
            last = (clock.today() - timedelta(days=1))
            t0 = time.perf_counter()
            services.digests.build(TENANT, last)
            print(f"digest build, day of {big:,} events: {time.perf_counter() - t0:.2f} s")
            params = {"from": (last - timedelta(days=days - 1)).isoformat(), "to": last.isoformat()}
            headers = {"Authorization": f"Bearer {token}"}
            t0 = time.perf_counter()
            resp = client.get("/v1/regulator/digests", params=params, headers=headers)
            assert resp.status_code == 200 and len(resp.json()["digests"]) == days, resp.text
            print(f"on-demand {days}-day request, cold ({days - 1} digests built): {time.perf_counter() - t0:.2f} s")
            samples = []
            for _ in range(50):
                t0 = time.perf_counter()
                client.get("/v1/regulator/digests", params=params, headers=headers).raise_for_status()
                samples.append(time.perf_counter() - t0)
            samples.sort()
            print(f"on-demand {days}-day request, warm: p50 {statistics.median(samples) * 1000:.0f} ms, "
                  f"p99 {samples[int(len(samples) * 0.99) - 1] * 1000:.0f} ms (50 requests; target p99 <= 5 s)")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
