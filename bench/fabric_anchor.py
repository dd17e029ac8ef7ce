"""Fabric anchoring benchmark against a running network: anchor latency from checkpoint cut to committed block
(p50/p99) at full intake, anchors per second, and the catch-up time after every orderer was stopped.

Run (the network up: tiezheng network up):
    .venv/bin/python bench/fabric_anchor.py [--profile .tiezheng/services/fabric/network.json] [--seconds 20]
        [--outage 5]   (seconds every orderer is stopped; --outage 600 for the issue's ten minutes; 0: none)

A log on SQLite (checkpoints every 0.5 s, the service's default) takes events as fast as it can on one
thread; the anchorer runs a round every 0.1 s. "cut → committed" is measured per anchored checkpoint (from
when it was first seen cut, polled every 10 ms, to when its block's validation code came back);
"cut → covered" for every cut checkpoint (until an anchor of a tree at least as large committed). The same
run on the local journal is the baseline. The outage stops the network's orderers with its own scripts.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from evidence_api.db import migrate
from ingest.signing import Actor, new_item, sign_item
from ledger.anchors.anchorer import Anchorer
from ledger.anchors.base import Anchor, AnchorReceipt, PendingAnchor
from ledger.anchors.fabric import FabricAnchor
from ledger.anchors.local import LocalJournal
from ledger.clock import Clock
from ledger.database import make_engine
from ledger.fabric.profile import FabricProfile
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.helpers import prepared

ROOT = Path(__file__).resolve().parents[1]


class Timed:
    """An ``Anchor`` wrapper that records when each tree size's receipt came back."""

    def __init__(self, inner: Anchor) -> None:
        self.inner, self.name = inner, inner.name
        self.committed: dict[int, float] = {}

    def prepare(self, request: Any) -> PendingAnchor:
        return self.inner.prepare(request)

    def submit(self, pending: PendingAnchor) -> None:
        self.inner.submit(pending)

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        receipt = self.inner.status(pending)
        if receipt is not None:
            self.committed[receipt.tree_size] = time.monotonic()
        return receipt

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        return self.inner.recover(after_tree_size)


class Load:
    """Full intake on one thread (batches of ``batch``) and a 10 ms poll of the checkpoints cut."""

    def __init__(self, log: TransparencyLog, batch: int) -> None:
        self.log, self.batch, self.events = log, batch, 0
        self.cut: dict[int, float] = {}
        self.actor = Actor("device", "bench-detector", "bench-detector#1", Signer.from_private_key(SM2PrivateKey.generate()))
        self.stop = threading.Event()
        self._threads = [threading.Thread(target=self._intake, daemon=True), threading.Thread(target=self._poll, daemon=True)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(30)

    def _intake(self) -> None:
        while not self.stop.is_set():
            items = [sign_item(self.actor, new_item(self.actor, tenant="bench", kind="detector.reading",
                                                    payload={"lel": i}, occurred_at="2026-12-01T08:00:00Z",
                                                    subject={"permit": "P-1"})) for i in range(self.batch)]
            self.events += len(self.log.submit(Submission([prepared(item) for item in items])))

    def _poll(self) -> None:
        while not self.stop.wait(0.01):
            latest = self.log.latest_checkpoint()
            if latest is not None:
                self.cut.setdefault(latest.checkpoint.tree_size, time.monotonic())


def _percentiles(values: list[float]) -> str:
    if len(values) < 2:
        return "n/a (fewer than 2 samples)"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms (n={len(values)})"


def _covered(load: Load, timed: Timed) -> list[float]:
    done = sorted(timed.committed.items())
    spans = []
    for size, at in load.cut.items():
        later = [t for s, t in done if s >= size and t >= at]
        if later:
            spans.append(min(later) - at)
    return spans


def _run(make: Any, seconds: float, batch: int, outage: float, network: dict[str, Any] | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        migrate(url)
        engine = make_engine(url)
        log = TransparencyLog(engine, origin=f"tiezheng.bench/{uuid.uuid4().hex[:12]}",
                              signer=Signer.from_private_key(SM2PrivateKey.generate()), checkpoint_interval=0.5)
        log.start()
        timed = Timed(make(log, Path(tmp)))
        anchorer = Anchorer(log, [timed], interval=0.1, max_backoff=2.0)
        load = Load(log, batch)
        anchorer.start()
        load.start()
        started = time.monotonic()
        time.sleep(seconds)
        steady = time.monotonic() - started
        anchors = len(timed.committed)
        latencies = [timed.committed[s] - load.cut[s] for s in timed.committed if s in load.cut]
        print(f"  {timed.name}: {load.events / steady:.0f} events/s in, {anchors / steady:.2f} anchors/s; "
              f"cut → committed {_percentiles(latencies)}; cut → covered {_percentiles(_covered(load, timed))}")
        if outage and network is not None:
            _outage(network, outage, log, timed)
        load.finish()
        anchorer.close()
        log.close()
        engine.dispose()


def _outage(network: dict[str, Any], outage: float, log: TransparencyLog, timed: Timed) -> None:
    repo = Path(network["bin"]).parents[2]
    repo = repo if (repo / "network/fabric/up.sh").exists() else ROOT
    env = {**os.environ, **_settings(Path(network["data_dir"]) / "fabric.env"),
           "TIEZHENG_FABRIC_DATA": network["data_dir"]}
    script = repo / "network/fabric"
    subprocess.run(["bash", str(script / "down.sh"), "orderer0", "orderer1", "orderer2"], env=env, check=True,
                   capture_output=True)
    print(f"  every orderer stopped for {outage:.0f} s (intake goes on)")
    time.sleep(outage)
    backlog, restarted = log.tree_size, time.monotonic()
    up = subprocess.Popen(["bash", str(script / "up.sh")], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
    up_done: float | None = None
    while not any(s >= backlog for s in timed.committed):
        if up_done is None and up.poll() is not None:
            up_done = time.monotonic() - restarted
        if time.monotonic() - restarted > 600:
            print("  no catch-up within 600 s")
            break
        time.sleep(0.05)
    caught_up = time.monotonic() - restarted
    up.wait()
    up_done = up_done if up_done is not None else time.monotonic() - restarted
    print(f"  catch-up: {caught_up:.1f} s from the restart until a tree of at least the {backlog} events logged "
          f"by then was anchored (up.sh itself took {up_done:.1f} s: it checks the whole network)")


def _settings(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line[len("export "):].split("=", 1) for line in path.read_text().splitlines() if line.startswith("export "))
    return {name: (shlex.split(value) or [""])[0] for name, value in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--profile", type=Path, default=Path(os.environ.get(
        "TIEZHENG_FABRIC_PROFILE", ROOT / ".tiezheng/services/fabric/network.json")))
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--outage", type=float, default=5.0)
    args = parser.parse_args()
    logging.getLogger("ledger.anchors.anchorer").setLevel(logging.ERROR)  # the outage's retries are expected
    network = json.loads(args.profile.read_text())
    profile = FabricProfile.from_file(args.profile)
    print(f"fabric anchoring, {args.seconds:.0f} s at full intake (batches of {args.batch}); network {args.profile}")

    def fabric(log: TransparencyLog, _: Path) -> Anchor:
        return FabricAnchor(profile.client(clock=Clock()), origin=log.origin, log_key_pem=log.signer.public.to_pem(),
                            status_wait=1.0)

    def local(log: TransparencyLog, tmp: Path) -> Anchor:
        return LocalJournal(tmp / "journal.jsonl", signer=log.signer)

    _run(fabric, args.seconds, args.batch, args.outage, network)
    print("baseline:")
    _run(local, args.seconds / 2, args.batch, 0, None)


if __name__ == "__main__":
    main()
