"""EVM anchoring latency on anvil at full intake: the service anchors to the registry while batches of
events arrive over HTTP as fast as it takes them.

Two figures, p50 / p99 / max:
- service: pending row → anchored row of the ``evm`` backend in the anchors table (prepare, send, mined,
  receipt and block evidence read; includes the anchorer's polling interval when a block is not mined at once);
- raw: ``eth_sendRawTransaction`` → receipt available, for registry writes of a second origin sent by this
  benchmark every 0.2 s during the same intake (polling the receipt every 5 ms);
- registry digest: a daily digest's hash through the staged recorder the digest job uses
  (``DigestRecorder``: sign → send → mined → receipt and block evidence read, ``recorded``), every 0.5 s
  during the same intake, by a third operator account (the job adds at most its polling interval).

Run: .venv/bin/python -m bench.evm_anchor [--events 40000] [--block-time SECONDS] [--anchor-interval 0.2]
Needs contracts/install.sh (anvil and solc-js). Starts its own anvil and service; stops both.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from eth_account import Account

import ledger.evm  # noqa: F401  (web3 imported with the recursion limit kept)
from bench.intake import _port, batch_bodies, send, setup, start_server
from ledger.evm import DigestRecorder, OperatorKey, Registry, Transactor, origin_hash, tenant_hash
from ledger.evm.artifact import Artifact
from ledger.evm.registry import connect
from ledger.sm import SM2PrivateKey

ROOT = Path(__file__).resolve().parent.parent


def _anvil(state: Path, port: int, block_time: float | None, action: str) -> None:
    env = {**os.environ, "TIEZHENG_STATE": str(state), "ANVIL_PORT": str(port),
           "ANVIL_BLOCK_TIME": "" if block_time is None else str(block_time)}
    subprocess.run(["bash", str(ROOT / "network" / "nodes" / "anvil.sh"), action], env=env, check=True,
                   capture_output=True)


def _funded_key(url: str, path: Path) -> OperatorKey:
    account = Account.create()
    connect(url).provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    path.touch(mode=0o600)
    path.write_text(account.key.hex())
    return OperatorKey.from_file(path)


def _percentiles(name: str, values: list[float]) -> str:
    if not values:
        return f"{name}: no samples"
    values = sorted(values)
    p99 = values[max(0, int(len(values) * 0.99) - 1)]
    return (f"{name}: p50 {statistics.median(values) * 1e3:.0f} ms, p99 {p99 * 1e3:.0f} ms, "
            f"max {values[-1] * 1e3:.0f} ms ({len(values)} anchors)")


class RawWriter:
    """Sends a registry write of its own origin every ``period`` seconds and times send → receipt."""

    def __init__(self, registry: Registry, key: OperatorKey, period: float = 0.2) -> None:
        self.transactor, self.period = Transactor(registry, key), period
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        size, origin = 0, origin_hash("bench.tiezheng/raw")
        registry = self.transactor.registry
        while not self.stop.wait(self.period):
            size += 1
            tx = registry.sign_anchor(self.transactor.key, origin, size, size.to_bytes(32, "big"),
                                      nonce=self.transactor.next_nonce())
            started = time.monotonic()
            self.transactor.send(tx)
            while registry.receipt(tx.tx_hash) is None:
                time.sleep(0.005)
            self.latencies.append(time.monotonic() - started)


class DigestWriter(RawWriter):
    """Records a digest hash of a new day every ``period`` seconds and times prepare → recorded."""

    def _run(self) -> None:
        recorder, n = DigestRecorder(self.transactor), 0
        while not self.stop.wait(self.period):
            n += 1
            started = time.monotonic()
            pending = recorder.prepare(tenant_hash("bench-plant"), date(2000, 1, 1) + timedelta(days=n),
                                       n.to_bytes(32, "big"))
            recorder.submit(pending)
            while recorder.status(pending) is None:
                time.sleep(0.005)
            self.latencies.append(time.monotonic() - started)


def _service_latencies(database: Path) -> list[float]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT created_at, updated_at FROM anchors WHERE backend = 'evm' AND status = 'anchored'")
        return [(_instant(updated) - _instant(created)) for created, updated in rows]


def _instant(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work, anvil_port, port = Path(tmp), _port(), _port()
        url, base = f"http://127.0.0.1:{anvil_port}", f"http://127.0.0.1:{port}"
        _anvil(work / "state", anvil_port, args.block_time, "up")
        try:
            subprocess.run(["node", str(ROOT / "contracts" / "build.mjs"), str(work / "build")], check=True,
                           capture_output=True)
            service_key = _funded_key(url, work / "service.key")
            registry, deployed = Registry.deploy(url, service_key, bytecode=Artifact.load(
                work / "build" / "EvidenceRegistry.json").bytecode,
                operators=[service_key.address, (raw_key := _funded_key(url, work / "raw.key")).address,
                           (digest_key := _funded_key(url, work / "digest.key")).address])
            os.environ.update({"TIEZHENG_ANCHOR_BACKENDS": "local,evm", "TIEZHENG_EVM_RPC_URL": url,
                               "TIEZHENG_EVM_CONTRACT": deployed.contract,
                               "TIEZHENG_EVM_OPERATOR_KEY": str(work / "service.key"),
                               "TIEZHENG_ANCHOR_INTERVAL": str(args.anchor_interval)})
            server = start_server(work / "data", port, False)
            try:
                token, actor = setup(base, SM2PrivateKey.generate())
                bodies = batch_bodies(actor, args.events, 500)
                raw, digests = RawWriter(registry, raw_key), DigestWriter(registry, digest_key, period=0.5)
                raw.thread.start()
                digests.thread.start()
                elapsed, _ = send(base, token, bodies, 8)
                for writer in (raw, digests):
                    writer.stop.set()
                    writer.thread.join()
                time.sleep(2 * args.anchor_interval + (args.block_time or 0))  # the last round
            finally:
                server.send_signal(signal.SIGINT)
                server.wait(timeout=60)
            mode = f"block time {args.block_time} s" if args.block_time else "automine (a block per transaction)"
            print(f"anvil {mode}; intake {args.events / elapsed:,.0f} events/s over {elapsed:.1f} s "
                  f"(batch-signed, 500/request, 8 clients); anchor interval {args.anchor_interval} s; "
                  f"{date.today()} on a shared 2-core machine: noisy")
            print("  " + _percentiles("service pending → anchored", _service_latencies(work / "data" / "tiezheng.db")))
            print("  " + _percentiles("raw send → receipt", raw.latencies))
            print("  " + _percentiles("registry digest submit → recorded", digests.latencies).replace("anchors)",
                                                                                                    "digests)"))
        finally:
            _anvil(work / "state", anvil_port, args.block_time, "down")


def main() -> None:
    """Parse the arguments and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=40_000)
    parser.add_argument("--block-time", type=float, default=None)
    parser.add_argument("--anchor-interval", type=float, default=0.2)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
