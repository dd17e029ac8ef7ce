"""immudb as the baseline of the intake benchmark: built, started and stopped through
``network/nodes/immudb.sh`` (a wrapper Go module, binaries cached in .tools/), written to by the Go driver
``network/immudb/driver`` (immudb's own client: ``SetAll`` batches, each transaction read back with
``VerifiedTxByID``), which prints its figures as JSON.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "network" / "nodes" / "immudb.sh"


class ImmudbUnavailable(RuntimeError):
    """immudb could not be built or started (the message says why and where the log is)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ImmudbNode:
    """One immudb server of our own: its state (data, log, pid) under ``state``, gRPC on ``port``."""

    state: Path
    port: int

    @classmethod
    def fresh(cls, state: Path) -> ImmudbNode:
        """A node that will keep everything under ``state`` and listen on a free port."""
        return cls(state, _free_port())

    def _script(self, command: str, timeout: float = 900) -> str:
        env = {**os.environ, "TIEZHENG_STATE": str(self.state), "IMMUDB_PORT": str(self.port)}
        try:
            done = subprocess.run(["bash", str(SCRIPT), command], env=env, capture_output=True, text=True,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise ImmudbUnavailable(f"{SCRIPT.name} {command} did not finish in {timeout:.0f} s") from exc
        if done.returncode != 0:
            raise ImmudbUnavailable(f"{SCRIPT.name} {command} failed (exit {done.returncode}):\n"
                                    f"{done.stderr.strip()[-2000:]}")
        return done.stdout.strip()

    def up(self) -> ImmudbNode:
        """Build (≈ 80 s cold, cached in .tools/) and start; raises ImmudbUnavailable if it cannot."""
        self._script("up")
        return self

    def down(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 20 s)."""
        self._script("down", timeout=60)

    @property
    def data_dir(self) -> Path:
        """immudb's ``--dir``."""
        return self.state / "immudb" / "data"

    @property
    def driver(self) -> str:
        """The benchmark driver binary (built by ``up``)."""
        return self._script("driver", timeout=30)

    def write(self, database: str, *, entries: int, batch: int, clients: int, value_size: int,
              verify: bool = True) -> dict[str, Any]:
        """Write ``entries`` values of ``value_size`` random bytes into a new ``database`` with ``clients``
        concurrent SetAll sessions of ``batch`` entries (each transaction verified if ``verify``); the
        driver's JSON figures: entries_per_s, seconds, bytes_on_disk, verified_txs, ..."""
        command = [self.driver, "-port", str(self.port), "-database", database, "-entries", str(entries),
                   "-batch", str(batch), "-clients", str(clients), "-value-size", str(value_size),
                   "-data-dir", str(self.data_dir), f"-verify={'true' if verify else 'false'}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)
        if done.returncode != 0:
            raise ImmudbUnavailable(f"the immudb driver failed: {done.stderr.strip()[-2000:]}")
        figures: dict[str, Any] = json.loads(done.stdout)
        return figures
