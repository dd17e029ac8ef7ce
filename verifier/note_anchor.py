"""What the two anchors that carry a checkpoint note of their own share (``tsa``: a timestamped note;
``witness``: a cosigned note): the note must be the anchor's tree, and it must extend the bundle checkpoint
by a consistency proof. Each anchor module keeps only what is its own (the token, the cosignatures)."""

from __future__ import annotations

from collections.abc import Sequence

from verifier._json import JSONObject, hex_field, hex_list_field, int_field, str_field
from verifier.checkpoint import Checkpoint
from verifier.errors import AnchorMismatch, MalformedInput
from verifier.merkle import MAX_CONSISTENCY_HASHES, verify_consistency

__all__ = ["note_of", "proof_of", "verify_note_extends"]


def note_of(obj: JSONObject, what: str, kind: str) -> Checkpoint:
    """The checkpoint note of anchor ``obj`` (named ``what`` in errors), whose ``kind`` must be ``kind`` and
    whose ``tree_size``/``root_hash`` must be the note's own; ``MalformedInput`` otherwise."""
    if obj["kind"] != kind:
        raise MalformedInput(f"{what} kind is {obj['kind']!r}, want {kind!r}")
    checkpoint = Checkpoint.from_text(str_field(obj, "checkpoint", what))
    got = (int_field(obj, "tree_size", what), hex_field(obj, "root_hash", what))
    if got != (checkpoint.tree_size, checkpoint.root_hash):
        raise MalformedInput(f"{what} tree_size/root_hash are not those of its checkpoint")
    return checkpoint


def proof_of(obj: JSONObject, what: str) -> tuple[bytes, ...]:
    """The anchor's consistency proof from the bundle checkpoint to its note (bounded in length)."""
    return hex_list_field(obj, "consistency_proof", what, max_items=MAX_CONSISTENCY_HASHES)


def verify_note_extends(note: Checkpoint, checkpoint: Checkpoint, proof: Sequence[bytes], adjective: str) -> None:
    """The ``adjective`` (``timestamped``, ``cosigned``) ``note`` is of ``checkpoint``'s log, its tree at least
    as large (``AnchorMismatch``), and ``proof`` leads from ``checkpoint`` to it (``InvalidProof``,
    ``RootMismatch``)."""
    if note.origin != checkpoint.origin or note.tree_size < checkpoint.tree_size:
        raise AnchorMismatch(f"{adjective} checkpoint {note.origin!r} size {note.tree_size} does not extend "
                             f"{checkpoint.origin!r} size {checkpoint.tree_size}")
    verify_consistency(checkpoint.tree_size, note.tree_size, checkpoint.root_hash, note.root_hash, proof)
