"""Issue 12's figures in one run: ``python -m bench.intake --against immudb [--quick] [--profile]``.

Paired, alternating rounds (ours, immudb, ours, immudb …) on this machine, because it is shared: a ratio
taken within one round cancels most of the load that others put on it, and min/median/max over the rounds
say how much is left. Every phase prints the load average.

- Batch-signed intake: our service over HTTP on SQLite (WAL, ``synchronous=FULL``: every group commit is
  fsynced before any receipt) against immudb writing the same number of entries, each the size of one of
  our stored events (canonical leaf + SM4-GCM sealed payload + wrapped data key), with ``SetAll``
  transactions of the same batch size from the same number of clients, every transaction read back with
  ``VerifiedTxByID`` (immudb's default ``--synced``: fsync before the commit returns). Also against
  immudb's plain ``SetAll`` (no verified read). Each side starts empty in each round; our side is warmed
  with two requests first (the intake workers spawn on the first one).
- Checkpoint lag (ack → first polled checkpoint covering it) and bytes on disk per event, from the same rounds.
- Individually signed intake against the SM2-verify bound: SM2 verifies per second on one core (the
  service's own ``SM2PublicKey.verify``, measured just before and after each round) × intake workers.
- Inclusion proofs at a large tree (synthetic leaves straight into the node store), in-process and HTTP.
- Intake on that large tree against an empty log (alternating rounds).
- Permit actions p50 against one plain signed event, 4 clients (bench/permits.py).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench import intake, proofs
from bench.immudb import ImmudbNode
from bench.immudb_report import Figures, load_line, print_table
from evidence_api.db import migrate
from ingest.client import ApiClient
from ledger.canonical import canonical
from ledger.sm import SM2PrivateKey

OUT = Path(__file__).resolve().parent / "out"


@dataclass
class Plan:
    """Sizes of one run (``--quick`` shrinks every one)."""

    events: int
    batch: int
    clients: int
    rounds: int
    single_events: int
    single_batch: int
    tree: int
    tree_events: int
    tree_rounds: int
    permits: int
    proof_requests: int
    profile: bool = False
    out: Path = OUT
    fig: Figures = field(default_factory=Figures)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Plan:
        """Defaults (full or quick), overridden by explicit options."""
        quick = args.quick
        pick: Callable[[int | None, int, int], int] = lambda given, full, small: (
            given if given is not None else (small if quick else full))
        return cls(events=pick(args.batch_events, 100_000, 10_000), batch=args.batch_size, clients=args.clients,
                   rounds=pick(args.rounds, 3, 3), single_events=pick(args.single_events, 6_000, 1_000),
                   single_batch=args.single_batch, tree=pick(args.proof_leaves, 10_000_000, 100_000),
                   tree_events=pick(None, 30_000, min(5_000, max(2 * args.batch_size,
                                                                 (args.batch_events or 10_000) // 2))),
                   tree_rounds=pick(None, 2, 1),
                   permits=pick(None, 200, 20), proof_requests=pick(None, 1000, 200), profile=args.profile,
                   out=args.out or OUT)


class OurServer:
    """Our service on a data directory (fresh unless given), with the bench tenant and detector set up."""

    def __init__(self, data_dir: Path, key: SM2PrivateKey, *, fresh: bool = True) -> None:
        self.data_dir, self.port = data_dir, intake._port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process = intake.start_server(data_dir, self.port, profile=False)
        if fresh:
            self.token, self.actor = intake.setup(self.base, key)

    def send(self, bodies: list[bytes], clients: int) -> tuple[float, list[tuple[float, int]]]:
        """Send ``bodies``; seconds and the (ack time, tree size covered) of each request."""
        return intake.send(self.base, self.token, bodies, clients)

    def stop(self) -> None:
        """SIGINT and wait (a clean shutdown: SQLite folds its WAL back into the database)."""
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=120)


def disk_bytes(path: Path) -> int:
    """Allocated bytes (as du counts) of every file under ``path``."""
    return sum(p.stat().st_blocks * 512 for p in path.rglob("*") if p.is_file())


def leaf_size(base: str, token: str, bodies: list[bytes]) -> int:
    """Bytes of the canonical leaf (what the log hashes) of the last event sent, from its bundle."""
    event_id = orjson.loads(bodies[-1])["events"][-1]["event"]["event_id"]
    with ApiClient.connect(base, token) as client:
        return len(canonical(client.bundle(event_id).document["event"]))


def event_size(data_dir: Path, leaf: int) -> tuple[int, str]:
    """What one event is, as immudb's value: its canonical leaf + sealed payload + wrapped data key (the
    latter two as stored, mean), whatever layout our storage keeps them in."""
    try:
        with sqlite3.connect(data_dir / "tiezheng.db") as conn:
            row = conn.execute("SELECT avg(length(payload_sealed) + length(payload_key)) FROM events").fetchone()
        if row and row[0]:
            return leaf + round(row[0]), f"canonical leaf {leaf} + sealed payload and wrapped key {round(row[0])}"
    except sqlite3.Error:
        pass
    return leaf, "canonical leaf only (no payload columns found)"


def lags(watch: intake.CheckpointWatch, acks: list[tuple[float, int]], deadline: float = 15.0) -> list[float]:
    """Seconds from each ack to the first polled checkpoint covering it (waits for the last one)."""
    last = max(size for _, size in acks)
    until = time.monotonic() + deadline
    while watch.covered_at(last) is None and time.monotonic() < until:
        time.sleep(0.05)
    watch.stop.set()
    return sorted(c - t for t, size in acks if (c := watch.covered_at(size)) is not None)


def our_batch_round(plan: Plan, key: SM2PrivateKey, warm: list[bytes], bodies: list[bytes],
                    spy_out: Path | None = None) -> dict[str, Any]:
    """One fresh server: warm-up, the timed batch intake with the checkpoint watched, bytes on disk."""
    from bench.spy import Spy

    with tempfile.TemporaryDirectory() as tmp:
        server = OurServer(Path(tmp), key)
        try:
            server.send(warm, min(plan.clients, len(warm)))
            watch = intake.CheckpointWatch(server.base)
            watch.thread.start()
            spy = Spy(server.process.pid, spy_out).start() if spy_out else None
            seconds, acks = server.send(bodies, plan.clients)
            profile = spy.stop() if spy else None
            lag = lags(watch, acks)
            leaf = leaf_size(server.base, server.token, bodies)
        finally:
            server.stop()
        value, what = event_size(Path(tmp), leaf)
        stored = plan.events + plan.batch * len(warm)
        return {"rate": plan.events / seconds, "seconds": seconds, "lag": lag, "value_size": value,
                "value_what": what, "bytes_per_event": disk_bytes(Path(tmp)) / stored, "profile": profile}


def batch_phase(plan: Plan, key: SM2PrivateKey, node: ImmudbNode) -> None:
    """Alternating rounds, ours then immudb; the paired ratios."""
    actor = intake.bench_actor(key)
    print(f"preparing {plan.events:,} batch-signed events ({plan.batch}/request)… {load_line()}", flush=True)
    warm, bodies = intake.batch_bodies(actor, 2 * plan.batch, plan.batch), intake.batch_bodies(actor, plan.events, plan.batch)
    value_size = 0
    for n in range(1, plan.rounds + 1):
        ours = our_batch_round(plan, key, warm, bodies)
        value_size = value_size or ours["value_size"]
        verified = node.write(f"v{n}", entries=plan.events, batch=plan.batch, clients=plan.clients, value_size=value_size)
        plain = node.write(f"p{n}", entries=plan.events, batch=plan.batch, clients=plan.clients,
                           value_size=value_size, verify=False)
        plan.fig.add_batch_round(ours, verified, plain)
        print(f"  round {n}: ours {ours['rate']:,.0f} ev/s, immudb verified {verified['entries_per_s']:,.0f}/s, "
              f"immudb SetAll {plain['entries_per_s']:,.0f}/s  {load_line()}", flush=True)
    plan.fig.value_size, plan.fig.value_what = value_size, ours["value_what"]
    if plan.profile:
        out = plan.out / "intake.spy.txt"
        print(f"profiling one more round of ours with py-spy (not counted; raw stacks in {out})…", flush=True)
        plan.fig.profile = our_batch_round(plan, key, warm, bodies, spy_out=out)["profile"]


def sm2_verify_rate(seconds: float = 1.0) -> float:
    """SM2 verifications per second on one core, with the service's own primitive on an event's claim."""
    key = SM2PrivateKey.generate()
    message = canonical(intake._items(intake.bench_actor(key), 0, 1)[0]["event"])
    signature, public, count = key.sign(message), key.public, 0
    until = time.perf_counter() + seconds
    started = time.perf_counter()
    while time.perf_counter() < until:
        public.verify(message, signature)
        count += 1
    return count / (time.perf_counter() - started)


def single_phase(plan: Plan, key: SM2PrivateKey) -> None:
    """Individually signed intake (fresh server per round) against the bound measured around it."""
    workers = os.cpu_count() or 1
    print(f"signing {plan.single_events:,} events one by one (≈2 ms each)… {load_line()}", flush=True)
    bodies = intake.single_bodies(intake.bench_actor(key), plan.single_events, plan.single_batch)
    for n in range(1, plan.rounds + 1):
        before = sm2_verify_rate()
        with tempfile.TemporaryDirectory() as tmp:
            server = OurServer(Path(tmp), key)
            try:
                server.send(bodies[:workers], workers)  # every worker spawned before the clock starts
                seconds, _ = server.send(bodies[workers:], plan.clients)
            finally:
                server.stop()
        bound = statistics.mean([before, sm2_verify_rate()]) * workers
        rate = sum(len(orjson.loads(b)["events"]) for b in bodies[workers:]) / seconds
        plan.fig.single.append((rate, bound))
        print(f"  round {n}: {rate:,.0f} ev/s against the bound {bound:,.0f}/s ({workers} workers)  {load_line()}",
              flush=True)


def tree_phase(plan: Plan, key: SM2PrivateKey) -> None:
    """Proof latency at a large tree, then intake on it against an empty log, alternating."""
    actor = intake.bench_actor(key)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'tiezheng.db'}"
        migrate(url)
        print(f"filling a tree of {plan.tree:,} leaves (node store only)… {load_line()}", flush=True)
        started = time.monotonic()
        proofs.fill(url, plan.tree, quiet=True)
        plan.fig.tree, plan.fig.tree_fill_s = plan.tree, time.monotonic() - started
        plan.fig.proof_local = proofs.local_proofs(url, plan.tree, plan.proof_requests)
        large = OurServer(Path(tmp), key)
        try:
            plan.fig.proof_http = proofs.http_proofs(large.base, plan.tree, plan.proof_requests)
        finally:
            large.stop()
        warm, token = intake.batch_bodies(actor, 2 * plan.batch, plan.batch), large.token
        for n in range(1, plan.tree_rounds + 1):
            bodies = intake.batch_bodies(actor, plan.tree_events, plan.batch)
            with tempfile.TemporaryDirectory() as empty_dir:
                empty = OurServer(Path(empty_dir), key)
                try:
                    empty.send(warm, 2)
                    empty_s, _ = empty.send(bodies, plan.clients)
                finally:
                    empty.stop()
            large = OurServer(Path(tmp), key, fresh=False)  # the same large log each round
            try:
                large.token = token
                large.send(intake.batch_bodies(actor, 2 * plan.batch, plan.batch), 2)
                large_s, _ = large.send(bodies, plan.clients)
            finally:
                large.stop()
            plan.fig.tree_rounds.append((plan.tree_events / large_s, plan.tree_events / empty_s))
            print(f"  round {n}: {plan.tree_events / large_s:,.0f} ev/s at {plan.tree:,} leaves, "
                  f"{plan.tree_events / empty_s:,.0f} on an empty log  {load_line()}", flush=True)


def permits_phase(plan: Plan) -> None:
    """bench/permits.py with 4 clients: every action's latencies and the plain signed event's."""
    from bench import permits

    print(f"permits: {plan.permits} permits draft → active, 4 clients… {load_line()}", flush=True)
    plan.fig.permits = permits.run(argparse.Namespace(permits=plan.permits, clients=4))


def run_compare(args: argparse.Namespace) -> None:
    """All phases, then the table (and bench/out/intake-immudb.json)."""
    plan = Plan.from_args(args)
    plan.fig.start_load = load_line()
    key = SM2PrivateKey.generate()
    with tempfile.TemporaryDirectory() as state:
        print(f"building/starting immudb (network/nodes/immudb.sh; ≈80 s when not cached)… {load_line()}", flush=True)
        node = ImmudbNode.fresh(Path(state)).up()
        try:
            batch_phase(plan, key, node)
            plan.fig.immudb_bytes = [r["bytes_on_disk"] / r["entries"] for r in plan.fig.immudb_rounds]
        finally:
            node.down()
    single_phase(plan, key)
    tree_phase(plan, key)
    permits_phase(plan)
    plan.fig.end_load = load_line()
    print_table(plan)
    plan.out.mkdir(parents=True, exist_ok=True)
    (plan.out / "intake-immudb.json").write_text(json.dumps(plan.fig.summary(plan), indent=1, default=str))
    print(f"figures also in {plan.out / 'intake-immudb.json'}")
