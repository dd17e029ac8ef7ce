"""Assembling an evidence pack's files and its signed manifest (docs/formats.md, "Evidence pack v1").

Pure: everything comes in as ``PackInputs`` (collected from the log by ``services/packs.py``, or made by
the golden-vector generator), the log key signs through a callable, the certificate is rendered through a
callable, and the result is the canonical zip (``pack_zip.write_pack_zip``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.canonical import canonical
from ledger.sm import sm3

__all__ = [
    "PACK_FORMAT",
    "REPORT_FILES",
    "MediaItem",
    "PackEvent",
    "PackInputs",
    "PackSummary",
    "evidence_digest",
    "pack_files",
    "sign_manifest",
]

PACK_FORMAT = "tiezheng.pack/v1"
ANCHOR_FORMAT = "tiezheng.anchor/v1"
REPORT_FILES = frozenset({"report.html", "report.pdf"})


@dataclass(frozen=True)
class PackEvent:
    """One event of the scope: its leaf index and canonical leaf, the audit path to the pack checkpoint,
    and its decrypted payload ``(salt hex, value)`` when disclosed."""

    leaf_index: int
    leaf: bytes
    audit_path: list[bytes]
    payload: tuple[str, Any] | None


@dataclass(frozen=True)
class MediaItem:
    """One media file of the scope; ``data`` is None when it was deleted (``deleted_by`` names the event)."""

    media: str
    role: str
    file_name: str | None
    data: bytes | None
    sm3: str
    size: int
    event: int
    deleted_by: int | None = None

    @property
    def path(self) -> str | None:
        """Where the file sits in the pack (None once deleted)."""
        return f"media/{self.media}/{self.file_name}" if self.file_name is not None and self.data is not None else None


@dataclass
class PackInputs:
    """Everything a pack holds before it is signed: scope, events with proofs, checkpoints, receipts, keys."""

    pack_id: str
    created_at: str
    tenant: str
    scope: dict[str, Any]
    origin: str
    checkpoint_text: str
    tree_size: int
    events: list[PackEvent]
    attestations: list[dict[str, Any]]
    actor_keys: list[dict[str, Any]]
    log_key_pem: str
    other_checkpoints: dict[int, str] = field(default_factory=dict)
    consistency: list[tuple[int, int, list[bytes]]] = field(default_factory=list)
    anchors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    media: list[MediaItem] = field(default_factory=list)


@dataclass(frozen=True)
class PackSummary:
    """What the certificate shows: the inputs, the evidence digest and the anchors by kind."""

    inputs: PackInputs
    evidence_digest: str
    log_key_fingerprint: str


Render = Callable[[PackSummary], Mapping[str, bytes]]


def pack_files(inputs: PackInputs, *, log_key_fingerprint: str, sign: Callable[[bytes], str], render: Render,
               verify_html: bytes) -> dict[str, bytes]:
    """Every file of the pack, ``manifest.json`` signed by ``sign`` (message → base64 SM2) included.

    ``render`` makes ``report.html`` and ``report.pdf`` from the summary; ``verify_html`` is the browser
    verifier's single file. Returns path → bytes, ready for ``write_pack_zip``.
    """
    files = _evidence_files(inputs)
    files["verify.html"] = verify_html
    hashes: dict[str, str] = {}
    digest = evidence_digest(_file_list(files, hashes))
    files.update(render(PackSummary(inputs, digest, log_key_fingerprint)))
    manifest = {
        "format": PACK_FORMAT, "pack_id": inputs.pack_id, "created_at": inputs.created_at, "tenant": inputs.tenant,
        "scope": inputs.scope,
        "log": {"origin": inputs.origin, "tree_size": inputs.tree_size, "key_fingerprint": log_key_fingerprint},
        "files": _file_list(files, hashes), "evidence_digest": digest,
    }
    files["manifest.json"] = sign_manifest(manifest, sign)
    return files


def sign_manifest(manifest: Mapping[str, Any], sign: Callable[[bytes], str]) -> bytes:
    """canonical(manifest with ``signature``), the signature by ``sign`` over canonical(manifest without it)."""
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return canonical({**body, "signature": sign(canonical(body))})


def evidence_digest(files: list[dict[str, Any]]) -> str:
    """Hex SM3 of canonical(the manifest's file list without report.html and report.pdf)."""
    return sm3(canonical([f for f in files if f["path"] not in REPORT_FILES])).hex()


def _file_list(files: Mapping[str, bytes], hashes: dict[str, str]) -> list[dict[str, Any]]:
    """The manifest's file list; ``hashes`` caches each file's SM3 (the list is made twice)."""
    for path in files:
        if path not in hashes:
            hashes[path] = sm3(files[path]).hex()
    return [{"path": p, "size": len(files[p]), "sm3": hashes[p]}
            for p in sorted(files, key=lambda p: p.encode()) if p != "manifest.json"]


def _evidence_files(inputs: PackInputs) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "events.jsonl": b"".join(e.leaf + b"\n" for e in inputs.events),
        "attestations.jsonl": b"".join(canonical(a) + b"\n" for a in
                                       sorted(inputs.attestations, key=lambda a: sm3(canonical(a)).hex())),
        "proofs/inclusion.json": canonical({"tree_size": inputs.tree_size, "proofs": [
            {"leaf_index": e.leaf_index, "audit_path": [h.hex() for h in e.audit_path]} for e in inputs.events]}),
        "proofs/consistency.json": canonical({"proofs": [
            {"from": a, "to": b, "path": [h.hex() for h in path]} for a, b, path in sorted(inputs.consistency,
                                                                                         key=lambda c: c[:2])]}),
        f"checkpoints/{inputs.tree_size}.txt": inputs.checkpoint_text.encode(),
        "keys/log.pem": inputs.log_key_pem.encode(),
        "keys/actors.json": canonical(sorted(inputs.actor_keys, key=lambda k: k["key_id"])),
        "media/index.json": canonical(_media_index(inputs.media)),
    }
    files.update({f"checkpoints/{size}.txt": text.encode() for size, text in inputs.other_checkpoints.items()})
    files.update({f"payloads/{e.leaf_index}.json": canonical({"salt": e.payload[0], "value": e.payload[1]})
                  for e in inputs.events if e.payload is not None})
    files.update({item.path: item.data for item in inputs.media if item.path is not None and item.data is not None})
    for kind, receipts in inputs.anchors.items():
        files[f"anchors/{kind}.json"] = canonical({"format": ANCHOR_FORMAT, "kind": kind, "kind_version": 1,
                                                   "receipts": sorted(receipts, key=lambda r: r["tree_size"])})
    return files


def _media_index(media: list[MediaItem]) -> list[dict[str, Any]]:
    rows = [{"media": m.media, "role": m.role, "path": m.path, "sm3": m.sm3, "size": m.size, "event": m.event,
             "state": "present" if m.path is not None else "deleted", "deleted_by": m.deleted_by} for m in media]
    return sorted(rows, key=lambda r: (r["media"], r["path"] or "", r["event"]))
