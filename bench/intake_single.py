"""Individually signed intake over HTTP: where the CPU goes per event, beside what SM2 verification costs.

The same individually signed bodies as ``bench.intake --against immudb`` (200 events a request, 8 clients) go
to a fresh service (SQLite) per round, warmed with one request per worker. Per event it prints the CPU time
(from /proc) of the client (this process), the server (and its event-loop thread) and the intake workers,
the server's CPU by thread (log writer, event loop, projector, pool threads: /proc, named by ``py-spy dump``),
the CPU of one SM2 verification with the service's own primitive (``bench.immudb_compare.sm2_verify_rate``'s
message), what is left once that is taken off, and the rate against the SM2-verify bound (verifies/s on one
core × cores: the meaning ``bench.intake --against immudb`` gives it).

Run: .venv/bin/python -m bench.intake_single [--events 3000] [--rounds 2] [--profile FILE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import orjson

from bench import intake
from bench.immudb_compare import OurServer, sm2_verify_rate
from bench.immudb_report import load_line
from bench.intake_floor import timed_send
from ledger.sm import SM2PrivateKey


def verify_cpu(seconds: float = 1.0) -> float:
    """CPU µs of one SM2 verification (process time around ``sm2_verify_rate``'s loop)."""
    cpu, wall = time.process_time(), time.perf_counter()
    rate = sm2_verify_rate(seconds)
    spent_cpu, spent_wall = time.process_time() - cpu, time.perf_counter() - wall
    return 1e6 / rate * spent_cpu / spent_wall


def thread_names(pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name of ``pid`` (``py-spy dump``; empty without py-spy: Python 3.11 does not
    name its OS threads, so /proc alone says only "python")."""
    from bench.spy import available

    exe = available()
    if exe is None:
        return {}
    found = subprocess.run([exe, "dump", "--json", "--pid", str(pid)], capture_output=True, text=True, check=False)
    try:
        threads = orjson.loads(found.stdout)
    except orjson.JSONDecodeError:
        return {}
    return {t["os_thread_id"]: t.get("thread_name") or str(t["os_thread_id"]) for t in threads if t.get("os_thread_id")}


def thread_cpu(pid: int, names: dict[int, str]) -> dict[str, float]:
    """CPU seconds (user + system, /proc) of each thread of ``pid``, by name (threads of one name summed)."""
    tick, out = os.sysconf("SC_CLK_TCK"), dict[str, float]()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            fields = (task / "stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the thread ended
        name = names.get(int(task.name), f"thread {task.name}")
        out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def one_round(key: SM2PrivateKey, warm: list[bytes], bodies: list[bytes], events: int, clients: int,
              profile: Path | None, rate: int = 100) -> tuple[dict[str, float], dict[str, float]]:
    """A fresh service: warm it, send ``bodies``, return the CPU figures (and the rate), and the server's CPU
    µs per event by thread."""
    with tempfile.TemporaryDirectory() as tmp:
        server = OurServer(Path(tmp), key)
        try:
            server.send(warm, len(warm))
            spy = None
            if profile:
                from bench.spy import Spy

                spy = Spy(server.process.pid, profile, rate).start()
            names = thread_names(server.process.pid)
            before = thread_cpu(server.process.pid, names)
            result = timed_send(server.base, server.token, bodies, clients, server.process.pid, events)
            after = thread_cpu(server.process.pid, names)
            if spy:
                print(spy.stop().table(25))
            return result, {name: (after[name] - before.get(name, 0.0)) * 1e6 / events for name in after}
        finally:
            server.stop()


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", type=Path, help="py-spy the last round into this file")
    parser.add_argument("--rate", type=int, default=100, help="with --profile: samples per second")
    args = parser.parse_args()
    key = SM2PrivateKey.generate()
    workers = os.cpu_count() or 1
    print(f"signing {args.events + workers * args.batch:,} events… {load_line()}", flush=True)
    bodies = intake.single_bodies(intake.bench_actor(key), args.events + workers * args.batch, args.batch)
    warm, bodies = bodies[:workers], bodies[workers:]
    events = sum(len(orjson.loads(b)["events"]) for b in bodies)
    ratios = []
    for n in range(1, args.rounds + 1):
        before = verify_cpu()
        rate_before = sm2_verify_rate()
        r, threads = one_round(key, warm, bodies, events, args.clients,
                               args.profile if n == args.rounds else None, args.rate)
        verify, bound = statistics.mean([before, verify_cpu()]), statistics.mean([rate_before, sm2_verify_rate()])
        service = r["server_us"] + r["workers_us"]
        ratios.append(r["rate"] / (bound * workers))
        print(f"round {n}: {r['rate']:6,.0f} ev/s ÷ bound {bound * workers:6,.0f} = {ratios[-1]:.2f}; CPU µs/event: "
              f"client {r['client_us']:5.1f}, server {r['server_us']:5.1f} (loop {r['loop_us']:5.1f}), workers "
              f"{r['workers_us']:5.1f}; service {service:5.1f} = SM2 verify {verify:5.1f} + rest "
              f"{service - verify:5.1f}  {load_line()}", flush=True)
        print("  server CPU µs/event by thread: " + ", ".join(
            f"{name} {us:.1f}" for name, us in sorted(threads.items(), key=lambda kv: -kv[1]) if us >= 0.05), flush=True)
    print(f"ratio min/median/max {min(ratios):.2f}/{statistics.median(ratios):.2f}/{max(ratios):.2f}")


if __name__ == "__main__":
    main()
