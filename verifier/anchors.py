"""Checks of the local anchor journal (``anchors/local``), docs/formats.md "Local anchor journal entry".

Each journal line is a JSON entry signed with the log key, naming a checkpoint and chained to the entry
before it by hash and by a consistency proof. It shows that the log did not fork between anchors, but the
operator holds the log key: a local journal proves nothing against the operator.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verifier._json import (
    JSONObject,
    b64_field,
    canonical,
    hex_field,
    hex_list_field,
    int_field,
    loads,
    optional_hex_field,
    optional_int_field,
    require_object,
    str_field,
)
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.errors import AnchorMismatch, BadSignature, KeyMismatch, MalformedInput
from verifier.merkle import MAX_CONSISTENCY_HASHES, verify_consistency
from verifier.sm import PublicKey, sm3, verify_sm2

__all__ = [
    "JournalEntry",
    "LocalAnchor",
    "read_journal",
    "verify_journal",
    "verify_journal_entry",
    "verify_local_anchor",
]


@dataclass(frozen=True)
class JournalEntry:
    """One signed entry of the local anchor journal; ``fields`` is the entry object as written."""

    fields: JSONObject
    seq: int
    prev_entry: bytes | None
    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: Checkpoint
    previous_tree_size: int | None
    consistency_proof: tuple[bytes, ...]
    key_id: str
    signature: bytes

    @classmethod
    def from_json(cls, value: Any) -> JournalEntry:
        """Check the structure of a parsed entry (its checkpoint text included); raises ``MalformedInput``."""
        obj = copy.deepcopy(dict(require_object(value, "journal entry")))
        if type(obj.get("v")) is not int or obj.get("v") != 1:
            raise MalformedInput(f"journal entry.v must be 1, got {obj.get('v')!r}")
        str_field(obj, "anchored_at", "journal entry")
        canonical(obj)
        _require_sizes_in_order(obj)
        return cls(
            fields=obj,
            seq=int_field(obj, "seq", "journal entry"),
            prev_entry=optional_hex_field(obj, "prev_entry", "journal entry"),
            origin=str_field(obj, "origin", "journal entry"),
            tree_size=int_field(obj, "tree_size", "journal entry"),
            root_hash=hex_field(obj, "root_hash", "journal entry"),
            checkpoint=Checkpoint.from_text(str_field(obj, "checkpoint", "journal entry")),
            previous_tree_size=optional_int_field(obj, "previous_tree_size", "journal entry"),
            consistency_proof=hex_list_field(
                obj, "consistency_proof", "journal entry", max_items=MAX_CONSISTENCY_HASHES
            ),
            key_id=str_field(obj, "key_id", "journal entry"),
            signature=b64_field(obj, "signature", "journal entry"),
        )

    def entry_hash(self) -> bytes:
        """SM3(canonical(entry, signature included)): what the next entry's ``prev_entry`` must be."""
        return sm3(canonical(self.fields))


@dataclass(frozen=True)
class LocalAnchor:
    """A bundle's ``local`` anchor: a journal entry and the consistency proof from the bundle checkpoint."""

    entry: JournalEntry
    consistency_proof: tuple[bytes, ...]

    @classmethod
    def from_json(cls, value: Any) -> LocalAnchor:
        """Parse ``{"backend": "local", "entry": {...}, "consistency_proof": [...]}``; raises ``MalformedInput``."""
        obj = require_object(value, "anchor")
        backend = str_field(obj, "backend", "anchor")
        if backend != "local":
            raise MalformedInput(f"unsupported anchor backend {backend!r}, want 'local', 'fabric' or 'evm'")
        if "entry" not in obj:
            raise MalformedInput("anchor is missing field 'entry'")
        return cls(
            entry=JournalEntry.from_json(obj["entry"]),
            consistency_proof=hex_list_field(
                obj, "consistency_proof", "anchor", max_items=MAX_CONSISTENCY_HASHES
            ),
        )


def verify_journal_entry(entry: JournalEntry, *, public_key_pem: str) -> None:
    """Check one journal entry on its own against the log key ``public_key_pem``.

    Steps:
    1. ``key_id`` is the fingerprint of the log key (``KeyMismatch``).
    2. ``signature`` verifies over canonical(entry without signature) (``BadSignature``).
    3. The entry's checkpoint is signed by the log key (``KeyMismatch``, ``BadSignature``).
    4. That checkpoint's origin, tree size and root are the entry's (``AnchorMismatch``).
    """
    key = PublicKey.from_pem(public_key_pem)
    if entry.key_id != key.fingerprint():
        raise KeyMismatch(f"journal entry key_id mismatch: got {entry.key_id}, want {key.fingerprint()}")
    unsigned = {name: value for name, value in entry.fields.items() if name != "signature"}
    try:
        verify_sm2(key, canonical(unsigned), entry.signature)
    except BadSignature as exc:
        raise BadSignature(f"journal entry seq {entry.seq} signature does not verify: {exc}") from exc
    verify_checkpoint(entry.checkpoint, public_key_pem=public_key_pem)
    _require_checkpoint_matches(entry)


def verify_local_anchor(anchor: LocalAnchor, *, checkpoint: Checkpoint, public_key_pem: str) -> None:
    """Check that a local journal anchor covers ``checkpoint`` (a verified bundle checkpoint).

    ``public_key_pem`` is the log key. Steps:
    1. The entry verifies on its own (``verify_journal_entry``).
    2. The entry is for the same log: its origin is the checkpoint's (``AnchorMismatch``).
    3. The entry's tree is at least as large as the checkpoint's (``AnchorMismatch``).
    4. The anchor's consistency proof leads from the checkpoint to the entry's tree
       (``InvalidProof``, ``RootMismatch``).
    """
    entry = anchor.entry
    verify_journal_entry(entry, public_key_pem=public_key_pem)
    if entry.origin != checkpoint.origin:
        raise AnchorMismatch(f"anchor origin mismatch: got {entry.origin!r}, want {checkpoint.origin!r}")
    if entry.tree_size < checkpoint.tree_size:
        raise AnchorMismatch(
            f"anchor tree size {entry.tree_size} is smaller than the checkpoint tree size {checkpoint.tree_size}"
        )
    verify_consistency(
        checkpoint.tree_size, entry.tree_size, checkpoint.root_hash, entry.root_hash, anchor.consistency_proof
    )


def read_journal(data: bytes) -> tuple[JournalEntry, ...]:
    """Parse a journal file: one JSON entry per line, each line ending in a newline.

    Raises ``MalformedInput`` naming the first bad line (an empty or truncated line included).
    """
    if data and not data.endswith(b"\n"):
        raise MalformedInput("journal does not end with a newline: last line is truncated")
    lines = data.split(b"\n")[:-1]
    return tuple(_journal_line(number, line) for number, line in enumerate(lines, start=1))


def verify_journal(entries: Sequence[JournalEntry], *, public_key_pem: str) -> None:
    """Check a whole journal, in file order, against the log key ``public_key_pem``.

    Steps, for each entry:
    1. The entry verifies on its own (``verify_journal_entry``).
    2. The first entry has seq 0, no ``prev_entry``, no ``previous_tree_size`` and an empty proof.
    3. Every later entry has the next seq, the same origin, ``prev_entry`` = SM3(canonical(previous
       entry)), ``previous_tree_size`` = the previous tree size, and a consistency proof from the
       previous tree to its own (``AnchorMismatch``, ``InvalidProof``, ``RootMismatch``).
    """
    previous: JournalEntry | None = None
    for entry in entries:
        verify_journal_entry(entry, public_key_pem=public_key_pem)
        if previous is None:
            _require_first(entry)
        else:
            _require_link(previous, entry)
        previous = entry


def _require_sizes_in_order(obj: JSONObject) -> None:
    size = int_field(obj, "tree_size", "journal entry")
    previous = optional_int_field(obj, "previous_tree_size", "journal entry")
    if previous is not None and previous > size:
        raise MalformedInput(
            f"journal entry previous_tree_size {previous} is larger than its tree_size {size}"
        )


def _journal_line(number: int, line: bytes) -> JournalEntry:
    try:
        return JournalEntry.from_json(loads(line, f"journal line {number}"))
    except MalformedInput as exc:
        raise MalformedInput(f"journal line {number}: {exc.message}") from exc


def _require_checkpoint_matches(entry: JournalEntry) -> None:
    cp = entry.checkpoint
    got = (cp.origin, cp.tree_size, cp.root_hash.hex())
    want = (entry.origin, entry.tree_size, entry.root_hash.hex())
    if got != want:
        raise AnchorMismatch(
            f"journal entry seq {entry.seq} checkpoint does not match the entry: got {got}, want {want}"
        )


def _require_first(entry: JournalEntry) -> None:
    got = (entry.seq, entry.prev_entry, entry.previous_tree_size, len(entry.consistency_proof))
    if got != (0, None, None, 0):
        raise AnchorMismatch(
            f"first journal entry must have seq 0, no prev_entry, no previous_tree_size and an empty proof, "
            f"got seq={entry.seq} prev_entry={_hex(entry.prev_entry)} previous_tree_size={entry.previous_tree_size} "
            f"proof of {len(entry.consistency_proof)} hashes"
        )


def _require_link(previous: JournalEntry, entry: JournalEntry) -> None:
    if entry.seq != previous.seq + 1:
        raise AnchorMismatch(f"journal seq gap: got {entry.seq}, want {previous.seq + 1}")
    if entry.origin != previous.origin:
        raise AnchorMismatch(
            f"journal entry seq {entry.seq} origin changed: got {entry.origin!r}, want {previous.origin!r}"
        )
    if entry.prev_entry != previous.entry_hash():
        raise AnchorMismatch(
            f"journal entry seq {entry.seq} prev_entry mismatch: got {_hex(entry.prev_entry)}, "
            f"want {previous.entry_hash().hex()}"
        )
    if entry.previous_tree_size != previous.tree_size:
        raise AnchorMismatch(
            f"journal entry seq {entry.seq} previous_tree_size mismatch: got {entry.previous_tree_size}, "
            f"want {previous.tree_size}"
        )
    verify_consistency(
        previous.tree_size, entry.tree_size, previous.root_hash, entry.root_hash, entry.consistency_proof
    )


def _hex(value: bytes | None) -> str:
    return "null" if value is None else value.hex()
