"""Mutations of the trusted-time receipts of a pack (``anchors/rfc3161.json``, ``anchors/witness.json``), each
inside a manifest re-signed with the real log key, so that only the receipt check can catch it (a lying
service, or someone holding the log key). Forgeries must be refused (``anchor-rfc3161``, ``anchor-witness``);
an absence (a cosignature that does not count, fewer witnesses than the quorum) must be accepted at the
lower assurance, as C2SP and docs/formats.md ("Anchors") say.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from typing import Any

from ledger.canonical import canonical
from tests.tamper.packs import ACCEPTED, Mutation, PackSource, TimedExtras, resign
from tests.tamper.zipraw import entries_of

__all__ = ["receipt_mutations"]

Edit = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
_TSA, _WITNESS = "anchors/rfc3161.json", "anchors/witness.json"


def receipt_mutations(source: PackSource, rng: random.Random, per_file: int) -> Iterator[Mutation]:
    """Every receipt mutation that applies to ``source`` (none for a pack without trusted time)."""
    files = entries_of(source.data)
    extras = source.timed
    if extras is None or _TSA not in files or _WITNESS not in files:
        return
    full, untimed = "signed+tsa+witnessed", "signed+tsa"
    for name, path, edit, reason, assurance in [*_token_changes(files, extras, rng, per_file),
                                                *_cosignature_changes(files, extras, rng, per_file)]:
        envelope = json.loads(files[path])
        changed = {**files, path: canonical({**envelope, "receipts": edit(envelope["receipts"])})}
        yield Mutation(f"{source.name}/resigned-{name}", resign(changed, source.signer), reason,
                       assurance={"full": full, "untimed": untimed}.get(assurance or ""))


Change = tuple[str, str, Edit, str, str | None]


def _first(edit: Callable[[dict[str, Any]], dict[str, Any]]) -> Edit:
    return lambda receipts: [edit(receipts[0]), *receipts[1:]]


def _token_changes(files: dict[str, bytes], extras: TimedExtras, rng: random.Random, per_file: int) -> Iterator[Change]:
    token = base64.b64decode(json.loads(files[_TSA])["receipts"][0]["token"])
    for offset in sorted({0, len(token) - 1, *(rng.randrange(len(token)) for _ in range(per_file))}):
        flipped = bytearray(token)
        flipped[offset] ^= rng.randrange(1, 256)
        value = base64.b64encode(bytes(flipped)).decode()
        yield f"rfc3161-token-flip@{offset}", _TSA, _first(lambda r, v=value: {**r, "token": v}), "anchor-rfc3161", None
    yield "rfc3161-token-of-other-checkpoint", _TSA, _first(lambda r: {**r, "token": extras.older_token}), \
        "anchor-rfc3161", None
    yield "rfc3161-token-of-untrusted-tsa", _TSA, _first(lambda r: {**r, "token": extras.untrusted_token}), \
        "anchor-rfc3161", None
    yield "rfc3161-token-truncated", _TSA, _first(lambda r: {**r, "token": base64.b64encode(token[:-1]).decode()}), \
        "anchor-rfc3161", None
    # informative fields: the verifiers report the token's own genTime and the trust root's TSA name
    yield "rfc3161-gen-time-claimed-earlier", _TSA, _first(lambda r: {**r, "gen_time": "2000-01-01T00:00:00Z"}), \
        ACCEPTED, "full"


def _cosignature_changes(files: dict[str, bytes], extras: TimedExtras, rng: random.Random,
                         per_file: int) -> Iterator[Change]:
    receipts = json.loads(files[_WITNESS])["receipts"]
    first = receipts[0]
    line = _line(first["checkpoint"])
    name, blob = line[2:].rstrip("\n").split(" ")
    raw = base64.b64decode(blob)
    for offset in sorted({0, len(raw) - 1, *(rng.randrange(4, len(raw)) for _ in range(max(1, per_file // 4)))}):
        flipped = bytearray(raw)
        flipped[offset] ^= rng.randrange(1, 256)
        # a flip in the 4-byte key id makes the line name no trusted key: it is ignored (below the quorum)
        expect = (ACCEPTED, "untimed") if offset < 4 else ("anchor-witness", None)
        yield f"witness-line-flip@{offset}", _WITNESS, _relined(_with_blob(name, bytes(flipped))), *expect
    later = raw[:4] + (int.from_bytes(raw[4:12], "big") + 1).to_bytes(8, "big") + raw[12:]
    yield "witness-timestamp-changed", _WITNESS, _relined(_with_blob(name, later)), "anchor-witness", None
    older = next(x for x in extras.older_lines if x.startswith(f"\u2014 {name} "))
    yield "witness-cosignature-of-other-checkpoint", _WITNESS, _relined(lambda _: older), "anchor-witness", None
    stranger = lambda cp: extras.stranger.cosign(_body(cp), int.from_bytes(raw[4:12], "big"))
    yield "witness-cosigned-by-unknown-key", _WITNESS, _relined(stranger), ACCEPTED, "untimed"
    impostor = lambda cp: _with_blob(name, stranger(cp).split(" ")[-1].strip())(cp)
    yield "witness-trusted-name-other-key", _WITNESS, _relined(impostor), ACCEPTED, "untimed"
    yield "witness-below-quorum", _WITNESS, lambda rs: rs[1:], ACCEPTED, "untimed"
    yield "witness-one-witness-twice", _WITNESS, lambda rs: [rs[0], rs[0], *rs[2:]], ACCEPTED, "untimed"
    yield "witness-timestamp-field-changed", _WITNESS, _first(lambda r: {**r, "timestamp": 1}), ACCEPTED, "full"


def _line(checkpoint: str) -> str:
    return checkpoint[checkpoint.rstrip("\n").rindex("\n") + 1:]


def _body(checkpoint: str) -> bytes:
    return checkpoint[:checkpoint.index("\n\n") + 1].encode()


def _with_blob(name: str, blob: bytes | str) -> Callable[[str], str]:
    text = blob if isinstance(blob, str) else base64.b64encode(blob).decode()
    return lambda _checkpoint: f"\u2014 {name} {text}\n"


def _relined(new_line: Callable[[str], str]) -> Edit:
    """Replace the cosignature line of the first receipt by ``new_line(checkpoint)``."""
    def edit(receipts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cp = receipts[0]["checkpoint"]
        return [{**receipts[0], "checkpoint": cp[:len(cp) - len(_line(cp))] + new_line(cp)}, *receipts[1:]]
    return edit
