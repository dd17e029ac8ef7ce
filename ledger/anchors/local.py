"""The ``local`` anchor backend: an append-only, hash-chained, SM2-signed journal file (docs/formats.md).

It is honest about what it is: the operator holds the signing key, so the journal proves nothing against
the operator. What it does show is that the log never forked between anchors: each entry carries the
consistency proof from the previous anchored tree and the SM3 hash of the previous entry.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

from ledger.anchors.base import AnchorReceipt, AnchorRequest
from ledger.canonical import canonical
from ledger.errors import AnchorError
from ledger.log import utc_now
from ledger.sm import Signer, sm3

__all__ = ["LocalJournal"]

_log = logging.getLogger(__name__)
_TAIL = 64 * 1024


class LocalJournal:
    """``Anchor`` backed by ``<path>`` (JSON lines), each entry signed by ``signer``."""

    name = "local"

    def __init__(self, path: Path, *, signer: Signer) -> None:
        self.path, self._signer = path, signer
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._last: dict[str, Any] | None = self._recover()

    def _recover(self) -> dict[str, Any] | None:
        """Read the last complete entry; drop a torn final line (it was never acknowledged).

        Reads only the end of the file: a journal grows by an entry per anchoring round.
        """
        if not self.path.exists():
            return None
        with self.path.open("r+b") as handle:
            size = handle.seek(0, os.SEEK_END)
            window = _TAIL
            while True:  # widen the window until it holds the whole last line (or the whole file)
                handle.seek(max(0, size - window))
                tail = handle.read()
                cut = tail.rfind(b"\n")
                start = tail.rfind(b"\n", 0, cut) if cut > 0 else -1
                if start >= 0 or window >= size:
                    break
                window *= 2
            torn = len(tail) - (cut + 1)
            if torn:
                _log.warning("local journal %s ended in a torn write; dropping %d bytes", self.path, torn)
                handle.truncate(size - torn)
        return json.loads(tail[start + 1 : cut + 1]) if cut >= 0 else None

    def latest(self) -> AnchorReceipt | None:
        """The newest journal entry as a receipt."""
        return self._receipt(self._last) if self._last else None

    def anchor(self, request: AnchorRequest) -> AnchorReceipt:
        """Append one signed entry for ``request.checkpoint`` and fsync it."""
        cp = request.checkpoint.checkpoint
        entry: dict[str, Any] = {
            "v": 1, "seq": self._last["seq"] + 1 if self._last else 0,
            "prev_entry": sm3(canonical(self._last)).hex() if self._last else None,
            "origin": cp.origin, "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(),
            "checkpoint": request.checkpoint.text, "previous_tree_size": request.previous_tree_size,
            "consistency_proof": [h.hex() for h in request.consistency_proof],
            "anchored_at": utc_now(), "key_id": self._signer.public.fingerprint(),
        }
        entry["signature"] = base64.b64encode(self._signer.sign(canonical(entry))).decode()
        try:
            with self.path.open("ab") as handle:
                handle.write(canonical(entry) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise AnchorError(f"cannot append to local journal {self.path}: {exc}") from exc
        self._last = entry
        return self._receipt(entry)

    def _receipt(self, entry: dict[str, Any]) -> AnchorReceipt:
        return AnchorReceipt("local", entry["tree_size"], bytes.fromhex(entry["root_hash"]), {"entry": entry})
