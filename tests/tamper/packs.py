"""Mutations of real evidence packs, each with the reason class a verifier must refuse it with.

Reusable by both verifiers: ``mutations(sources)`` yields ``Mutation`` objects; ``python -m
tests.tamper.packs --out DIR [--count N]`` builds real packs and writes ``DIR/<n>.zip`` with
``DIR/expected.jsonl`` (one ``{"file", "name", "reason", "path"}`` per line; ``path`` only for the classes
whose file both verifiers must name) and ``DIR/trust-root.json``, so the browser verifier can be run
over the same set ("both verifiers agree").

Families (docs/formats.md, "Verification order"):
- bytes flipped at sampled offsets of every file and of every zip structure: data → ``file-hash`` (the CRC-32
  catches any change of up to 32 bits), anything else → ``zip``;
- files removed, added (valid and hostile names), swapped between packs, and manifests from other packs;
- a lying service (manifest re-signed with the real log key after a change): events reordered or dropped,
  proofs for other leaves, an older checkpoint, payloads, keys, media and receipts changed (the Fabric and EVM
  receipts of a chain pack too: ``tests/tamper/chain.py``);
- manifests and checkpoints re-signed with other keys.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from evidence_api.services.pack_files import evidence_digest, sign_manifest
from evidence_api.services.pack_zip import write_pack_zip
from ledger.canonical import canonical
from ledger.sm import Signer, sm3
from tests.tamper.chain import chain_anchor_changes
from tests.tamper.zipraw import entries_of, layout, raw_zip

__all__ = ["Mutation", "PackSource", "mutations", "resign"]

PATH_CLASSES = frozenset({"missing-file", "extra-file", "file-hash"})


@dataclass(frozen=True)
class Mutation:
    """One mutated pack, the reason class it must be refused with and, for file classes, the file."""

    name: str
    data: bytes
    reason: str
    path: str | None = None


@dataclass(frozen=True)
class PackSource:
    """A real pack, the signer of its log (to play a lying service) and a key the trust root does not name."""

    name: str
    data: bytes
    signer: Signer
    stranger: Signer
    older_checkpoint: tuple[int, str] | None = None


def resign(files: dict[str, bytes], signer: Signer, *, edit: Callable[[dict[str, Any]], None] | None = None) -> bytes:
    """The pack of ``files`` with its manifest rebuilt (file list, digest) and signed by ``signer``."""
    manifest = json.loads(files["manifest.json"])
    manifest["files"] = [{"path": p, "size": len(files[p]), "sm3": sm3(files[p]).hex()}
                         for p in sorted(files, key=lambda p: p.encode()) if p != "manifest.json"]
    manifest["evidence_digest"] = evidence_digest(manifest["files"])
    if edit is not None:
        edit(manifest)
    manifest.pop("signature", None)
    return write_pack_zip({**files, "manifest.json": sign_manifest(manifest, signer.sign_b64)})


def mutations(sources: list[PackSource], *, flips_per_file: int = 40, seed: int = 11) -> Iterator[Mutation]:
    """Every family over every source; ``flips_per_file`` sampled offsets per file (and per structure)."""
    rng = random.Random(seed)
    for index, source in enumerate(sources):
        other = sources[(index + 1) % len(sources)]
        yield from _flips(source, rng, flips_per_file)
        yield from _files(source, other)
        yield from _lying_service(source)
        yield from _strangers(source)


def _flips(source: PackSource, rng: random.Random, per_file: int) -> Iterator[Mutation]:
    for region in layout(source.data):
        count = min(region.length, per_file)
        offsets = sorted({region.start, region.start + region.length - 1,
                          *(rng.randrange(region.start, region.start + region.length) for _ in range(count))})
        for offset in offsets:
            mutated = bytearray(source.data)
            mutated[offset] ^= rng.randrange(1, 256)
            reason, path = ("file-hash", region.path) if region.kind == "data" else ("zip", None)
            yield Mutation(f"{source.name}/flip-{region.kind}-{region.path or 'end'}@{offset}", bytes(mutated),
                           reason, path)


def _files(source: PackSource, other: PackSource) -> Iterator[Mutation]:
    files = entries_of(source.data)
    theirs = entries_of(other.data)
    for path in files:
        rest = {p: d for p, d in files.items() if p != path}
        yield Mutation(f"{source.name}/removed-{path}", write_pack_zip(rest),
                       "manifest" if path == "manifest.json" else "missing-file",
                       None if path == "manifest.json" else path)
    for path in ("payloads/999999.json", "media/extra/0.jpg", "anchors/fabric.json", "zz-notes.txt"):
        if path in files:  # a chain pack has its own anchors/fabric.json
            continue
        yield Mutation(f"{source.name}/added-{path}", write_pack_zip({**files, path: b"{}"}), "extra-file", path)
    for name, entries in _hostile(files):
        yield Mutation(f"{source.name}/hostile-{name}", raw_zip(entries), "zip")
    for path in sorted(set(files) & set(theirs)):
        if files[path] != theirs[path]:
            swapped = {**files, path: theirs[path]}
            reason, where = _expected_after_swap(swapped)
            yield Mutation(f"{source.name}/swapped-{path}-from-{other.name}", write_pack_zip(swapped), reason, where)
    yield Mutation(f"{source.name}/trailing-bytes", source.data + b"\0", "zip")
    yield Mutation(f"{source.name}/truncated", source.data[:-1], "zip")
    yield Mutation(f"{source.name}/not-a-zip", b"PK\x03\x04" + source.data[4:64], "zip")


def _hostile(files: dict[str, bytes]) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    ordered = sorted(files.items(), key=lambda kv: kv[0].encode())
    for bad in ("../evil.txt", "/etc/passwd", "a\\b.txt", "media/./x.jpg", "media//x.jpg", "dir/"):
        yield f"name-{bad}", sorted([*ordered, (bad, b"x")], key=lambda kv: kv[0].encode())
    yield "duplicate-events.jsonl", sorted([*ordered, ("events.jsonl", b"")], key=lambda kv: kv[0].encode())
    yield "case-duplicate", sorted([*ordered, ("Events.jsonl", b"")], key=lambda kv: kv[0].encode())
    yield "unsorted", list(reversed(ordered))


def _expected_after_swap(files: dict[str, bytes]) -> tuple[str, str | None]:
    """What the first failing check is once a file comes from another pack (the manifest may be theirs)."""
    manifest = json.loads(files["manifest.json"])
    listed = [f["path"] for f in manifest["files"]]
    for path in listed:
        if path not in files:
            return "missing-file", path
    for path in sorted(files, key=lambda p: p.encode()):
        if path != "manifest.json" and path not in listed:
            return "extra-file", path
    for item in manifest["files"]:
        if sm3(files[item["path"]]).hex() != item["sm3"]:
            return "file-hash", item["path"]
    raise AssertionError("a swap that changes nothing")


def _lying_service(source: PackSource) -> Iterator[Mutation]:
    files = entries_of(source.data)
    for name, change, reason in _semantic_changes(source, files):
        changed = dict(files)
        edit = change(changed)
        if changed != files:
            yield Mutation(f"{source.name}/unsigned-{name}", write_pack_zip(changed), *_expected_after_swap(changed))
        yield Mutation(f"{source.name}/resigned-{name}", resign(changed, source.signer, edit=edit), reason)


Change = Callable[[dict[str, bytes]], Callable[[dict[str, Any]], None] | None]


def _semantic_changes(source: PackSource, files: dict[str, bytes]) -> Iterator[tuple[str, Change, str]]:
    events = files["events.jsonl"].split(b"\n")[:-1]
    inclusion = json.loads(files["proofs/inclusion.json"])
    size = inclusion["tree_size"]
    chained = json.loads(files["manifest.json"])["scope"]["kind"] == "permit"
    if len(events) >= 3:
        yield "events-swapped", _set("events.jsonl", _lines([events[1], events[0], *events[2:]])), "inclusion-proof"
        if chained:  # a worker's events are not chained, and an area pack may start anywhere in a chain
            yield "event-dropped", _drop_event(events, inclusion, 1), "chain-gap"
            yield "first-event-dropped", _drop_event(events, inclusion, 0), "chain-gap"
        yield "events-and-proofs-swapped", _swap_both(events, inclusion), "inclusion-proof"
        proofs = inclusion["proofs"]
        other = {**inclusion, "proofs": [{**proofs[0], "audit_path": proofs[-1]["audit_path"]}, *proofs[1:]]}
        yield "proof-of-other-leaf", _set("proofs/inclusion.json", canonical(other)), "inclusion-proof"
        shifted = {**inclusion, "proofs": [{**proofs[0], "leaf_index": proofs[1]["leaf_index"]}, *proofs[1:]]}
        yield "proof-index-of-other-leaf", _set("proofs/inclusion.json", canonical(shifted)), "inclusion-proof"
    if source.older_checkpoint is not None:
        yield "older-checkpoint", _older(source.older_checkpoint, size), "inclusion-proof"
    yield "checkpoint-renamed", _rename_checkpoint(size), "checkpoint-signature"
    yield "checkpoint-signed-by-stranger", _stranger_checkpoint(files, size, source.stranger), "checkpoint-signature"
    yield "log-key-stranger", _set("keys/log.pem", source.stranger.public.to_pem().encode()), "checkpoint-signature"
    yield from _payload_changes(files)
    yield from _key_changes(files, source)
    yield from _media_changes(files)
    yield from _anchor_changes(files)
    yield from chain_anchor_changes(files)
    yield "scope-other-permit", lambda f: _scope_edit, "scope"
    yield "events-not-parsable", _set("events.jsonl", files["events.jsonl"] + b"{\n"), "malformed"
    yield "digest-wrong", lambda f: _digest_edit, "manifest"


def _set(path: str, data: bytes) -> Change:
    def change(files: dict[str, bytes]) -> None:
        files[path] = data
    return change


def _lines(lines: list[bytes]) -> bytes:
    return b"".join(line + b"\n" for line in lines)


def _drop_event(events: list[bytes], inclusion: dict[str, Any], k: int) -> Change:
    def change(files: dict[str, bytes]) -> None:
        index = inclusion["proofs"][k]["leaf_index"]
        files["events.jsonl"] = _lines(events[:k] + events[k + 1:])
        files["proofs/inclusion.json"] = canonical({**inclusion, "proofs": inclusion["proofs"][:k] +
                                                    inclusion["proofs"][k + 1:]})
        files.pop(f"payloads/{index}.json", None)
        media = [m for m in json.loads(files["media/index.json"]) if index not in (m["event"], m["deleted_by"])]
        files["media/index.json"] = canonical(media)
    return change


def _swap_both(events: list[bytes], inclusion: dict[str, Any]) -> Change:
    proofs = inclusion["proofs"]
    return lambda files: files.update({
        "events.jsonl": _lines([events[1], events[0], *events[2:]]),
        "proofs/inclusion.json": canonical({**inclusion, "proofs": [proofs[1], proofs[0], *proofs[2:]]})})


def _older(older: tuple[int, str], size: int) -> Change:
    def change(files: dict[str, bytes]) -> Callable[[dict[str, Any]], None]:
        files.pop(f"checkpoints/{size}.txt")
        files[f"checkpoints/{older[0]}.txt"] = older[1].encode()
        for path in [p for p in files if p.startswith("anchors/")]:
            files.pop(path)
        files["proofs/consistency.json"] = canonical({"proofs": []})
        for path in [p for p in files if p.startswith("checkpoints/") and p != f"checkpoints/{older[0]}.txt"]:
            files.pop(path)
        return lambda manifest: manifest["log"].update(tree_size=older[0])
    return change


def _rename_checkpoint(size: int) -> Change:
    def change(files: dict[str, bytes]) -> Callable[[dict[str, Any]], None]:
        files[f"checkpoints/{size + 1000}.txt"] = files.pop(f"checkpoints/{size}.txt")
        return lambda manifest: manifest["log"].update(tree_size=size + 1000)
    return change


def _stranger_checkpoint(files: dict[str, bytes], size: int, stranger: Signer) -> Change:
    from ledger.checkpoint import Checkpoint, SignedCheckpoint

    signed = SignedCheckpoint.from_text(files[f"checkpoints/{size}.txt"].decode())
    text = Checkpoint(signed.checkpoint.origin, size, signed.checkpoint.root_hash).sign(stranger).text
    return _set(f"checkpoints/{size}.txt", text.encode())


def _payload_changes(files: dict[str, bytes]) -> Iterator[tuple[str, Change, str]]:
    payloads = sorted(p for p in files if p.startswith("payloads/"))
    if payloads:
        value = json.loads(files[payloads[0]])
        yield "payload-changed", _set(payloads[0], canonical({**value, "value": {"forged": True}})), "payload-commitment"
        yield "payload-salt-changed", _set(payloads[0], canonical({**value, "salt": "00" * 16})), "payload-commitment"
        yield "payload-of-no-event", _set("payloads/999999.json", files[payloads[0]]), "payload-commitment"


def _key_changes(files: dict[str, bytes], source: PackSource) -> Iterator[tuple[str, Change, str]]:
    keys = json.loads(files["keys/actors.json"])
    pem = source.stranger.public.to_pem()
    swapped = [{**keys[0], "public_key": pem, "fingerprint": source.stranger.public.fingerprint()}, *keys[1:]]
    yield "actor-key-replaced", _set("keys/actors.json", canonical(swapped)), "event-signature"
    yield "actor-key-removed", _set("keys/actors.json", canonical(keys[1:])), "event-signature"


def _media_changes(files: dict[str, bytes]) -> Iterator[tuple[str, Change, str]]:
    media = json.loads(files["media/index.json"])
    present = [m for m in media if m["state"] == "present"]
    deleted = [m for m in media if m["state"] == "deleted"]
    if present:
        yield "media-file-replaced", _set(present[0]["path"], b"another picture"), "media-hash"
        wrong = [{**m, "sm3": "00" * 32} if m is present[0] else m for m in media]
        yield "media-entry-hash", _set("media/index.json", canonical(wrong)), "media-hash"
    if deleted:
        bad = [{**m, "deleted_by": m["event"]} if m is deleted[0] else m for m in media]
        yield "media-deletion-wrong-event", _set("media/index.json", canonical(bad)), "media-deletion"


def _anchor_changes(files: dict[str, bytes]) -> Iterator[tuple[str, Change, str]]:
    if "anchors/local.json" not in files:
        return
    envelope = json.loads(files["anchors/local.json"])
    receipt = envelope["receipts"][0]
    entry = {**receipt["entry"], "anchored_at": "2020-01-01T00:00:00Z"}
    forged = {**envelope, "receipts": [{**receipt, "entry": entry}, *envelope["receipts"][1:]]}
    yield "local-entry-forged", _set("anchors/local.json", canonical(forged)), "anchor-local"
    if "proofs/consistency.json" in files and json.loads(files["proofs/consistency.json"])["proofs"]:
        proofs = json.loads(files["proofs/consistency.json"])
        first = proofs["proofs"][0]
        path = first["path"][:-1] if first["path"] else ["00" * 32]
        bad = {"proofs": [{**first, "path": path}, *proofs["proofs"][1:]]}
        yield "consistency-proof-broken", _set("proofs/consistency.json", canonical(bad)), "consistency-proof"


def _scope_edit(manifest: dict[str, Any]) -> None:
    scope = manifest["scope"]
    key = "worker" if scope["kind"] == "worker" else "area" if scope["kind"] == "area" else "permit"
    if key == "area":
        manifest["scope"] = {**scope, "permits": ["ZZ-OTHER"]}
    else:
        manifest["scope"] = {**scope, key: "ZZ-OTHER"}


def _digest_edit(manifest: dict[str, Any]) -> None:
    manifest["evidence_digest"] = "00" * 32


def _strangers(source: PackSource) -> Iterator[Mutation]:
    files = entries_of(source.data)
    stranger = source.stranger
    fp = stranger.public.fingerprint()
    yield Mutation(f"{source.name}/manifest-resigned-by-stranger",
                   resign(files, stranger, edit=lambda m: m["log"].update(key_fingerprint=fp)), "manifest-signature")
    yield Mutation(f"{source.name}/manifest-signed-by-stranger-claims-log-key", resign(files, stranger),
                   "manifest-signature")
    manifest = json.loads(files["manifest.json"])
    pretty = json.dumps(manifest, indent=1).encode()
    yield Mutation(f"{source.name}/manifest-not-canonical", write_pack_zip({**files, "manifest.json": pretty}), "manifest")
    wrong = canonical({**manifest, "format": "tiezheng.pack/v0"})
    yield Mutation(f"{source.name}/manifest-other-format", write_pack_zip({**files, "manifest.json": wrong}), "manifest")

