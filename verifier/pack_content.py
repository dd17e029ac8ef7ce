"""Parsing the files of a pack whose hashes the signed manifest vouches for (reason class ``malformed``).

Each file is read strictly (docs/formats.md, "Strictness"; JSON files must be canonical). Nothing here checks
a signature or a proof: ``verifier.pack_checks`` does, in the order of the reason table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verifier._json import (
    JSONObject,
    canonical,
    hex_field,
    hex_list_field,
    int_field,
    list_field,
    loads,
    object_field,
    optional_int_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.checkpoint import Checkpoint
from verifier.errors import MalformedInput
from verifier.events import Attestation, Event, Payload
from verifier.merkle import MAX_CONSISTENCY_HASHES, MAX_INCLUSION_HASHES
from verifier.pack_manifest import Manifest, as_reason
from verifier.sm import PublicKey, sm3

__all__ = ["ANCHOR_FORMAT", "ActorKey", "InclusionProof", "MediaEntry", "PackContent", "Receipts", "read_content"]

ANCHOR_FORMAT = "tiezheng.anchor/v1"
_MAX_EVENTS = 1_000_000
_MAX_RECEIPTS = 4096


@dataclass(frozen=True)
class InclusionProof:
    """The audit path of one event (line of ``events.jsonl``) to the pack checkpoint."""

    leaf_index: int
    audit_path: tuple[bytes, ...]


@dataclass(frozen=True)
class ActorKey:
    """An entry of ``keys/actors.json``: a key id, the actor it was registered for, and the key."""

    key_id: str
    actor: JSONObject
    key: PublicKey


@dataclass(frozen=True)
class MediaEntry:
    """An entry of ``media/index.json``."""

    media: str
    role: str
    path: str | None
    sm3: bytes
    size: int
    event: int
    state: str
    deleted_by: int | None


@dataclass(frozen=True)
class Receipts:
    """One ``anchors/<kind>.json`` envelope: its kind, kind version and receipts (objects)."""

    kind: str
    kind_version: int
    receipts: tuple[JSONObject, ...]


@dataclass(frozen=True)
class PackContent:
    """Every file of the pack, parsed."""

    manifest: Manifest
    files: dict[str, bytes]
    checkpoints: dict[int, Checkpoint]
    events: tuple[Event, ...]
    event_lines: tuple[bytes, ...]
    attestations: dict[bytes, Attestation]
    inclusion_size: int
    inclusion: tuple[InclusionProof, ...]
    consistency: tuple[tuple[int, int, tuple[bytes, ...]], ...]
    payloads: dict[int, Payload]
    log_key: PublicKey
    actor_keys: dict[str, ActorKey]
    media: tuple[MediaEntry, ...]
    anchors: tuple[Receipts, ...]

    @property
    def checkpoint(self) -> Checkpoint:
        """The pack checkpoint, the one every inclusion proof is against."""
        return self.checkpoints[self.manifest.tree_size]


def read_content(manifest: Manifest, files: dict[str, bytes]) -> PackContent:
    """Parse every listed file (already hash-checked); raises ``PackUnusable`` (``malformed``) naming the file."""
    size, inclusion = _inclusion(files)
    events, lines = _events(files["events.jsonl"])
    return PackContent(
        manifest=manifest, files=files,
        checkpoints={_size_of(p): _checkpoint(p, files[p]) for p in files if p.startswith("checkpoints/")},
        events=events, event_lines=lines, attestations=_attestations(files["attestations.jsonl"]),
        inclusion_size=size, inclusion=inclusion, consistency=_consistency(files),
        payloads={_size_of(p): _payload(p, files[p]) for p in files if p.startswith("payloads/")},
        log_key=_pem("keys/log.pem", files["keys/log.pem"]), actor_keys=_actor_keys(files["keys/actors.json"]),
        media=_media(files["media/index.json"]),
        anchors=tuple(_receipts(p, files[p]) for p in files if p.startswith("anchors/")),
    )


def _json(path: str, data: bytes) -> Any:
    value = loads(data, path)
    if canonical(value) != data:
        raise MalformedInput("not in canonical form (RFC 8785)")
    return value


def _size_of(path: str) -> int:
    return int(path.rsplit("/", 1)[1].split(".")[0])


def _checkpoint(path: str, data: bytes) -> Checkpoint:
    with as_reason("malformed", path):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedInput("checkpoint is not UTF-8") from exc
        return Checkpoint.from_text(text)
    raise AssertionError("unreachable")  # pragma: no cover


def _lines(path: str, data: bytes, limit: int) -> list[bytes]:
    if data and not data.endswith(b"\n"):
        raise MalformedInput("the last line does not end with a newline")
    lines = data.split(b"\n")[:-1]
    if len(lines) > limit:
        raise MalformedInput(f"{len(lines)} lines, want at most {limit}")
    return lines


def _events(data: bytes) -> tuple[tuple[Event, ...], tuple[bytes, ...]]:
    """The events and their lines: a line is the canonical event, so its bytes are the leaf bytes."""
    path = "events.jsonl"
    with as_reason("malformed", path):
        events, lines = [], _lines(path, data, _MAX_EVENTS)
        for number, line in enumerate(lines, start=1):
            try:
                events.append(Event.from_json(_json(path, line)))
            except MalformedInput as exc:
                raise MalformedInput(f"line {number}: {exc.message}") from exc
        return tuple(events), tuple(lines)
    raise AssertionError("unreachable")  # pragma: no cover


def _attestations(data: bytes) -> dict[bytes, Attestation]:
    path = "attestations.jsonl"
    with as_reason("malformed", path):
        out: dict[bytes, Attestation] = {}
        for line in _lines(path, data, _MAX_EVENTS):
            attestation = Attestation.from_json(_json(path, line))
            out[sm3(line)] = attestation
        if list(out) != sorted(out) or len(out) != len(_lines(path, data, _MAX_EVENTS)):
            raise MalformedInput("attestations must ascend by their SM3, each once")
        return out
    raise AssertionError("unreachable")  # pragma: no cover


def _inclusion(files: dict[str, bytes]) -> tuple[int, tuple[InclusionProof, ...]]:
    path = "proofs/inclusion.json"
    with as_reason("malformed", path):
        obj = require_object(_json(path, files[path]), path)
        require_fields(obj, path, required=("tree_size", "proofs"))
        proofs = []
        for i, item in enumerate(list_field(obj, "proofs", path, max_items=_MAX_EVENTS)):
            where = f"{path} proofs[{i}]"
            item = require_object(item, where)
            require_fields(item, where, required=("leaf_index", "audit_path"))
            proofs.append(InclusionProof(int_field(item, "leaf_index", where),
                                         hex_list_field(item, "audit_path", where, max_items=MAX_INCLUSION_HASHES)))
        return int_field(obj, "tree_size", path), tuple(proofs)
    raise AssertionError("unreachable")  # pragma: no cover


def _consistency(files: dict[str, bytes]) -> tuple[tuple[int, int, tuple[bytes, ...]], ...]:
    path = "proofs/consistency.json"
    with as_reason("malformed", path):
        obj = require_object(_json(path, files[path]), path)
        require_fields(obj, path, required=("proofs",))
        out = []
        for i, item in enumerate(list_field(obj, "proofs", path, max_items=_MAX_RECEIPTS)):
            where = f"{path} proofs[{i}]"
            item = require_object(item, where)
            require_fields(item, where, required=("from", "to", "path"))
            out.append((int_field(item, "from", where), int_field(item, "to", where),
                        hex_list_field(item, "path", where, max_items=MAX_CONSISTENCY_HASHES)))
        return tuple(out)
    raise AssertionError("unreachable")  # pragma: no cover


def _payload(path: str, data: bytes) -> Payload:
    with as_reason("malformed", path):
        return Payload.from_json(_json(path, data))
    raise AssertionError("unreachable")  # pragma: no cover


def _pem(path: str, data: bytes) -> PublicKey:
    with as_reason("malformed", path):
        try:
            return PublicKey.from_pem(data.decode("ascii"))
        except UnicodeDecodeError as exc:
            raise MalformedInput("not ASCII PEM") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _actor_keys(data: bytes) -> dict[str, ActorKey]:
    path = "keys/actors.json"
    with as_reason("malformed", path):
        out: dict[str, ActorKey] = {}
        for i, item in enumerate(_json_list(path, data)):
            where = f"{path}[{i}]"
            item = require_object(item, where)
            require_fields(item, where, required=("key_id", "actor", "fingerprint", "public_key"))
            key = PublicKey.from_pem(str_field(item, "public_key", where))
            if str_field(item, "fingerprint", where) != key.fingerprint():
                raise MalformedInput(f"{where}.fingerprint is not the key's: want {key.fingerprint()}")
            key_id = str_field(item, "key_id", where)
            if out and key_id <= list(out)[-1]:
                raise MalformedInput(f"{where}.key_id {key_id[:80]!r} out of order: key ids ascend, each once")
            out[key_id] = ActorKey(key_id, object_field(item, "actor", where), key)
        return out
    raise AssertionError("unreachable")  # pragma: no cover


def _json_list(path: str, data: bytes) -> list[Any]:
    value = _json(path, data)
    if not isinstance(value, list) or len(value) > _MAX_EVENTS:
        raise MalformedInput(f"want a JSON array of at most {_MAX_EVENTS} items")
    return value


def _media(data: bytes) -> tuple[MediaEntry, ...]:
    path = "media/index.json"
    with as_reason("malformed", path):
        return tuple(_media_entry(f"{path}[{i}]", item) for i, item in enumerate(_json_list(path, data)))
    raise AssertionError("unreachable")  # pragma: no cover


def _media_entry(where: str, value: Any) -> MediaEntry:
    item = require_object(value, where)
    require_fields(item, where, required=("media", "role", "path", "sm3", "size", "event", "state", "deleted_by"))
    state, role = str_field(item, "state", where), str_field(item, "role", where)
    if state not in ("present", "deleted") or role not in ("keyframe", "video", "photo"):
        raise MalformedInput(f"{where}: state {state[:20]!r} or role {role[:20]!r} is not a v1 value")
    path = item["path"]
    if path is not None and (type(path) is not str or not path.startswith(f"media/{item['media']}/")):
        raise MalformedInput(f"{where}.path must be null or media/<media>/<file>")
    return MediaEntry(str_field(item, "media", where), role, path, hex_field(item, "sm3", where),
                      int_field(item, "size", where), int_field(item, "event", where), state,
                      optional_int_field(item, "deleted_by", where))


def _receipts(path: str, data: bytes) -> Receipts:
    with as_reason("malformed", path):
        obj = require_object(_json(path, data), path)
        require_fields(obj, path, required=("format", "kind", "kind_version", "receipts"))
        kind = str_field(obj, "kind", path)
        if str_field(obj, "format", path) != ANCHOR_FORMAT or path != f"anchors/{kind}.json":
            raise MalformedInput(f"want format {ANCHOR_FORMAT!r} and kind {path[8:-5]!r}")
        receipts = []
        for i, item in enumerate(list_field(obj, "receipts", path, max_items=_MAX_RECEIPTS)):
            receipt = require_object(item, f"{path} receipts[{i}]")
            int_field(receipt, "tree_size", f"{path} receipts[{i}]")
            hex_field(receipt, "root_hash", f"{path} receipts[{i}]")
            receipts.append(receipt)
        return Receipts(kind, int_field(obj, "kind_version", path), tuple(receipts))
    raise AssertionError("unreachable")  # pragma: no cover
