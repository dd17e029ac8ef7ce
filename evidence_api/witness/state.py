"""The witness's durable memory: the latest checkpoint it cosigned for its log, and the refused requests.

``state.json`` is replaced atomically (write a temporary file, fsync it, rename it over, fsync the folder),
so a crash at any moment leaves either the old or the new state, never a torn one, and the witness never
answers with a cosignature before the state that allows it is on disk. ``refused.jsonl`` keeps every
log-signed request that was refused as inconsistent: it may be the evidence of a split view (C2SP
tlog-witness allows, and a court would want, this record).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Cosigned", "WitnessState", "WitnessStateError"]


class WitnessStateError(Exception):
    """The state folder cannot be read or written; the witness must not run (or answer) without it."""


@dataclass(frozen=True)
class Cosigned:
    """The latest cosigned tree: its size, root and the checkpoint note as received (0, empty: none yet)."""

    tree_size: int
    root_hash: bytes
    checkpoint: str


class WitnessState:
    """The state of one log ``origin`` under folder ``path``. ``lock`` must be held from the check of a
    request against ``latest`` until ``advance`` returned (C2SP: check and persist atomically)."""

    def __init__(self, path: Path, origin: str) -> None:
        self.path, self.origin = path, origin
        self.lock = threading.Lock()
        path.mkdir(parents=True, exist_ok=True)
        self._latest = self._load()

    @property
    def latest(self) -> Cosigned:
        """The latest cosigned tree (size 0 before the first cosignature)."""
        return self._latest

    def advance(self, cosigned: Cosigned) -> None:
        """Persist ``cosigned`` as the latest (durably, before the caller answers)."""
        data = {"v": 1, "origin": self.origin, "tree_size": cosigned.tree_size,
                "root_hash": cosigned.root_hash.hex(), "checkpoint": cosigned.checkpoint}
        tmp = self.path / "state.json.tmp"
        try:
            with tmp.open("w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path / "state.json")
            _fsync_dir(self.path)
        except OSError as exc:
            raise WitnessStateError(f"cannot write {self.path / 'state.json'}: {exc}") from exc
        self._latest = cosigned

    def refused(self, record: dict[str, Any]) -> None:
        """Append a refused request (reason, status, body) to ``refused.jsonl``, fsynced."""
        try:
            with (self.path / "refused.jsonl").open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise WitnessStateError(f"cannot append to {self.path / 'refused.jsonl'}: {exc}") from exc

    def _load(self) -> Cosigned:
        file = self.path / "state.json"
        if not file.exists():
            return Cosigned(0, b"", "")
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
            if data.get("v") != 1 or data.get("origin") != self.origin:
                raise ValueError(f"it is for log {data.get('origin')!r}, want {self.origin!r}")
            return Cosigned(int(data["tree_size"]), bytes.fromhex(data["root_hash"]), str(data["checkpoint"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise WitnessStateError(f"cannot use the witness state {file}: {exc}. a witness that lost its state "
                                    "must be retired with a new key, not restarted empty") from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
