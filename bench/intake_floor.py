"""How fast can the intake's HTTP stack and its Python clients go at all? The floor under ``bench.intake``.

The same 8 clients as ``bench.intake`` (the same batch-signed bodies, ``ApiClient.submit_encoded``, httpx) send
to, in alternating rounds:

(a) the FLOOR: a server on the same stack (uvicorn + httptools + uvloop, FastAPI, ``BodyGuard``, ``StrictRoute``,
    the app-wide query check and the bearer-token dependency) whose ``POST /v1/events`` only reads the body and
    answers a prebuilt receipts document of the same size (as many receipts as a request carries events). It
    checks, seals and logs nothing; it lives here in bench/ and is no part of the product.
(b) the SERVICE: ``evidence_api.cli serve`` on a fresh SQLite data directory (warmed with two requests).

For each it prints events/s and the CPU each process spent per event (client = this process, its 8 threads
building requests and parsing receipts; server; intake workers), so the gap to immudb splits into what the HTTP
stack and the clients cost and what the service adds. ``--immudb-rate`` (immudb's verified entries/s from
``bench.intake --against immudb`` on the same machine) adds both ratios to it.

Run: .venv/bin/python -m bench.intake_floor [--events 20000] [--rounds 3] [--immudb-rate 55000]
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import httpx
import orjson
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response

from bench import intake
from bench.immudb_compare import OurServer
from bench.immudb_report import load_line
from evidence_api.deps import PrincipalDep, refuse_unknown_query
from evidence_api.errors import install_error_handlers
from evidence_api.middleware import BodyGuard
from evidence_api.routes.strict import StrictRoute
from evidence_api.services.auth import Principal
from evidence_api.services.errors import Unauthorized
from ledger.clock import Clock
from ledger.sm import SM2PrivateKey

FLOOR_TOKEN = "floor-ingest-token-0001"
_TICK = os.sysconf("SC_CLK_TCK")


def floor_receipts(count: int) -> bytes:
    """A receipts document of ``count`` receipts shaped like the service's (uuid, 7-digit index, SM3 hex)."""
    stamp = Clock().stamp()
    receipts = [{"event_id": str(uuid.uuid4()), "leaf_index": 1_000_000 + i, "leaf_hash": os.urandom(32).hex(),
                 "received_at": stamp, "duplicate": False} for i in range(count)]
    return orjson.dumps({"receipts": receipts})


def floor_app(count: int) -> FastAPI:
    """The floor's FastAPI app: our middleware, route class and dependencies, and a route that answers
    ``floor_receipts(count)`` after reading the body."""
    class _Auth:  # the service's Auth answers a token seen before from memory; so does this, for its one token
        def cached(self, authorization: str | None) -> Principal | None:
            return self.principal(authorization)

        def principal(self, authorization: str | None) -> Principal:
            if authorization != f"Bearer {FLOOR_TOKEN}":
                raise Unauthorized("unknown bearer token")
            return Principal(intake.TENANT, "ingest", "floor")

    answer = floor_receipts(count)
    router = APIRouter(prefix="/v1/events", route_class=StrictRoute)

    @router.post("", status_code=201, openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object"}}}}})
    async def submit_events(request: Request, principal: PrincipalDep) -> Response:
        principal.require("ingest", "admin")
        await request.body()
        return Response(answer, status_code=201, media_type="application/json")

    app = FastAPI(dependencies=[Depends(refuse_unknown_query)])
    app.state.services = SimpleNamespace(auth=_Auth())
    install_error_handlers(app)
    app.add_middleware(BodyGuard, max_body_bytes=16 * 1024 * 1024)
    app.include_router(router)
    return app


def serve_floor(port: int, count: int) -> None:
    """Run the floor the way ``evidence_api.cli serve`` runs the service (uvicorn defaults, info log)."""
    import uvicorn

    uvicorn.run(floor_app(count), host="127.0.0.1", port=port, log_level="info")


def start_floor(port: int, count: int) -> subprocess.Popen[bytes]:
    """The floor server in its own process, once it answers."""
    process = subprocess.Popen([sys.executable, "-m", "bench.intake_floor", "--serve-floor", str(port),
                                "--receipts", str(count)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=1) as client:
        for _ in range(300):
            try:
                client.get("/")
                return process
            except httpx.TransportError:
                time.sleep(0.1)
    raise RuntimeError("floor server did not start")


def _ticks(stat: Path) -> tuple[int, float]:
    """The parent pid and the user+system CPU seconds in a ``/proc/.../stat`` file."""
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def cpu_seconds(pid: int) -> dict[str, float]:
    """User+system CPU seconds of ``pid`` (``server``), of its main thread alone (``loop``: the event loop,
    where HTTP, the middleware and the route run), and of its living children together (``workers``)."""
    out = {"server": _ticks(Path(f"/proc/{pid}/stat"))[1], "loop": _ticks(Path(f"/proc/{pid}/task/{pid}/stat"))[1],
           "workers": 0.0}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent, seconds = _ticks(entry / "stat")
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                out["workers"] += seconds
    return out


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def timed_send(base: str, token: str, bodies: list[bytes], clients: int, pid: int, events: int) -> dict[str, float]:
    """Send ``bodies``; events/s and CPU µs per event of the client, the server and its workers."""
    before, client_before = cpu_seconds(pid), _client_cpu()
    seconds, _ = intake.send(base, token, bodies, clients)
    after, client_after = cpu_seconds(pid), _client_cpu()
    per = 1e6 / events
    return {"rate": events / seconds, "client_us": (client_after - client_before) * per,
            "server_us": (after["server"] - before["server"]) * per, "loop_us": (after["loop"] - before["loop"]) * per,
            "workers_us": (after["workers"] - before["workers"]) * per}


def floor_round(bodies: list[bytes], warm: list[bytes], args: argparse.Namespace) -> dict[str, float]:
    """One round against a fresh floor server (the bodies ``args.floor_repeat`` times over: it keeps nothing, and
    alone it is fast, so a longer window steadies the figure)."""
    port = intake._port()
    process = start_floor(port, args.batch_size)
    try:
        base = f"http://127.0.0.1:{port}"
        intake.send(base, FLOOR_TOKEN, warm, min(args.clients, len(warm)))
        return timed_send(base, FLOOR_TOKEN, bodies * args.floor_repeat, args.clients, process.pid,
                          args.events * args.floor_repeat)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def service_round(bodies: list[bytes], warm: list[bytes], key: SM2PrivateKey,
                  args: argparse.Namespace) -> dict[str, float]:
    """One round against a fresh service (SQLite, its own data directory), warmed like bench.immudb_compare."""
    with tempfile.TemporaryDirectory() as tmp:
        server = OurServer(Path(tmp), key)
        try:
            server.send(warm, min(args.clients, len(warm)))
            return timed_send(server.base, server.token, bodies, args.clients, server.process.pid, args.events)
        finally:
            server.stop()


def _line(name: str, r: dict[str, float]) -> str:
    return (f"{name} {r['rate']:9,.0f} ev/s   CPU µs/event: client {r['client_us']:5.1f}, server "
            f"{r['server_us']:5.1f} (event loop {r['loop_us']:5.1f}), workers {r['workers_us']:5.1f}")


def _summary(floors: list[dict[str, float]], services: list[dict[str, float]], immudb: float | None) -> None:
    def spread(values: list[float]) -> str:
        return f"{min(values):.2f}/{statistics.median(values):.2f}/{max(values):.2f}"

    print("summary (min/median/max over rounds):")
    print(f"  service ÷ floor (paired):  {spread([s['rate'] / f['rate'] for f, s in zip(floors, services, strict=True)])}")
    for name, rounds in (("floor", floors), ("service", services)):
        cpu = {k: statistics.median(r[k] for r in rounds) for k in ("client_us", "server_us", "loop_us", "workers_us")}
        print(f"  {name:8} {statistics.median(r['rate'] for r in rounds):9,.0f} ev/s median; CPU µs/event median: "
              f"client {cpu['client_us']:.1f}, server {cpu['server_us']:.1f} (event loop {cpu['loop_us']:.1f}), "
              f"workers {cpu['workers_us']:.1f}")
        if immudb:
            print(f"           ÷ immudb verified ({immudb:,.0f}/s): {spread([r['rate'] / immudb for r in rounds])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000, help="batch-signed events per round")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--floor-repeat", type=int, default=3, help="the floor gets the bodies this many times")
    parser.add_argument("--immudb-rate", type=float, help="immudb verified entries/s measured on this machine")
    parser.add_argument("--serve-floor", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--receipts", type=int, default=500, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_floor:
        serve_floor(args.serve_floor, args.receipts)
        return
    key = SM2PrivateKey.generate()
    actor = intake.bench_actor(key)
    print(f"preparing {args.events:,} batch-signed events ({args.batch_size}/request)… {load_line()}", flush=True)
    bodies = intake.batch_bodies(actor, args.events, args.batch_size)
    warm = intake.batch_bodies(actor, 2 * args.batch_size, args.batch_size)
    args.events = sum(len(orjson.loads(b)["events"]) for b in bodies)
    floors, services = [], []
    for n in range(1, args.rounds + 1):
        floors.append(floor_round(bodies, warm, args))
        print(f"  round {n}: {_line('floor  ', floors[-1])}  {load_line()}", flush=True)
        services.append(service_round(bodies, warm, key, args))
        print(f"  round {n}: {_line('service', services[-1])}  {load_line()}", flush=True)
    _summary(floors, services, args.immudb_rate)


if __name__ == "__main__":
    main()
