"""The pack manifest (docs/formats.md, "Manifest" and "Scope"): strict parsing, reason class ``manifest``.

The manifest lists every other file with its size and SM3, names the log and its key, the scope, and the
``evidence_digest`` the certificate shows; it is signed by the log key. Parsing checks structure only; the
signature is checked by ``verifier.pack`` once the trust root has named the keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from verifier._json import (
    JSONObject,
    b64_field,
    canonical,
    hex_field,
    int_field,
    list_field,
    loads,
    object_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.errors import MalformedInput
from verifier.pack_errors import PackUnusable, refuse
from verifier.pack_zip import MAX_ENTRIES, check_path
from verifier.sm import sm3

__all__ = ["PACK_FORMAT", "REQUIRED_FILES", "Manifest", "ManifestFile", "as_reason"]

PACK_FORMAT = "tiezheng.pack/v1"
REQUIRED_FILES = ("events.jsonl", "attestations.jsonl", "media/index.json", "proofs/inclusion.json",
                  "proofs/consistency.json", "keys/log.pem", "keys/actors.json", "report.html", "report.pdf",
                  "verify.html")
_REPORTS = frozenset({"report.html", "report.pdf"})
_FIELDS = ("format", "pack_id", "created_at", "tenant", "scope", "log", "files", "evidence_digest", "signature")
_NUMBER = r"(?:0|[1-9][0-9]{0,15})"
_PATTERNS = re.compile(
    rf"payloads/{_NUMBER}\.json|checkpoints/{_NUMBER}\.txt|anchors/[a-z0-9][a-z0-9-]{{0,31}}\.json"
    r"|media/[A-Za-z0-9._-]+/[A-Za-z0-9._-]+"
)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@#-]{0,63}")
_SCOPES = {"permit": ("kind", "permit"), "area": ("kind", "area", "from", "to", "permits"), "worker": ("kind", "worker")}


@contextmanager
def as_reason(reason: str, path: str | None) -> Iterator[None]:
    """Turn a verifier error raised inside into the refusal of class ``reason`` about ``path``."""
    try:
        yield
    except PackUnusable:
        raise
    except MalformedInput as exc:
        refuse(reason, f"{path}: {exc.message}" if path else exc.message, path=path)


@dataclass(frozen=True)
class ManifestFile:
    """One listed file: its path, size in bytes and SM3."""

    path: str
    size: int
    sm3: bytes


@dataclass(frozen=True)
class Manifest:
    """A structurally valid manifest; ``fields`` is the parsed object, ``signed_bytes`` what was signed."""

    fields: JSONObject
    pack_id: str
    created_at: str
    tenant: str
    scope: JSONObject
    origin: str
    tree_size: int
    key_fingerprint: str
    files: tuple[ManifestFile, ...]
    evidence_digest: bytes
    signature: bytes
    signed_bytes: bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse ``manifest.json``; raises ``PackUnusable`` (``manifest``) naming the first bad field."""
        with as_reason("manifest", "manifest.json"):
            obj = require_object(loads(data, "manifest.json"), "manifest")
            if canonical(obj) != data:
                raise MalformedInput("manifest is not in canonical form (RFC 8785)")
            fmt = str_field(obj, "format", "manifest")
            if fmt != PACK_FORMAT:
                raise MalformedInput(f"format is {fmt[:80]!r}, want {PACK_FORMAT!r}")
            require_fields(obj, "manifest", required=_FIELDS)
            return cls._from_object(obj)
        raise AssertionError("unreachable")  # pragma: no cover - as_reason always raises on error

    @classmethod
    def _from_object(cls, obj: JSONObject) -> Manifest:
        log = object_field(obj, "log", "manifest")
        require_fields(log, "manifest.log", required=("origin", "tree_size", "key_fingerprint"))
        files = _files(obj)
        digest = hex_field(obj, "evidence_digest", "manifest")
        want = sm3(canonical([f for f in obj["files"] if f["path"] not in _REPORTS]))
        if digest != want:
            raise MalformedInput(f"evidence_digest is {digest.hex()}, want {want.hex()} (from the file list)")
        tree_size = int_field(log, "tree_size", "manifest.log")
        _require_listed(files, tree_size)
        hex_field(log, "key_fingerprint", "manifest.log")
        return cls(
            fields=obj, pack_id=_id_text(obj, "pack_id"), created_at=str_field(obj, "created_at", "manifest"),
            tenant=_id_text(obj, "tenant"), scope=_scope(obj), origin=str_field(log, "origin", "manifest.log"),
            tree_size=tree_size, key_fingerprint=str_field(log, "key_fingerprint", "manifest.log"), files=files,
            evidence_digest=digest, signature=b64_field(obj, "signature", "manifest"),
            signed_bytes=canonical({k: v for k, v in obj.items() if k != "signature"}),
        )

    def listed(self) -> dict[str, ManifestFile]:
        """The listed files by path."""
        return {f.path: f for f in self.files}


def _files(obj: JSONObject) -> tuple[ManifestFile, ...]:
    out: list[ManifestFile] = []
    for i, value in enumerate(list_field(obj, "files", "manifest", max_items=MAX_ENTRIES)):
        where = f"manifest.files[{i}]"
        item = require_object(value, where)
        require_fields(item, where, required=("path", "size", "sm3"))
        path = str_field(item, "path", where)
        try:
            check_path(path)
        except PackUnusable as exc:
            raise MalformedInput(f"{where}.path: {exc.message}") from exc
        if path not in REQUIRED_FILES and not _PATTERNS.fullmatch(path) and not path.startswith("checkpoints/"):
            raise MalformedInput(f"{where}.path {path!r} is not a file of a v1 pack")
        if out and path.encode() <= out[-1].path.encode():
            raise MalformedInput(f"{where}.path {path!r} is not after {out[-1].path!r}: paths must ascend, once each")
        out.append(ManifestFile(path, int_field(item, "size", where), hex_field(item, "sm3", where)))
    return tuple(out)


def _require_listed(files: tuple[ManifestFile, ...], tree_size: int) -> None:
    listed = {f.path for f in files}
    checkpoint = f"checkpoints/{tree_size}.txt"
    for path in (*REQUIRED_FILES, checkpoint):
        if path not in listed:
            raise MalformedInput(f"required file {path!r} is not listed")
    if "manifest.json" in listed:
        raise MalformedInput("the manifest lists itself")
    bad = [p for p in listed if p.startswith("checkpoints/") and not _PATTERNS.fullmatch(p)]
    if bad:
        raise MalformedInput(f"checkpoint file name {bad[0]!r} is not checkpoints/<tree size>.txt")


def _id_text(obj: JSONObject, key: str, where: str = "manifest") -> str:
    value = str_field(obj, key, where)
    if not _ID.fullmatch(value):
        raise MalformedInput(f"{where}.{key} {value[:80]!r} is not an id ([A-Za-z0-9][A-Za-z0-9._:@#-]{{0,63}})")
    return value


def _scope(obj: JSONObject) -> JSONObject:
    scope = object_field(obj, "scope", "manifest")
    kind = str_field(scope, "kind", "manifest.scope")
    if kind not in _SCOPES:
        raise MalformedInput(f"manifest.scope.kind {kind[:40]!r} is not one of {', '.join(sorted(_SCOPES))}")
    require_fields(scope, "manifest.scope", required=_SCOPES[kind])
    for key in _SCOPES[kind][1:]:
        if key in ("from", "to"):
            str_field(scope, key, "manifest.scope")
        elif key == "permits":
            _permits(scope)
        else:
            _id_text(scope, key, "manifest.scope")
    return scope


def _permits(scope: JSONObject) -> None:
    permits: list[Any] = list_field(scope, "permits", "manifest.scope", max_items=100_000)
    if any(type(p) is not str or not _ID.fullmatch(p) for p in permits) or permits != sorted(set(permits)):
        raise MalformedInput("manifest.scope.permits must be ascending, distinct permit ids")
