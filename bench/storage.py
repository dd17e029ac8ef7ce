"""Where the log's bytes go: real batch-signed intake over HTTP into SQLite, then bytes on disk per event for
each table and index (SQLite's ``dbstat``), the WAL folded back first.

Run: .venv/bin/python -m bench.storage [--events 20000] [--keep DIR]

The events are the intake benchmark's (``bench.intake``: a detector reading with a location, 500 per signed
batch), so the figure compares with the issue's 1,268 bytes per event and immudb's ~846 for a 600-byte value.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import tempfile
from pathlib import Path

from bench.intake import _port, batch_bodies, send, setup, start_server
from ledger.sm import SM2PrivateKey


def fill(data_dir: Path, events: int, batch: int = 500) -> None:
    """Submit ``events`` batch-signed readings through a real server writing into ``data_dir``."""
    port = _port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(data_dir, port, profile=False)
    try:
        token, actor = setup(base, SM2PrivateKey.generate())
        elapsed, _ = send(base, token, batch_bodies(actor, events, batch), clients=4)
        print(f"intake: {events / elapsed:,.0f} events/s ({events} events; a side figure, see bench.intake)")
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)


def report(database: Path) -> int:
    """Print bytes per event of every table and index of the log; returns the total bytes per event."""
    conn = sqlite3.connect(database)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    count = conn.execute("SELECT count(*) FROM events").fetchone()[0]
    rows = conn.execute("SELECT name, sum(pgsize), sum(payload), sum(ncell) FROM dbstat GROUP BY name "
                        "ORDER BY 2 DESC").fetchall()
    file_bytes = database.stat().st_size
    print(f"{count:,} events; file {file_bytes:,} bytes = {file_bytes / count:,.0f} bytes per event")
    print(f"{'table or index':36} {'bytes/event':>12} {'payload/event':>14} {'cells':>10}")
    for name, pages, payload, cells in rows:
        if pages / count >= 1:
            print(f"{name:36} {pages / count:12,.1f} {payload / count:14,.1f} {cells:10,}")
    conn.close()
    return round(file_bytes / count)


def main() -> None:
    """Fill a log and print where its bytes go."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--keep", type=Path, help="fill this directory and keep it (default: a temporary one)")
    args = parser.parse_args()
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        fill(args.keep, args.events)
        report(args.keep / "tiezheng.db")
        return
    with tempfile.TemporaryDirectory() as tmp:
        fill(Path(tmp), args.events)
        report(Path(tmp) / "tiezheng.db")


if __name__ == "__main__":
    main()
