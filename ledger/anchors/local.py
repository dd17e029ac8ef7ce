"""The ``local`` anchor backend: an append-only, hash-chained, SM2-signed journal file (docs/formats.md).

It is honest about what it is: the operator holds the signing key, so the journal proves nothing against
the operator. What it does show is that the log never forked between anchors: each entry carries the
consistency proof from the previous anchored tree and the SM3 hash of the previous entry.

Staged like every backend (``ledger.anchors.base``): ``prepare`` builds and signs the next entry, whose
transaction id is the hex SM3 of the entry (the value the entry after it holds as ``prev_entry``);
``submit`` appends it and fsyncs; ``status`` finds it in the journal. A submit is final once fsynced.
"""

from __future__ import annotations

import base64
import json
import logging
import os
from pathlib import Path
from typing import Any

from ledger.anchors.base import AnchorReceipt, AnchorRequest, PendingAnchor
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.errors import AnchorCommitError, AnchorStatusError, AnchorSubmitError
from ledger.sm import Signer, sm3

__all__ = ["LocalJournal", "entry_id"]

_log = logging.getLogger(__name__)
_TAIL = 64 * 1024


def entry_id(entry: dict[str, Any]) -> str:
    """The transaction id of a journal entry: hex SM3 of its canonical bytes, signature included."""
    return sm3(canonical(entry)).hex()


class LocalJournal:
    """``Anchor`` backed by ``<path>`` (JSON lines), each entry signed by ``signer``, stamped by ``clock``."""

    name = "local"

    def __init__(self, path: Path, *, signer: Signer, clock: Clock | None = None) -> None:
        self.path, self._signer, self._clock = path, signer, clock or Clock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._drop_torn_tail()
        tail = self._tail(None, last_only=True)
        self._last: dict[str, Any] | None = tail[-1] if tail else None

    # -- stages ----------------------------------------------------------------------------------
    def prepare(self, request: AnchorRequest) -> PendingAnchor:
        """The signed next entry for ``request.checkpoint``; ``AnchorSubmitError`` if the request does not
        continue this journal (its previous tree is not the journal's last one: reconcile first)."""
        last_size = self._last["tree_size"] if self._last else None
        if request.previous_tree_size != last_size:
            raise AnchorSubmitError(f"the request continues tree size {request.previous_tree_size} but the journal "
                                    f"{self.path} ends at {last_size}; the anchors table and the journal disagree",
                                    backend=self.name, tx_id=None)
        cp = request.checkpoint.checkpoint
        entry: dict[str, Any] = {
            "v": 1, "seq": self._last["seq"] + 1 if self._last else 0,
            "prev_entry": entry_id(self._last) if self._last else None,
            "origin": cp.origin, "tree_size": cp.tree_size, "root_hash": cp.root_hash.hex(),
            "checkpoint": request.checkpoint.text, "previous_tree_size": request.previous_tree_size,
            "consistency_proof": [h.hex() for h in request.consistency_proof],
            "anchored_at": self._clock.stamp(), "key_id": self._signer.public.fingerprint(),
        }
        entry["signature"] = base64.b64encode(self._signer.sign(canonical(entry))).decode()
        return PendingAnchor(self.name, entry_id(entry), cp.tree_size, cp.root_hash, {"entry": entry})

    def submit(self, pending: PendingAnchor) -> None:
        """Append ``pending``'s entry and fsync (a no-op if it is already the last entry)."""
        entry = pending.body["entry"]
        if self._last is not None and entry_id(self._last) == pending.tx_id:
            return
        if entry["seq"] != (self._last["seq"] + 1 if self._last else 0):
            raise AnchorCommitError(f"entry {entry['seq']} no longer follows the journal's last entry "
                                    f"{self._last['seq'] if self._last else None}", backend=self.name, tx_id=pending.tx_id)
        try:
            with self.path.open("ab") as handle:
                handle.write(canonical(entry) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            raise AnchorSubmitError(f"cannot append to {self.path}: {exc}", backend=self.name,
                                    tx_id=pending.tx_id) from exc
        self._last = entry

    def status(self, pending: PendingAnchor) -> AnchorReceipt | None:
        """The receipt if the entry is in the journal; ``AnchorCommitError`` if not (a local submit is
        synchronous, so an entry not found was never appended)."""
        for entry in reversed(self._tail(pending.tree_size - 1)):
            if entry_id(entry) == pending.tx_id:
                return self._receipt(entry)
        raise AnchorCommitError(f"entry for tree size {pending.tree_size} is not in {self.path}",
                                backend=self.name, tx_id=pending.tx_id)

    def recover(self, after_tree_size: int | None) -> list[AnchorReceipt]:
        """Receipts of the journal's entries for trees larger than ``after_tree_size`` (all if None)."""
        return [self._receipt(e) for e in self._tail(after_tree_size)]

    def latest(self) -> AnchorReceipt | None:
        """The newest journal entry as a receipt."""
        return self._receipt(self._last) if self._last else None

    def _receipt(self, entry: dict[str, Any]) -> AnchorReceipt:
        return AnchorReceipt(self.name, entry["tree_size"], bytes.fromhex(entry["root_hash"]), entry_id(entry),
                             {"entry": entry})

    # -- the file --------------------------------------------------------------------------------
    def _tail(self, after_tree_size: int | None, *, last_only: bool = False) -> list[dict[str, Any]]:
        """Complete entries at the end of the journal with ``tree_size > after_tree_size``, in file order.

        Reads only the end of the file, widening the window until it starts at an entry that is old
        enough (or at the start of the file): a journal grows by an entry per anchoring round.
        """
        if not self.path.exists():
            return []
        try:
            with self.path.open("rb") as handle:
                size, window = handle.seek(0, os.SEEK_END), _TAIL
                while True:
                    handle.seek(max(0, size - window))
                    lines = handle.read().split(b"\n")[:-1]  # the journal ends in "\n" (torn tails are dropped)
                    whole = lines if window >= size else lines[1:]
                    entries = [json.loads(line) for line in whole]
                    if window >= size or (entries and (last_only or _old_enough(entries[0], after_tree_size))):
                        break
                    window *= 2
        except (OSError, ValueError) as exc:
            raise AnchorStatusError(f"cannot read {self.path}: {exc}", backend=self.name, tx_id=None) from exc
        if last_only:
            return entries[-1:]
        return [e for e in entries if after_tree_size is None or e["tree_size"] > after_tree_size]

    def _drop_torn_tail(self) -> None:
        """Cut a torn final line (a write that never finished, so was never acknowledged)."""
        if not self.path.exists():
            return
        with self.path.open("r+b") as handle:
            size, window = handle.seek(0, os.SEEK_END), _TAIL
            while True:
                handle.seek(max(0, size - window))
                cut = handle.read().rfind(b"\n")
                if cut >= 0 or window >= size:
                    break
                window *= 2
            keep = max(0, size - window) + cut + 1 if cut >= 0 else 0
            if keep < size:
                _log.warning("local journal %s ended in a torn write; dropping %d bytes", self.path, size - keep)
                handle.truncate(keep)


def _old_enough(entry: dict[str, Any], after_tree_size: int | None) -> bool:
    return after_tree_size is not None and entry["tree_size"] <= after_tree_size
