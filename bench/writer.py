"""The log writer alone (no HTTP, no intake workers): events/s of durable group commits as the log grows, and
what one event costs on disk, on SQLite. Events are shaped like ``bench.intake``'s (a detector reading with a
location, 500 per attested batch, 50 permits), prepared beforehand as the intake workers do (leaf template
packed for storage included), so the figure is the writer's and the storage's only.

Run: .venv/bin/python -m bench.writer [--leaves 1000000] [--window 100000] [--clients 4] [--prefill N]

Prints the rate of each window of leaves, with the CPU time and the bytes written per event (steadier than
the rate on a shared machine); "late/early" is the last window's rate over the first's (the issue's goal:
intake at 10^7 leaves >= 0.9x an empty log).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from bench.proofs import fill
from evidence_api.db import migrate
from ledger.database import make_engine
from ledger.events import attestation_digest, claim_hash, leaf_template
from ledger.log import PreparedEvent, Submission, TransparencyLog
from ledger.packing import pack_template
from ledger.sm import Signer, SM2PrivateKey

BATCH, PERMITS = 500, 50
ACTOR = {"type": "device", "id": "detector-1", "key_id": "detector-1#1"}


def _batch(start: int) -> Submission:
    events, hashes = [], []
    received = "2026-12-01T14:43:11.848Z"
    for n in range(start, start + BATCH):
        claim = {"v": 1, "event_id": str(uuid.uuid4()), "tenant": "bench", "kind": "detector.reading",
                 "subject": {"permit": f"P-{n % PERMITS}"}, "actor": ACTOR, "occurred_at": "2026-11-23T08:00:00Z",
                 "payload_commitment": os.urandom(32).hex(), "location": {"lat": 30.2741, "lon": 120.1551,
                                                                         "accuracy_m": 3.5}}
        hashes.append(claim_hash(claim))
        events.append(claim)
    attestation = {"v": 1, "tenant": "bench", "actor": ACTOR, "event_hashes": [h.hex() for h in hashes],
                   "signature": "MEUCIQ" + "A" * 90}
    digest = attestation_digest(attestation)
    templates = [leaf_template({**c, "received_at": received, "attestation": digest.hex()}, known_fast=True)
                 for c in events]
    prepared = [PreparedEvent(
        event_id=c["event_id"], tenant="bench", kind=c["kind"], permit=c["subject"]["permit"], key_id=ACTOR["key_id"],
        claim_hash=h, leaf=replace(t, packed=pack_template(t.head, t.tail)),  # packed as the intake worker does
        payload_sealed=os.urandom(126), payload_key=os.urandom(44), received_at=received,
        flags=("occurred_long_before_receipt", "received_late")) for c, h, t in zip(events, hashes, templates, strict=True)]
    return Submission(prepared, attestation, digest)


def _written() -> int:
    """Bytes this process has handed to write(2) so far (Linux ``/proc/self/io``; 0 elsewhere)."""
    try:
        fields = dict(line.split(": ") for line in Path("/proc/self/io").read_text().splitlines())
    except OSError:
        return 0
    return int(fields["wchar"])


def _window(log: TransparencyLog, start: int, count: int, clients: int) -> tuple[float, float, float]:
    """Submit ``count`` events from ``start`` with ``clients`` threads (batches built first): events/s, CPU
    µs per event of this process, and bytes written per event (WAL and checkpoints). The last two hardly
    depend on what else runs on the machine, the first does."""
    batches = [_batch(s) for s in range(start, start + count, BATCH)]
    began, cpu, written = time.monotonic(), time.process_time(), _written()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(lambda sub: log.submit(sub, timeout=600), batches))
    return (count / (time.monotonic() - began), (time.process_time() - cpu) * 1e6 / count,
            (_written() - written) / count)


def run(leaves: int, window: int, clients: int, prefill: int = 0) -> None:
    """Grow a log to ``leaves`` (after ``prefill`` synthetic ones, ``bench.proofs.fill``: a large log without
    writing it through the writer) and print the writer's rate per window and the bytes per event."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.db"
        migrate(f"sqlite:///{path}")
        if prefill:
            fill(f"sqlite:///{path}", prefill, quiet=True)
        engine = make_engine(f"sqlite:///{path}")
        log = TransparencyLog(engine, origin="bench/log", signer=Signer.from_private_key(SM2PrivateKey.generate()))
        began, cpu = time.monotonic(), time.process_time()
        log.start()  # loads the event-id index (ledger.idindex): the tail's keys and a filter over the runs'
        print(f"  writer started in {time.monotonic() - began:.1f} s ({time.process_time() - cpu:.1f} s CPU)", flush=True)
        rates = []
        for start in range(0, leaves, window):
            rate, cpu, written = _window(log, start, window, clients)
            rates.append(rate)
            print(f"  leaves {start:>10,} - {start + window:>10,}: {rate:8,.0f} events/s, {cpu:6.1f} µs CPU and "
                  f"{written:8,.0f} bytes written per event", flush=True)
        log.close()
        engine.dispose()
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        print(f"late/early: {rates[-1] / rates[0]:.2f}; {path.stat().st_size / (prefill + leaves):,.0f} bytes on disk "
              f"per event{' (synthetic ones included)' if prefill else ''} "
              f"(page size {conn.execute('PRAGMA page_size').fetchone()[0]})")
        conn.close()


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--window", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--prefill", type=int, default=0, help="synthetic leaves first (e.g. 10000000)")
    args = parser.parse_args()
    run(args.leaves, args.window, args.clients, args.prefill)


if __name__ == "__main__":
    main()
