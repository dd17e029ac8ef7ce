"""Offline verification of an evidence pack (``tiezheng.pack/v1``), docs/formats.md "Evidence pack v1".

``verify_pack`` runs the checks of "Verification order" in order and stops at the first that fails,
raising ``PackUnusable`` (exit 2) or ``PackInvalid`` (exit 1) with its reason class, path and detail; a
valid pack gives a ``PackReport`` with the assurance level. The pack's own keys are never trusted: the
manifest, every checkpoint and the local journal must be signed by a log key the caller's trust root names.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from verifier.errors import BadSignature, UntrustedLog
from verifier.pack_anchors import AnchorOutcome, assurance_of, check_anchors
from verifier.pack_checks import (
    check_chain,
    check_checkpoints,
    check_consistency,
    check_event_signatures,
    check_inclusion,
    check_media,
    check_payloads,
    check_scope,
)
from verifier.pack_content import read_content
from verifier.pack_errors import refuse
from verifier.pack_manifest import Manifest
from verifier.pack_zip import MAX_PACK_BYTES, ZipEntry, read_pack_zip
from verifier.report import SIGNED_NOTE
from verifier.sm import sm3, verify_sm2
from verifier.trust import LogKey, TrustRoot

__all__ = ["MAX_PACK_BYTES", "PackReport", "is_pack", "verify_pack"]

_ZIP_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True)
class PackReport:
    """What ``verify_pack`` found in a valid pack (``valid`` true, ``reason`` None)."""

    valid: bool
    reason: str | None
    pack_id: str
    tenant: str
    scope: dict[str, Any]
    origin: str
    tree_size: int
    log_key_fingerprint: str
    evidence_digest: str
    pack_sm3: str
    trust_root: str
    assurance: str
    counts: dict[str, int]
    anchors: tuple[AnchorOutcome, ...]
    chain: str
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready values."""
        return asdict(self)

    def to_json(self) -> str:
        """The report as indented JSON text."""
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        """The report for a human: verdict, scope, checkpoint, counts, each anchor kind, assurance, notes."""
        scope = ", ".join(f"{k}={v}" for k, v in self.scope.items() if k != "permits")
        lines = [f"VALID: evidence pack {self.pack_id} of tenant {self.tenant} ({scope})",
                 f"  checkpoint: {self.origin} size {self.tree_size}, signed by trusted key {self.log_key_fingerprint}",
                 f"  evidence digest (SM3): {self.evidence_digest}", f"  pack file SM3: {self.pack_sm3}",
                 "  " + ", ".join(f"{v} {k}" for k, v in self.counts.items()), f"  chain: {self.chain}"]
        lines += [f"  anchor {a.kind}: {a.status}: {a.detail}" for a in self.anchors] or ["  anchors: none in the pack"]
        lines.append(f"assurance: {self.assurance}")
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


def is_pack(data: bytes) -> bool:
    """True when ``data`` starts like a zip (a pack) rather than JSON (a bundle)."""
    return data[:4] == _ZIP_MAGIC


def verify_pack(data: bytes, *, trust_root: TrustRoot | None) -> PackReport:
    """Verify the pack ``data`` against ``trust_root`` (None: refused as ``untrusted-log``).

    Returns the report of a valid pack. Raises ``PackUnusable`` or ``PackInvalid`` carrying ``reason``,
    ``path`` and the message, for the first failing check of docs/formats.md "Verification order".
    """
    if len(data) > MAX_PACK_BYTES:
        refuse("unreadable", f"pack is {len(data)} bytes, want at most {MAX_PACK_BYTES}")
    entries = {e.path: e for e in read_pack_zip(data)}
    manifest = _manifest(entries)
    trusted = _trusted(manifest, trust_root)
    _check_manifest_signature(manifest, trusted)
    files = _checked_files(manifest, entries)
    content = read_content(manifest, files)
    signer = check_checkpoints(content, trusted)
    check_inclusion(content)
    bindings = check_event_signatures(content)
    payloads = check_payloads(content)
    check_scope(content)
    chain = check_chain(content)
    present, deleted = check_media(content)
    check_consistency(content)
    assert trust_root is not None
    outcomes = check_anchors(content, trust_root, trusted)
    counts = {"events": len(content.events), "payloads": payloads, "media present": present,
              "media deleted": deleted, "actor keys": len(bindings)}
    return PackReport(
        valid=True, reason=None, pack_id=manifest.pack_id, tenant=manifest.tenant, scope=dict(manifest.scope),
        origin=manifest.origin, tree_size=manifest.tree_size, log_key_fingerprint=signer,
        evidence_digest=manifest.evidence_digest.hex(), pack_sm3=sm3(data).hex(), trust_root=trust_root.digest,
        assurance=assurance_of(outcomes), counts=counts, anchors=tuple(outcomes), chain=chain,
        notes=_notes(manifest, outcomes, bindings),
    )


def _manifest(entries: dict[str, ZipEntry]) -> Manifest:
    entry = entries.get("manifest.json")
    if entry is None:
        refuse("manifest", "the pack has no manifest.json", path="manifest.json")
    if zlib.crc32(entry.data) != entry.crc32:
        refuse("file-hash", "manifest.json does not match its CRC-32 in the zip", path="manifest.json")
    return Manifest.from_bytes(entry.data)


def _trusted(manifest: Manifest, trust_root: TrustRoot | None) -> tuple[LogKey, ...]:
    if trust_root is None:
        refuse("untrusted-log", "no trust root given: the verifier trusts only keys you pass in (--trust-root FILE "
                                f"naming the key of log {manifest.origin!r}), never the keys inside the pack")
    try:
        return trust_root.log_keys(manifest.origin)
    except UntrustedLog as exc:
        refuse("untrusted-log", exc.message)


def _check_manifest_signature(manifest: Manifest, trusted: tuple[LogKey, ...]) -> None:
    key = next((k for k in trusted if k.fingerprint == manifest.key_fingerprint), None)
    if key is None:
        refuse("manifest-signature", f"manifest is signed by key {manifest.key_fingerprint}, which the trust root "
                                     f"does not name for {manifest.origin!r}", path="manifest.json")
    try:
        verify_sm2(key.public_key, manifest.signed_bytes, manifest.signature)
    except BadSignature as exc:
        refuse("manifest-signature", f"manifest signature does not verify with {key.fingerprint}: {exc.message}",
               path="manifest.json")


def _checked_files(manifest: Manifest, entries: dict[str, ZipEntry]) -> dict[str, bytes]:
    listed = manifest.listed()
    for path in listed:
        if path not in entries:
            refuse("missing-file", f"{path} is listed in the manifest but not in the pack", path=path)
    for path in entries:
        if path != "manifest.json" and path not in listed:
            refuse("extra-file", f"{path} is in the pack but not listed in the signed manifest", path=path)
    for item in manifest.files:
        data = entries[item.path].data
        if zlib.crc32(data) != entries[item.path].crc32:
            refuse("file-hash", f"{item.path} does not match its CRC-32 in the zip", path=item.path)
        if len(data) != item.size or sm3(data) != item.sm3:
            refuse("file-hash", f"{item.path}: {len(data)} bytes with SM3 {sm3(data).hex()}, the manifest says "
                                f"{item.size} bytes with SM3 {item.sm3.hex()}", path=item.path)
    return {path: entries[path].data for path in listed}


def _notes(manifest: Manifest, outcomes: list[AnchorOutcome], bindings: dict[str, str]) -> tuple[str, ...]:
    notes = [SIGNED_NOTE] if assurance_of(outcomes).startswith("signed") else []
    kind = manifest.scope["kind"]
    if kind == "area":
        notes.append("which permits belong to the area is the service's signed statement: events carry no area")
    if kind == "worker":
        notes.append("a worker's events are not chained: that none is missing is the service's signed statement")
    named = sorted(k for k, how in bindings.items() if how == "signature")
    if named:
        notes.append(f"actor keys {', '.join(named[:5])}{'…' if len(named) > 5 else ''} are named, not fingerprinted: "
                     "that each belongs to its actor is the tenant key registry's statement (keys/actors.json)")
    return tuple(notes)

