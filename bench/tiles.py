"""Hash tiles (C2SP tlog-tiles, ``/v1/log/tlog/tile/…``) at a large tree (default one million leaves): the server's
cost per tile in-process and over real HTTP, beside an inclusion proof (the dynamic read a tile replaces) and a
404 tile (the HTTP stack's floor), and what a client pays to prove a leaf from tiles alone.

In-process is ``evidence_api.routes.tiles.tile_body`` (what the route runs: parse, checkpoint, one range read)
for random full tiles of each level and the partial ones. HTTP: one keep-alive client, random tiles, server CPU
per request from /proc (steadier than latency on a shared machine), rounds alternating tiles / proofs / 404s.
Client: ``verifier.tiles.TiledTree.verify_inclusion`` over HTTP, cold (a new tree each time: every tile fetched
and checked). The tree is the synthetic fill of ``bench.proofs``. Run: .venv/bin/python -m bench.tiles [leaves]
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from bench.intake import _port, start_server
from bench.proofs import fill, percentiles, process_cpu
from evidence_api.db import migrate
from evidence_api.routes.tiles import tile_body
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from ledger.storage import make_engine
from ledger.tiles import Tile, partial_tiles
from verifier.checkpoint import Checkpoint
from verifier.tiles import TiledTree

PREFIX = "/v1/log/tlog/"


def sample_tiles(leaves: int, count: int, level: int) -> list[str]:
    """``count`` random full tiles of ``level`` in a tree of ``leaves`` (fewer if the level has fewer)."""
    full = leaves >> (8 * (level + 1))
    return [Tile(level, index).path for index in random.choices(range(full), k=count)] if full else []


def local_tiles(log: TransparencyLog, paths: list[str]) -> tuple[list[float], float]:
    """Seconds per ``tile_body`` for each path, and CPU µs per tile."""
    samples, cpu = [], time.thread_time()
    for path in paths:
        started = time.perf_counter()
        tile_body(log, path)
        samples.append(time.perf_counter() - started)
    return samples, (time.thread_time() - cpu) / len(paths) * 1e6


def http_round(client: httpx.Client, pid: int, urls: list[str], status: int) -> tuple[list[float], float]:
    """Seconds per GET of each url (each must answer ``status``) and the server's CPU µs per request."""
    samples, cpu = [], process_cpu(pid)
    for url in urls:
        started = time.perf_counter()
        resp = client.get(url)
        samples.append(time.perf_counter() - started)
        if resp.status_code != status:
            raise RuntimeError(f"GET {url}: {resp.status_code} {resp.text[:200]}")
    return samples, (process_cpu(pid) - cpu) / len(urls) * 1e6


def client_proofs(client: httpx.Client, leaves: int, count: int) -> tuple[list[float], float, float]:
    """Seconds per cold inclusion check from tiles, tiles fetched per check, client CPU ms per check."""
    checkpoint = Checkpoint.from_text(client.get(PREFIX + "checkpoint").text)

    def fetch(path: str) -> bytes:
        resp = client.get(PREFIX + path)
        resp.raise_for_status()
        return resp.content

    samples, fetched, cpu = [], 0, time.process_time()
    for index in random.sample(range(leaves), count):
        counting = _Counting(fetch)
        started = time.perf_counter()
        tree = TiledTree(checkpoint.tree_size, checkpoint.root_hash, counting)
        tree.verify_inclusion(index, tree.node(0, index))
        samples.append(time.perf_counter() - started)
        fetched += counting.calls
    return samples, fetched / count, (time.process_time() - cpu) / count * 1e3


class _Counting:
    def __init__(self, fetch: Callable[[str], bytes]) -> None:
        self.fetch, self.calls = fetch, 0

    def __call__(self, path: str) -> bytes:
        self.calls += 1
        return self.fetch(path)


def run(leaves: int, requests: int, rounds: int, keep: Path | None = None) -> None:
    """Fill (or reuse ``keep``, a folder a previous run filled), then print in-process and HTTP figures per
    tile, and the client's cost per proof from tiles."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{folder / 'tiezheng.db'}"
        if not (folder / "filled").exists():
            migrate(url)
            print(f"filling a tree of {leaves:,} leaves…", flush=True)
            fill(url, leaves, quiet=True)
            (folder / "filled").write_text(str(leaves))
        elif int((folder / "filled").read_text()) != leaves:
            raise SystemExit(f"{folder} holds a tree of {(folder / 'filled').read_text()} leaves, not {leaves:,}")
        engine = make_engine(url)
        log = TransparencyLog(engine, origin="bench.tiezheng/log", signer=Signer.from_private_key(SM2PrivateKey.generate()))
        if log.latest_checkpoint() is None:
            log.cut_checkpoint()
        kinds = {f"level {lv}": sample_tiles(leaves, requests, lv) for lv in range(3)}
        kinds["partial"] = [t.path for t in partial_tiles(leaves)] * max(1, requests // 8)
        for name, paths in kinds.items():
            if paths:
                samples, cpu = local_tiles(log, paths)
                print(f"in-process tile, {name}: {percentiles(samples)}, CPU {cpu:.0f} µs/tile; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        engine.dispose()
        port = _port()
        server = start_server(folder, port, profile=False)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                _http(client, server.pid, leaves, requests, rounds, kinds["level 0"])
                samples, tiles, cpu = client_proofs(client, leaves, min(requests, 100))
                print(f"client, inclusion from tiles (cold, verified, HTTP): {percentiles(samples)}, {tiles:.1f} tiles "
                      f"and {cpu:.1f} ms CPU per proof; load {os.getloadavg()[0]:.1f}", flush=True)
        finally:
            server.terminate()
            server.wait(timeout=60)


def _http(client: httpx.Client, pid: int, leaves: int, requests: int, rounds: int, level0: list[str]) -> None:
    """Alternate rounds of tile GETs, inclusion-proof GETs and 404 tile GETs; print each round's figures."""
    missing = Tile(0, (leaves >> 8) + 1).path
    for number in range(1, rounds + 1):
        figures = {
            "tile (level 0, full)": http_round(client, pid, [PREFIX + p for p in level0], 200),
            "inclusion proof": http_round(client, pid, [
                f"/v1/log/proofs/inclusion?leaf_index={i}&tree_size={leaves}"
                for i in random.choices(range(leaves), k=requests)], 200),
            "tile 404 (floor)": http_round(client, pid, [PREFIX + missing] * requests, 404),
        }
        for name, (samples, cpu) in figures.items():
            print(f"round {number}, HTTP {name}: {percentiles(samples)}, server CPU {cpu:.0f} µs/request", flush=True)
        tile_cpu, proof_cpu = figures["tile (level 0, full)"][1], figures["inclusion proof"][1]
        print(f"round {number}: server CPU tile ÷ proof {tile_cpu / proof_cpu:.2f}; load {os.getloadavg()[0]:.1f}",
              flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("leaves", type=int, nargs="?", default=1_000_000)
    parser.add_argument("--requests", type=int, default=300, help="requests per kind and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="fill this folder once and reuse it in later runs")
    args = parser.parse_args()
    run(args.leaves, args.requests, args.rounds, args.keep)
