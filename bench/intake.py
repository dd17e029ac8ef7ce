"""Intake benchmark over real HTTP on the embedded default (SQLite): batch-signed and individually signed
events per second, checkpoint lag, and inclusion-proof latency at a large tree.

Run: .venv/bin/python -m bench.intake [--batch-events 100000] [--single-events 6000] [--proof-leaves 1000000]
     [--profile]   (writes a cProfile of the server to bench/out/server.prof and prints the top functions)

Against immudb, every figure of issue 12 in paired, alternating rounds (bench/immudb_compare.py):
     .venv/bin/python -m bench.intake --against immudb [--quick] [--rounds 3] [--profile (py-spy)]

Request bodies are built and serialized before the clock starts, so the figures are the server's.
"""

from __future__ import annotations

import argparse
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from ingest.client import ApiClient, ApiError, ApiUnreachable
from ingest.seed import open_tenant
from ingest.signing import Actor, attest_batch, new_item, sign_item
from ledger.sm import Signer, SM2PrivateKey

TENANT, ADMIN = "bench", "bench-admin-token-0001"
ROOT = Path(__file__).resolve().parent


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path, port: int, profile: bool) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIEZHENG_DATA_DIR": str(data_dir), "TIEZHENG_ADMIN_TOKEN": ADMIN}
    prefix = [sys.executable, "-m", "cProfile", "-o", str(ROOT / "out" / "server.prof")] if profile else [sys.executable]
    (ROOT / "out").mkdir(exist_ok=True)
    process = subprocess.Popen([*prefix, "-m", "evidence_api.cli", "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with ApiClient.connect(f"http://127.0.0.1:{port}", timeout=1, retries=0) as client:
        for _ in range(300):
            try:
                client.public_key()
                return process
            except ApiUnreachable:
                time.sleep(0.1)
    raise RuntimeError("server did not start")


def bench_actor(key: SM2PrivateKey) -> Actor:
    """The bench detector holding ``key`` (the same key id in every server this process starts)."""
    return Actor("device", "detector-1", f"detector-1#{os.getpid()}", Signer.from_private_key(key))


def setup(base: str, key: SM2PrivateKey) -> tuple[str, Actor]:
    """The bench tenant, its admin token, and a detector holding ``key``, registered."""
    with ApiClient.connect(base, ADMIN) as root:
        access = open_tenant(root, TENANT, "Bench", roles=("admin",))
        actor = bench_actor(key)
        access.admin.register_key(TENANT, actor)
    return access.tokens["admin"], actor


def _items(actor: Actor, start: int, count: int) -> list[dict[str, Any]]:
    return [new_item(actor, tenant=TENANT, kind="detector.reading", subject={"permit": f"P-{(start + i) % 50}"},
                     payload={"lel_pct": 0.1, "o2_pct_vol": 20.9, "seq": start + i}, occurred_at="2026-11-23T08:00:00Z",
                     location={"lat": 30.2741, "lon": 120.1551, "accuracy_m": 3.5}) for i in range(count)]


def batch_bodies(actor: Actor, total: int, size: int) -> list[bytes]:
    bodies = []
    for start in range(0, total, size):
        items = _items(actor, start, size)
        bodies.append(orjson.dumps({"events": items, "attestation": attest_batch(actor, TENANT, items)}))
    return bodies


def single_bodies(actor: Actor, total: int, size: int) -> list[bytes]:
    items = [sign_item(actor, item) for item in _items(actor, 10**9, total)]
    return [orjson.dumps({"events": items[i : i + size]}) for i in range(0, total, size)]


class CheckpointWatch:
    """Polls the checkpoint every 50 ms (often enough for a lag of ~0.5 s, rarely enough not to load the server); answers when a tree size was first covered."""

    def __init__(self, base: str) -> None:
        self.base, self.stop = base, threading.Event()
        self.seen: list[tuple[float, int]] = []
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with ApiClient.connect(self.base, retries=0) as client:
            while not self.stop.is_set():
                try:
                    self.seen.append((time.monotonic(), client.checkpoint().tree_size))
                except ApiError:
                    pass  # no checkpoint yet
                time.sleep(0.05)

    def covered_at(self, size: int) -> float | None:
        return next((t for t, s in self.seen if s >= size), None)


def send(base: str, token: str, bodies: list[bytes], clients: int) -> tuple[float, list[tuple[float, int]]]:
    acks: list[tuple[float, int]] = []

    def worker(chunk: list[bytes]) -> None:
        with ApiClient.connect(base, token, timeout=120) as client:
            for body in chunk:
                receipts = client.submit_encoded(body)
                acks.append((time.monotonic(), receipts[-1].leaf_index + 1))

    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, [bodies[i::clients] for i in range(clients)]))
    return time.monotonic() - start, acks


def report_lag(watch: CheckpointWatch, acks: list[tuple[float, int]]) -> str:
    time.sleep(1.5)
    lags = [c - t for t, size in acks if (c := watch.covered_at(size)) is not None]
    lags.sort()
    return (f"checkpoint lag (ack -> covering checkpoint seen): p50 {statistics.median(lags) * 1e3:.0f} ms, "
            f"p99 {lags[int(len(lags) * 0.99) - 1] * 1e3:.0f} ms, max {lags[-1] * 1e3:.0f} ms")


def run_intake(args: argparse.Namespace) -> None:
    key = SM2PrivateKey.generate()
    with tempfile.TemporaryDirectory() as tmp:
        port = _port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port, args.profile)
        try:
            token, actor = setup(base, key)
            print(f"preparing {args.batch_events} batch-signed events ({args.batch_size}/request)…", flush=True)
            bodies = batch_bodies(actor, args.batch_events, args.batch_size)
            watch = CheckpointWatch(base)
            watch.thread.start()
            elapsed, acks = send(base, token, bodies, args.clients)
            print(f"batch-signed:  {args.batch_events / elapsed:9,.0f} events/s "
                  f"({args.batch_events} events, {len(bodies)} requests, {args.clients} clients, {elapsed:.2f} s)")
            print("  " + report_lag(watch, acks))
            print(f"preparing {args.single_events} individually signed events (SM2 sign ~2 ms each)…", flush=True)
            bodies = single_bodies(actor, args.single_events, args.single_batch)
            watch.seen.clear()
            elapsed, acks = send(base, token, bodies, args.clients)
            print(f"single-signed: {args.single_events / elapsed:9,.0f} events/s "
                  f"({args.single_events} events, {args.single_batch}/request, {elapsed:.2f} s)")
            print("  " + report_lag(watch, acks))
            watch.stop.set()
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(timeout=60)
    if args.profile:
        stats = pstats.Stats(str(ROOT / "out" / "server.prof"))
        stats.sort_stats("cumulative").print_stats(35)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", choices=["immudb"], help="paired rounds against immudb, all of issue 12's figures")
    parser.add_argument("--quick", action="store_true", help="with --against: small sizes (a few minutes)")
    parser.add_argument("--rounds", type=int, help="with --against: paired rounds (default 3)")
    parser.add_argument("--batch-events", type=int, help="events per batch-signed run (default 100,000; quick 10,000)")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--single-events", type=int, help="individually signed events (default 6,000; quick 1,000)")
    parser.add_argument("--single-batch", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--proof-leaves", type=int, help="tree size for proofs (default 1,000,000; against "
                        "immudb 10,000,000, quick 100,000)")
    parser.add_argument("--profile", action="store_true", help="cProfile the server (with --against: py-spy)")
    parser.add_argument("--out", type=Path, help="with --against: folder for intake-immudb.json (default bench/out)")
    args = parser.parse_args()
    if args.against == "immudb":
        from bench.immudb_compare import run_compare

        run_compare(args)
        return
    args.batch_events = args.batch_events or 100_000
    args.single_events = args.single_events or 6_000
    args.proof_leaves = 1_000_000 if args.proof_leaves is None else args.proof_leaves
    run_intake(args)
    if args.proof_leaves:
        from bench.proofs import run_proofs

        run_proofs(args.proof_leaves)


if __name__ == "__main__":
    main()
