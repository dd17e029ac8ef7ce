"""Permit workflow benchmark over real HTTP on the embedded default (SQLite): draft → submit → approve →
approve → gas test → guardian check-in → five checks → start, per permit, with several clients at once.

Prints per-action latency (p50/p99), permits taken from draft to active per second, and the ratio of an
action's latency to the baseline: one signed event of the same size through ``POST /v1/events``, which
pays the same signature check and log commit but no rules.

Run: .venv/bin/python -m bench.permits [--permits 200] [--clients 4]

Every request is signed before the clock starts, so the figures are the server's.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from bench.intake import ADMIN, TENANT, _port, start_server
from evidence_api.services.rules import DEFAULTS
from ingest.signing import Actor, new_item, sign_item
from ledger.sm import Signer, SM2PrivateKey

POINT = {"lat": 31.2, "lon": 121.5}
ROLES = {"applicant": "applicant", "leader": "team_leader", "head": "workshop_head", "safety": "safety_officer",
         "guard": "guardian", "analyst": "gas_analyst"}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def setup(base: str, permits: int, *, admin_token: str = ADMIN) -> tuple[dict[str, str], dict[str, Actor], str]:
    """Tenant, tokens, one area, the people, and one certified welder per permit (no hour clashes).

    Returns the ingest headers, the people (user id → Actor) and the area's QR token."""
    root = {"Authorization": f"Bearer {admin_token}"}
    httpx.post(f"{base}/v1/tenants", json={"id": TENANT, "name": "Bench"}, headers=root).raise_for_status()
    token = httpx.post(f"{base}/v1/tokens", json={"tenant": TENANT, "role": "admin", "label": "a"}, headers=root).json()
    admin = {"Authorization": f"Bearer {token['token']}"}
    ingest = httpx.post(f"{base}/v1/tokens", json={"tenant": TENANT, "role": "ingest", "label": "i"}, headers=admin).json()

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = httpx.post(f"{base}{path}", json=body, headers=admin, timeout=30)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    # the benchmark runs at any hour: no night/rest-day level upgrade (it measures speed, not the calendar)
    httpx.put(f"{base}/v1/settings/rules", headers=admin, json={"overrides": {"hot_work_upgrade": {
        "night_from_hour": None, "rest_days": []}}}).raise_for_status()
    post("/v1/sites", {"id": "plant", "name": "plant"})
    qr = post("/v1/areas", {"id": "unit", "site": "plant", "name": "unit",
                            "geofence": {"circle": POINT | {"radius_m": 500}}})["qr_token"]
    people = {}
    for user, role in ROLES.items():
        actor = people[user] = Actor("user", user, f"{user}#1", Signer.from_private_key(SM2PrivateKey.generate()))
        post("/v1/users", {"id": user, "name": user, "roles": [role], "key_id": actor.key_id,
                           "public_key_pem": actor.signer.public.to_pem()})
    far = date.today() + timedelta(days=900)
    for n in range(permits + 1):
        post("/v1/workers", {"id": f"w{n}", "name": f"w{n}", "team": "t"})
        post("/v1/certificates", {"id": f"c{n}", "worker": f"w{n}", "category": "2", "sub_type": "2.1",
                                  "number": f"B{n:08d}", "holder_name": f"w{n}", "issued_on": "2024-01-01",
                                  "expires_on": far.isoformat(), "review_due_on": "2027-01-01", "authority": "bench"})
    return {"Authorization": f"Bearer {ingest['token']}", "Content-Type": "application/json"}, people, qr


def _content(n: int) -> dict[str, Any]:
    template = DEFAULTS["work_types"]["hot_work"]
    now = datetime.now(UTC)
    return {"type": "hot_work", "level": "2", "area": "unit", "location": POINT,
            "starts_at": _iso(now - timedelta(minutes=1)), "ends_at": _iso(now + timedelta(hours=8)),
            "content": "bench", "work_unit": "bench", "team_leader": "leader", "guardian": "guard",
            "workers": [{"worker": f"w{n}", "operation": "2.1", "hours_per_day": 8}], "risks": template["risks"],
            "measures": [{"measure": m, "applies": True, "confirmer": "leader"} for m in template["measures"]],
            "emergency_plan": "bench", "combustible_lel_pct": 5.0}


def permit_requests(people: dict[str, Actor], qr: str, n: int) -> list[tuple[str, str, bytes]]:
    """The signed requests taking permit ``n`` from draft to active: (action, path, body)."""
    permit, here = f"P{n}", POINT | {"accuracy_m": 3}
    sample = {"sampled_at": _iso(datetime.now(UTC)), "point": "p", "purpose": "pre_start",
              "readings": {"combustible_pct_vol": 0.1, "o2_pct_vol": 20.9}}
    checks = dict.fromkeys(("ventilation", "isolation", "detection", "protection", "communication"), True)
    steps: list[tuple[str, str, Any, dict[str, float] | None]] = [
        ("applicant", "permit.drafted", _content(n), None), ("applicant", "permit.submitted", {"note": ""}, None),
        ("head", "permit.approved", {"role": "workshop_head", "opinion": "ok"}, here),
        ("analyst", "gas.analysed", sample, None), ("guard", "guardian.checkin", {"qr_token": qr}, here),
        ("guard", "guardian.checks_confirmed", checks, None), ("leader", "permit.activated", {"note": ""}, None),
    ]
    out = []
    for who, kind, payload, location in steps:
        actor = people[who]
        item = sign_item(actor, new_item(actor, tenant=TENANT, kind=kind, payload=payload, occurred_at=_iso(datetime.now(UTC)),
                                         subject={"permit": permit}, location=location))
        path = "/v1/permits" if kind == "permit.drafted" else f"/v1/permits/{permit}/actions"
        out.append((kind, path, orjson.dumps(item)))
    return out


def baseline_bodies(people: dict[str, Actor], count: int) -> list[bytes]:
    actor = people["guard"]
    return [orjson.dumps({"events": [sign_item(actor, new_item(
        actor, tenant=TENANT, kind="guardian.note", payload={"note": "x" * 200}, occurred_at=_iso(datetime.now(UTC)),
        subject={"permit": f"B{i}"}))]}) for i in range(count)]


def _pct(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered) * 1000:6.1f} ms  p99 {p99 * 1000:6.1f} ms"


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        server = start_server(Path(tmp), port, profile=False)
        base = f"http://127.0.0.1:{port}"
        try:
            headers, people, qr = setup(base, args.permits)
            print(f"signing {args.permits} permits × 7 actions and {args.permits} baseline events ...", flush=True)
            work = [permit_requests(people, qr, n) for n in range(args.permits)]
            baseline = baseline_bodies(people, args.permits)
            latencies: dict[str, list[float]] = defaultdict(list)

            def one_permit(requests: list[tuple[str, str, bytes]], client: httpx.Client) -> None:
                for kind, path, body in requests:
                    started = time.perf_counter()
                    resp = client.post(f"{base}{path}", content=body, headers=headers)
                    latencies[kind].append(time.perf_counter() - started)
                    if resp.status_code not in (200, 201):
                        raise RuntimeError(f"{kind}: {resp.status_code} {resp.text}")

            clients = [httpx.Client(timeout=60) for _ in range(args.clients)]

            def one_baseline(i: int) -> None:
                started = time.perf_counter()
                clients[i % args.clients].post(f"{base}/v1/events", content=baseline[i], headers=headers).raise_for_status()
                latencies["baseline"].append(time.perf_counter() - started)

            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(one_baseline, range(len(baseline))))
            started = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                list(pool.map(lambda i: one_permit(work[i], clients[i % args.clients]), range(args.permits)))
            elapsed = time.perf_counter() - started
            for client in clients:
                client.close()
        finally:
            server.terminate()
            server.wait()
    base_p50 = statistics.median(latencies.pop("baseline"))
    print(f"\n{args.permits} permits draft → active with {args.clients} clients: {elapsed:.1f} s, "
          f"{args.permits / elapsed:.1f} permits/s, {7 * args.permits / elapsed:.0f} actions/s")
    print(f"baseline (one signed event via POST /v1/events, same clients): p50 {base_p50 * 1000:.1f} ms")
    for kind, samples in latencies.items():
        print(f"  {kind:28s} {_pct(samples)}   ×{statistics.median(samples) / base_p50:4.1f} baseline p50")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--permits", type=int, default=200)
    parser.add_argument("--clients", type=int, default=4)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
