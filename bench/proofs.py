"""Inclusion-proof latency at a large tree (default one million leaves), in-process and over real HTTP.

The tree is filled straight into the node store (synthetic leaf hashes, no events), which is all a proof
reads; then a real server is started on that database. Run: .venv/bin/python -m bench.proofs [leaves]
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.intake import _port, start_server
from evidence_api.db import migrate
from ingest.client import ApiClient
from ledger import storage as db
from ledger.merkle import Frontier, inclusion_proof
from ledger.sm import sm3
from ledger.storage import make_engine
from verifier.merkle import verify_inclusion


def fill(url: str, leaves: int, chunk: int = 100_000, *, quiet: bool = False) -> None:
    """Synthetic leaf hashes into the node store and the tree size into the log state (no events)."""
    engine = make_engine(url)
    frontier = Frontier()
    start = time.monotonic()
    for first in range(0, leaves, chunk):
        created = frontier.append(sm3(i.to_bytes(8, "big")) for i in range(first, min(leaves, first + chunk)))
        with engine.begin() as conn:
            db.insert_rows(conn, db.merkle_nodes, [(db.node_key(n), h) for n, h in created])
            conn.execute(db.log_state.delete())
            conn.execute(db.log_state.insert().values(id=1, tree_size=frontier.size))
        if not quiet or frontier.size % (10 * chunk) == 0 or frontier.size == leaves:
            print(f"  filled {frontier.size:,} leaves ({time.monotonic() - start:.0f} s)", flush=True)
    engine.dispose()


def percentiles(samples: list[float]) -> str:
    samples = sorted(samples)
    return (f"p50 {statistics.median(samples) * 1e3:.2f} ms, p99 {samples[int(len(samples) * 0.99) - 1] * 1e3:.2f} ms, "
            f"max {samples[-1] * 1e3:.2f} ms")


def local_proofs(url: str, leaves: int, requests: int) -> list[float]:
    """Seconds per inclusion proof computed in-process (node store reads + hashing), random leaves."""
    engine = make_engine(url)
    samples = []
    try:
        for index in random.sample(range(leaves), min(requests, leaves)):
            started = time.perf_counter()
            with engine.connect() as conn:
                inclusion_proof(db.SqlNodeStore(conn), index, leaves)
            samples.append(time.perf_counter() - started)
    finally:
        engine.dispose()
    return samples


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
    """Fill a tree of ``leaves``, print the proof latencies in-process and over HTTP; returns the samples."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'tiezheng.db'}"
        migrate(url)
        print(f"filling a tree of {leaves:,} leaves…", flush=True)
        fill(url, leaves)
        local = local_proofs(url, leaves, requests)
        print(f"inclusion proof at {leaves:,} leaves, in-process: {percentiles(local)}")
        port = _port()
        server = start_server(Path(tmp), port, profile=False)
        try:
            remote = http_proofs(f"http://127.0.0.1:{port}", leaves, requests)
            print(f"inclusion proof at {leaves:,} leaves, HTTP GET (verified): {percentiles(remote)}")
        finally:
            server.terminate()
            server.wait(timeout=60)
    return {"local": local, "http": remote}


if __name__ == "__main__":
    run_proofs(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
