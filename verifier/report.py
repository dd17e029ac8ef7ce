"""The verification report of a bundle: which steps of docs/formats.md passed, and what assurance that gives.

Assurance levels (docs/formats.md, "Bundle"; ARCHITECTURE.md "Anchoring"): v1 knows only ``signed``, the
level of a checkpoint signature and a local anchor journal, both signed with the operator's own key.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["ASSURANCE_SIGNED", "SIGNED_NOTE", "Report", "StepResult", "notes_for"]

ASSURANCE_SIGNED = "signed"
SIGNED_NOTE = (
    "signed: the checkpoint and any local anchor journal are signed only with the log operator's own key. "
    "a local journal proves nothing against the operator, who holds that key and could rewrite and re-sign "
    "the log; it only shows the log did not fork between anchors."
)
_UNPINNED_NOTE = (
    "the log key was taken from the bundle, not pinned: anyone can build a bundle that verifies with a key "
    "they made. pass --log-key with the operator's published key to check against it."
)


@dataclass(frozen=True)
class StepResult:
    """The outcome of one numbered verification step: ``ok``, ``skipped`` (nothing to check) or ``failed``."""

    number: int
    name: str
    status: Literal["ok", "skipped", "failed"]
    detail: str


@dataclass(frozen=True)
class Report:
    """What ``verify_bundle`` found.

    ``valid`` is true only when every step passed; ``failure`` then is ``None``. A failed verification
    raises, and the exception carries a report with ``valid`` false and the failing step last.
    ``assurance`` is the level reached (``None`` when invalid).
    """

    valid: bool
    steps: tuple[StepResult, ...]
    log_key_pinned: bool
    log_key_fingerprint: str | None
    actor_key_fingerprint: str | None
    actor_key_id: str
    event_id: str
    origin: str
    tree_size: int
    leaf_index: int
    assurance: str | None = None
    failure: str | None = None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON text (keys in a stable order)."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self, *, steps: bool = True) -> str:
        """The report for a human: verdict, one line per step (unless ``steps`` is false), assurance, notes."""
        verdict = "VALID" if self.valid else "INVALID"
        lines = [
            f"{verdict}: event {self.event_id} at leaf {self.leaf_index} of {self.origin} (size {self.tree_size})"
        ]
        lines += [f"  {s.number}. [{s.status}] {s.name}: {s.detail}" for s in self.steps] if steps else []
        if self.failure is not None:
            lines.append(f"reason: {self.failure}")
        if self.assurance is not None:
            lines.append(f"assurance: {self.assurance}")
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


def notes_for(*, log_key_pinned: bool, assurance: str | None) -> tuple[str, ...]:
    """The caveats a report must carry: the meaning of ``signed`` and whether the log key was pinned."""
    notes = [SIGNED_NOTE] if assurance == ASSURANCE_SIGNED else []
    return tuple(notes if log_key_pinned else [*notes, _UNPINNED_NOTE])
