"""The verification report of a bundle: which steps of docs/formats.md passed, and what assurance that gives.

Assurance levels (docs/formats.md, "Bundle"; ARCHITECTURE.md "Anchoring"), from ``chain_assurance``:

- ``signed``: a checkpoint signature and at most a local anchor journal, both the operator's own key;
- ``fabric``: a verified Fabric receipt anchors the checkpoint's tree (or a later one consistent with it);
- ``dual-chain``: a verified Fabric receipt and a verified EVM receipt anchor the same tree: the same size
  and the same root on the business chain and on the regulator chain.

Then ``+tsa`` when an RFC 3161 token of a trusted TSA covers the checkpoint, and ``+witnessed`` when the
trust root's witness quorum cosigned a tree containing it (``dual-chain+tsa+witnessed``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = [
    "ASSURANCE_DUAL_CHAIN",
    "ASSURANCE_FABRIC",
    "ASSURANCE_SIGNED",
    "FABRIC_NOTE",
    "SIGNED_NOTE",
    "Report",
    "StepResult",
    "assurance_level",
    "chain_assurance",
    "notes_for",
]

ASSURANCE_SIGNED = "signed"
ASSURANCE_FABRIC = "fabric"
ASSURANCE_DUAL_CHAIN = "dual-chain"


TSA_SUFFIX, WITNESSED_SUFFIX = "+tsa", "+witnessed"
FABRIC_NOTE = (
    "fabric: the checkpoint is extended by one stored on the business chain, in a block signed by {orderer} "
    "and endorsed by {endorsers}, whose certificates chain to the CAs your trust root names. the block's "
    "validation code (VALID) is written by the peer that served the block, not signed by the orderer: "
    "pass --fabric ADDRESS to compare the block with a live peer."
)
SIGNED_NOTE = (
    "signed: the checkpoint and any local anchor journal are signed only with the log operator's own key. "
    "a local journal proves nothing against the operator, who holds that key and could rewrite and re-sign "
    "the log; it only shows the log did not fork between anchors."
)
_NAME_ONLY_NOTE = (
    "actor key {fingerprint}: the log committed a signature that only this key verifies, but key_id {key_id!r} "
    "is a name, not the key's fingerprint; that the key belongs to the actor is the tenant key registry's "
    "statement. compare the fingerprint with the registry."
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
    ``assurance`` is the level reached (``None`` when invalid). ``trust_root`` is the hex SM3 of the trust
    root file used; ``log_key_fingerprint`` the trusted key that signed the checkpoint. ``actor_key_binding``
    says how the actor key is tied to the logged event (``fingerprint``: its key_id names it;
    ``signature``: only the logged signature does; ``None``: not reached). ``fabric_endorsed_by`` lists the
    orgs (MSP ids) that endorsed the verified Fabric anchor, empty without one. ``timestamps`` lists each
    verified RFC 3161 token as "<tsa> <genTime>"; ``cosigners`` the trusted witnesses that cosigned.
    """

    valid: bool
    steps: tuple[StepResult, ...]
    trust_root: str
    log_key_fingerprint: str | None
    actor_key_fingerprint: str | None
    actor_key_id: str
    actor_key_binding: str | None
    event_id: str
    origin: str
    tree_size: int
    leaf_index: int
    assurance: str | None = None
    failure: str | None = None
    notes: tuple[str, ...] = field(default=())
    fabric_endorsed_by: tuple[str, ...] = field(default=())
    timestamps: tuple[str, ...] = field(default=())
    cosigners: tuple[str, ...] = field(default=())

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


def chain_assurance(*, fabric: Iterable[tuple[int, bytes]], evm: Iterable[tuple[int, bytes]]) -> str:
    """The assurance level given the (tree size, root) pairs that verified Fabric receipts and verified EVM
    receipts anchor: ``dual-chain`` only when one pair is on both chains, ``fabric`` when Fabric anchors
    any, else ``signed``. Pass only receipts that verified; an EVM receipt alone leaves ``signed``."""
    on_fabric = set(fabric)
    if on_fabric & set(evm):
        return ASSURANCE_DUAL_CHAIN
    return ASSURANCE_FABRIC if on_fabric else ASSURANCE_SIGNED
def assurance_level(base: str, *, tsa: bool, witnessed: bool) -> str:
    """The level a valid bundle reaches: ``base`` (``signed`` or ``fabric``), then ``+tsa`` and ``+witnessed``
    as earned.

    >>> assurance_level("signed", tsa=True, witnessed=True)
    'signed+tsa+witnessed'
    """
    return base + (TSA_SUFFIX if tsa else "") + (WITNESSED_SUFFIX if witnessed else "")


def notes_for(
    *, assurance: str | None, actor_key_binding: str | None, actor_key_id: str, actor_key_fingerprint: str | None
) -> tuple[str, ...]:
    """The caveats a report must carry: the meaning of ``signed``, and an actor key tied only by its signature."""
    notes = [SIGNED_NOTE] if assurance is not None and assurance.split("+")[0] == ASSURANCE_SIGNED else []
    if actor_key_binding == "signature":
        notes.append(_NAME_ONLY_NOTE.format(fingerprint=actor_key_fingerprint, key_id=actor_key_id))
    return tuple(notes)
