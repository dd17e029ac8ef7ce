"""Inclusion-proof latency at a large tree (default one million leaves), in-process and over real HTTP.

In-process is ``TransparencyLog.prove_inclusion`` (what the route serves: leaf hash, root, audit path); HTTP is
``GET /v1/log/proofs/inclusion`` through the typed client, one keep-alive connection, random leaves, every
answer verified (outside the timing). p99 is over all requests (no warm-up dropped).

The tree is filled straight into the store (synthetic leaf hashes in minimal ``events`` rows, and the stored
Merkle nodes of level 4 and up), which is all a proof reads; then a real server is started on that database. Run: .venv/bin/python -m bench.proofs [leaves]
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

from bench.intake import _port, start_server
from evidence_api.db import migrate
from ingest.client import ApiClient
from ledger import storage as db
from ledger.idindex import index_all
from ledger.log import TransparencyLog
from ledger.merkle import Frontier
from ledger.sm import Signer, SM2PrivateKey, sm3
from ledger.storage import make_engine
from verifier.merkle import verify_inclusion


def fill(url: str, leaves: int, chunk: int = 100_000, *, quiet: bool = False) -> None:
    """Synthetic leaf hashes into minimal ``events`` rows, the stored nodes (level >= 4) and the tree size."""
    engine = make_engine(url)
    frontier = Frontier()
    start = time.monotonic()
    for first in range(0, leaves, chunk):
        created = frontier.append(sm3(i.to_bytes(8, "big")) for i in range(first, min(leaves, first + chunk)))
        with engine.begin() as conn:
            db.insert_rows(conn, db.events, [_event_row(n[1], h) for n, h in created if n[0] == 0])
            db.insert_rows(conn, db.merkle_nodes, [(db.node_key(n), h) for n, h in created if n[0] >= db.STORED_LEVEL])
            conn.execute(db.log_state.delete())
            conn.execute(db.log_state.insert().values(id=1, tree_size=frontier.size))
        if not quiet or frontier.size % (10 * chunk) == 0 or frontier.size == leaves:
            print(f"  filled {frontier.size:,} leaves ({time.monotonic() - start:.0f} s)", flush=True)
    with engine.begin() as conn:  # the synthetic events carry no payload: the service's projector skips them
        conn.execute(text("UPDATE projection_cursors SET leaf_index = :last WHERE name = 'main'"), {"last": leaves - 1})
        index_all(conn)  # their ids in one run of the id index, as migration 0012 leaves an existing log
    engine.dispose()


def _event_row(index: int, leaf_hash: bytes) -> tuple[object, ...]:
    """A minimal ``events`` row holding ``leaf_hash`` (what a proof reads of an event)."""
    return (index, f"{index:036d}", "bench", "bench.synthetic", None, "k", leaf_hash, leaf_hash, b"{}", b"", b"",
            None, "2026-12-01T00:00:00.000Z", "", db.event_key("bench", f"{index:036d}"))


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    return (f"p50 {statistics.median(samples) * 1e3:.2f} ms, p99 {samples[int(len(samples) * 0.99) - 1] * 1e3:.2f} ms, "
            f"max {samples[-1] * 1e3:.2f} ms")


def local_proofs(url: str, leaves: int, requests: int) -> list[float]:
    """Seconds per ``TransparencyLog.prove_inclusion`` (leaf hash, root and audit path: what the HTTP route
    serves) on a log opened on ``url``, random leaves; the first proof also reads the top of the tree."""
    engine = make_engine(url)
    log = TransparencyLog(engine, origin="bench.tiezheng/log", signer=Signer.from_private_key(SM2PrivateKey.generate()))
    samples = []
    try:
        for index in random.sample(range(leaves), min(requests, leaves)):
            started = time.perf_counter()
            log.prove_inclusion(index, leaves)
            samples.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return samples


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used so far (Linux ``/proc``; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def http_proofs(base: str, leaves: int, requests: int) -> list[float]:
    """Seconds per ``GET /v1/log/proofs/inclusion`` (one client, keep-alive), each proof verified."""
    samples = []
    with ApiClient.connect(base) as client:
        for index in random.sample(range(leaves), min(requests, leaves)):
            started = time.perf_counter()
            proof = client.inclusion_proof(index, leaves)
            samples.append(time.perf_counter() - started)
            verify_inclusion(index, leaves, proof.leaf_hash, list(proof.proof), proof.root_hash)
    return samples


def run_proofs(leaves: int, requests: int = 1000) -> dict[str, list[float]]:
    """Fill a tree of ``leaves``, print the proof latencies in-process and over HTTP (with the server's CPU
    per request, which the machine's load disturbs less than latency); returns the samples."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'tiezheng.db'}"
        migrate(url)
        print(f"filling a tree of {leaves:,} leaves…", flush=True)
        fill(url, leaves)
        cpu = time.thread_time()
        local = local_proofs(url, leaves, requests)
        print(f"inclusion proof at {leaves:,} leaves, in-process: {percentiles(local)}, "
              f"CPU {(time.thread_time() - cpu) / len(local) * 1e6:.0f} µs/proof; load {os.getloadavg()[0]:.1f}")
        port = _port()
        server = start_server(Path(tmp), port, profile=False)
        try:
            cpu = process_cpu(server.pid)
            remote = http_proofs(f"http://127.0.0.1:{port}", leaves, requests)
            print(f"inclusion proof at {leaves:,} leaves, HTTP GET (verified): {percentiles(remote)}, server CPU "
                  f"{(process_cpu(server.pid) - cpu) / len(remote) * 1e6:.0f} µs/request; load {os.getloadavg()[0]:.1f}")
        finally:
            server.terminate()
            server.wait(timeout=60)
    return {"local": local, "http": remote}


if __name__ == "__main__":
    run_proofs(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
