"""Permit workflow benchmark over real HTTP on the embedded default (SQLite): draft → submit → approve →
approve → gas test → guardian check-in → five checks → start, per permit, with several clients at once.

Prints per-action latency (p50/p99), permits taken from draft to active per second, and the ratio of an
action's latency to the baseline: one signed event through ``POST /v1/events``, which pays the same
signature check and log commit but no rules.

The baseline is measured fairly: by the same clients on the same server, as many plain events as
actions, in blocks that alternate with the permit blocks (plain, permits, plain, permits), so drift in the
machine's load falls on both alike; neither waits behind the other's requests (mixed, the plain events would
queue behind the actions' commits and the ratio would look better than it is). A warm-up (one permit walk
and a few plain events, not counted) first starts the intake workers and the server's lazy imports, which
would otherwise land in whichever is measured first.

It also prints the CPU time per request of the server process (and of its main thread, the event loop)
and of its intake workers, from ``/proc``, for the plain blocks and the permit blocks apart: on a shared
machine those are steadier than latencies. ``--profile`` samples the second permit block with py-spy (``--gil``: the thread holding the GIL)
(``bench.spy``; raw stacks in bench/out/permits.spy.txt).

Run: .venv/bin/python -m bench.permits [--permits 200] [--clients 4] [--profile]

Every request is signed before the clock starts, so the figures are the server's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from bench import spy
from bench.intake import ADMIN, TENANT, _port, start_server
from bench.intake_floor import cpu_seconds
from evidence_api.services.rules import DEFAULTS
from ingest.client import ApiClient
from ingest.records import PermitAnswer
from ingest.seed import AreaPlan, CertificatePlan, PlantPlan, WorkerPlan, open_tenant, seed_plant
from ingest.signing import Actor, new_item, sign_item
from ledger.clock import Clock, rfc3339

POINT = {"lat": 31.2, "lon": 121.5}
ROLES = {"applicant": ["applicant"], "leader": ["team_leader"], "head": ["workshop_head"],
         "safety": ["safety_officer"], "guard": ["guardian"], "analyst": ["gas_analyst"]}


def plan(permits: int, today: date) -> PlantPlan:
    """One area, the people, and one certified welder per permit (so no two permits clash on hours)."""
    far = today + timedelta(days=900)
    welders = [WorkerPlan(f"w{n}", f"w{n}", team="t", certificates=[CertificatePlan(
        "2.1", issued_on=date(2024, 1, 1), expires_on=far, review_due_on=far - timedelta(days=300),
        number=f"B{n:08d}", id=f"c{n}", authority="bench")]) for n in range(permits + 1)]
    return PlantPlan("plant", "plant", areas=[AreaPlan("unit", "unit", POINT["lat"], POINT["lon"], 500)],
                     people=ROLES, workers=welders,
                     # the benchmark runs at any hour: no night/rest-day level upgrade (it measures speed); the
                     # on-site photo rule is off too (uploads are bench/media.py's figures, not a rule's latency)
                     overrides={"hot_work_upgrade": {"night_from_hour": None, "rest_days": []},
                                "photo_steps": {"permit.activated": [], "permit.closed": []}})


def setup(base: str, permits: int, *, admin_token: str = ADMIN, clock: Clock | None = None
          ) -> tuple[str, dict[str, Actor], str]:
    """Tenant, tokens and the plant of ``plan``. Returns the ingest token, the people (user id → Actor) and
    the area's QR token."""
    with ApiClient.connect(base, admin_token) as root:
        access = open_tenant(root, TENANT, "Bench", roles=("admin", "ingest"))
        plant = seed_plant(access.admin, TENANT, plan(permits, (clock or Clock()).today()))
    return access.tokens["ingest"], dict(plant.people), plant.qr["unit"]


def _content(n: int, clock: Clock) -> dict[str, Any]:
    template = DEFAULTS["work_types"]["hot_work"]
    now = clock.now()
    return {"type": "hot_work", "level": "2", "area": "unit", "location": POINT,
            "starts_at": rfc3339(now - timedelta(minutes=1)), "ends_at": rfc3339(now + timedelta(hours=8)),
            "content": "bench", "work_unit": "bench", "team_leader": "leader", "guardian": "guard",
            "workers": [{"worker": f"w{n}", "operation": "2.1", "hours_per_day": 8}], "risks": template["risks"],
            "measures": [{"measure": m, "applies": True, "confirmer": "leader"} for m in template["measures"]],
            "emergency_plan": "bench", "combustible_lel_pct": 5.0}


def permit_requests(people: dict[str, Actor], qr: str, n: int, clock: Clock | None = None
                    ) -> list[tuple[str, str, bytes]]:
    """The signed requests taking permit ``n`` from draft to active: (action, permit, body)."""
    clock = clock or Clock()
    permit, here = f"P{n}", POINT | {"accuracy_m": 3}
    sample = {"sampled_at": clock.stamp(), "point": "p", "purpose": "pre_start",
              "readings": {"combustible_pct_vol": 0.1, "o2_pct_vol": 20.9}}
    checks = dict.fromkeys(("ventilation", "isolation", "detection", "protection", "communication"), True)
    steps: list[tuple[str, str, Any, dict[str, float] | None]] = [
        ("applicant", "permit.drafted", _content(n, clock), None), ("applicant", "permit.submitted", {"note": ""}, None),
        ("head", "permit.approved", {"role": "workshop_head", "opinion": "ok"}, here),
        ("analyst", "gas.analysed", sample, None), ("guard", "guardian.checkin", {"qr_token": qr}, here),
        ("guard", "guardian.checks_confirmed", checks, None), ("leader", "permit.activated", {"note": ""}, None),
    ]
    out = []
    for who, kind, payload, location in steps:
        actor = people[who]
        item = sign_item(actor, new_item(actor, tenant=TENANT, kind=kind, payload=payload, occurred_at=clock.stamp(),
                                         subject={"permit": permit}, location=location))
        out.append((kind, permit, orjson.dumps(item)))
    return out


def send_request(client: ApiClient, kind: str, permit: str, body: bytes) -> PermitAnswer:
    """Send one of ``permit_requests``; raises ``ApiError`` if the server refuses it."""
    return client.draft(body) if kind == "permit.drafted" else client.act(permit, body)


def baseline_bodies(people: dict[str, Actor], count: int, clock: Clock) -> list[bytes]:
    actor = people["guard"]
    return [orjson.dumps({"events": [sign_item(actor, new_item(
        actor, tenant=TENANT, kind="guardian.note", payload={"note": "x" * 200}, occurred_at=clock.stamp(),
        subject={"permit": f"B{i}"}))]}) for i in range(count)]


def _pct(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark and print it; returns the baseline and every action's latencies (seconds)."""
    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        server = start_server(Path(tmp), port, profile=False)
        base = f"http://127.0.0.1:{port}"
        try:
            token, people, qr = setup(base, args.permits + 1, clock=clock)
            print(f"signing {args.permits} permits × 7 actions and {7 * args.permits} baseline events ...", flush=True)
            work = [permit_requests(people, qr, n, clock) for n in range(args.permits + 1)]
            baseline = baseline_bodies(people, 7 * args.permits + 4 * args.clients, clock)
            latencies, elapsed, cpu = _measure(base, token, args.clients, work, baseline, server.pid,
                                               getattr(args, "profile", False))
        finally:
            server.terminate()
            server.wait()
    baseline_samples = latencies.pop("baseline")
    base_p50 = statistics.median(baseline_samples)
    print(f"\n{args.permits} permits draft → active with {args.clients} clients: {elapsed:.1f} s in the permit blocks, "
          f"{args.permits / elapsed:.1f} permits/s, {7 * args.permits / elapsed:.0f} actions/s")
    print(f"baseline (one signed event via POST /v1/events, same clients, alternating blocks): {_pct(baseline_samples)}")
    for kind, samples in latencies.items():
        print(f"  {kind:28s} {_pct(samples)}   ×{statistics.median(samples) / base_p50:4.1f} baseline p50")
    counts = {"plain": len(baseline_samples), "permits": sum(len(s) for s in latencies.values())}
    for block, used in cpu.items():
        per = 1000 / counts[block]
        print(f"CPU per {'plain event' if block == 'plain' else 'action'} ({block} blocks): server "
              f"{used['server'] * per:5.2f} ms (event loop {used['loop'] * per:5.2f}), workers {used['workers'] * per:5.2f} ms")
    if cpu:
        ratio = (cpu["permits"]["server"] / counts["permits"]) / (cpu["plain"]["server"] / counts["plain"])
        print(f"server CPU of an action ÷ a plain event: ×{ratio:.2f}")
    if getattr(args, "profile", False):
        print(f"\nwhere the server's time goes in the second permit block (py-spy; raw stacks in {PROFILE}):")
        print(spy.Profile.parse(PROFILE.read_text()).table(30))
    return {"baseline": baseline_samples, "actions": dict(latencies), "seconds": elapsed, "cpu": cpu}


PROFILE = Path(__file__).resolve().parent / "out" / "permits.spy.txt"


def _measure(base: str, token: str, clients: int, work: list[list[tuple[str, str, bytes]]], baseline: list[bytes],
             pid: int, profile: bool = False) -> tuple[dict[str, list[float]], float, dict[str, dict[str, float]]]:
    """Warm up with ``work[-1]`` and ``clients * 4`` plain events, then on ``clients`` clients alternate a block
    of plain events and a block of permit walks, twice; the latencies by kind, the permit blocks' time, and
    the CPU seconds of server ``pid`` per kind of block (``bench.intake_floor.cpu_seconds``)."""
    latencies: dict[str, list[float]] = defaultdict(list)
    cpu: dict[str, dict[str, float]] = {"plain": defaultdict(float), "permits": defaultdict(float)}

    def timed(block: str, job: Any) -> None:
        before = cpu_seconds(pid)
        job()
        after = cpu_seconds(pid)
        for name, seconds in after.items():
            cpu[block][name] += seconds - before[name]

    connections = [ApiClient.connect(base, token, timeout=60) for _ in range(clients)]
    warm, plain = baseline[:4 * clients], baseline[4 * clients:]
    walks = work[:-1]

    def one_plain(i: int, body: bytes) -> None:
        started = time.perf_counter()
        connections[i % clients].submit_encoded(body)
        latencies["baseline"].append(time.perf_counter() - started)

    def one_permit(i: int, requests: list[tuple[str, str, bytes]]) -> None:
        client = connections[i % clients]
        for kind, permit, body in requests:
            started = time.perf_counter()
            send_request(client, kind, permit, body)
            latencies[kind].append(time.perf_counter() - started)

    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda i: connections[i % clients].submit_encoded(warm[i]), range(len(warm))))
        for kind, permit, body in work[-1]:
            send_request(connections[0], kind, permit, body)
        elapsed, half, plain_half = 0.0, (len(walks) + 1) // 2, (len(plain) + 1) // 2
        spied = None
        for block in range(2):
            with ThreadPoolExecutor(clients) as pool:
                chunk = plain[block * plain_half:(block + 1) * plain_half]
                timed("plain", lambda chunk=chunk: list(pool.map(one_plain, range(len(chunk)), chunk)))
            started = time.perf_counter()
            if profile and block == 1:
                spied = spy.Spy(pid, PROFILE, rate=200, gil=True).start()  # the second permit block only
            with ThreadPoolExecutor(clients) as pool:
                walk = walks[block * half:(block + 1) * half]
                timed("permits", lambda walk=walk: list(pool.map(one_permit, range(len(walk)), walk)))
            elapsed += time.perf_counter() - started
        if spied is not None:
            spied.stop()
        return latencies, elapsed, {block: dict(used) for block, used in cpu.items()}
    finally:
        for client in connections:
            client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--permits", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="py-spy the server in the permit blocks")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
