"""Parsing and verification of log checkpoints: C2SP tlog-checkpoint in a C2SP signed note, signed with SM2.

Layout (docs/formats.md, "Checkpoint")::

    <origin>\\n<tree size>\\n<base64 root hash>\\n\\n— <key name> <base64(key hash[4] || DER SM2 signature)>\\n

The signature covers the note body (the three lines with their final newline). The key name is the
origin, and the 4-byte key hash is SM3(key name || 0x0A || SubjectPublicKeyInfo DER)[:4].
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from verifier._json import strict_b64decode
from verifier.errors import BadSignature, KeyMismatch, MalformedInput
from verifier.hashing import HASH_SIZE
from verifier.sm import PublicKey, sm3, verify_sm2

__all__ = ["Checkpoint", "NoteSignature", "key_hash", "verify_checkpoint"]

_SIGNATURE_PREFIX = "\u2014 "  # EM DASH, then a space
_TREE_SIZE = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # C2SP signed note: no controls but newline
_MAX_TREE_SIZE = 2**64 - 1
_MAX_SIGNATURES = 64  # the log's line plus witness cosignatures; more is refused before any is checked


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a signed note: key name, 4-byte key hash and the DER SM2 signature."""

    name: str
    key_hash: bytes
    signature: bytes

    @classmethod
    def from_line(cls, line: str) -> NoteSignature:
        """Parse ``— <name> <base64(key hash || signature)>`` (without the newline)."""
        if not line.startswith(_SIGNATURE_PREFIX):
            raise MalformedInput(
                f"malformed checkpoint: signature line must start with an em dash, got {line[:40]!r}"
            )
        parts = line[len(_SIGNATURE_PREFIX) :].split(" ")
        if len(parts) != 2 or not parts[0] or "+" in parts[0] or any(c.isspace() for c in parts[0]):
            raise MalformedInput(f"malformed checkpoint: want '— <key name> <base64>', got {line[:80]!r}")
        blob = strict_b64decode(parts[1], "malformed checkpoint: signature")
        if len(blob) <= 4:
            raise MalformedInput(
                f"malformed checkpoint: signature too short: got {len(blob)} bytes, want > 4"
            )
        return cls(name=parts[0], key_hash=blob[:4], signature=blob[4:])


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: which log (``origin``), how many leaves, which root, and its signatures.

    ``body`` is the signed note body exactly as it appeared in ``text``.
    """

    origin: str
    tree_size: int
    root_hash: bytes
    signatures: tuple[NoteSignature, ...]
    body: bytes
    text: str

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text strictly; raises ``MalformedInput`` naming the first problem.

        Requires: no control characters but newline, a final newline, exactly three body lines (origin,
        decimal tree size without leading zeros, base64 of a 32-byte root), a blank line, then one to 64
        signature lines.
        """
        if _CONTROL.search(text):
            raise MalformedInput("malformed checkpoint: control character in note text")
        body, blank, signed = text.partition("\n\n")
        if not blank:
            raise MalformedInput("malformed checkpoint: missing blank line between body and signatures")
        lines = body.split("\n")
        if len(lines) != 3:
            raise MalformedInput(f"malformed checkpoint: want 3 body lines, got {len(lines)}")
        if not signed.endswith("\n") or not signed.strip("\n"):
            raise MalformedInput(
                "malformed checkpoint: want one or more signature lines, each ending in a newline"
            )
        lines_signed = signed[:-1].split("\n")
        if len(lines_signed) > _MAX_SIGNATURES:
            raise MalformedInput(
                f"malformed checkpoint: {len(lines_signed)} signature lines, want at most {_MAX_SIGNATURES}"
            )
        signatures = tuple(NoteSignature.from_line(line) for line in lines_signed)
        origin, size, root = lines
        return cls(
            origin=_origin(origin),
            tree_size=_tree_size(size),
            root_hash=_root(root),
            signatures=signatures,
            body=(body + "\n").encode("utf-8"),
            text=text,
        )


def key_hash(name: str, public_key: PublicKey) -> bytes:
    """The 4-byte key hash naming ``public_key`` under key name ``name``: SM3(name || 0x0A || SPKI)[:4]."""
    return sm3(name.encode("utf-8") + b"\n" + public_key.spki_der)[:4]


def verify_checkpoint(checkpoint: Checkpoint, *, public_key_pem: str) -> None:
    """Check that ``checkpoint`` is signed by the log key ``public_key_pem`` (the trusted key, in PEM).

    Steps:
    1. Parse the key (``MalformedInput`` if it is not an SM2 public key).
    2. Select the signature lines whose key name is the origin and whose key hash is that key's;
       lines by other keys (witnesses) are ignored, as C2SP requires. None left: ``KeyMismatch``.
    3. Every selected signature must verify over the note body: else ``BadSignature``.
    """
    key = PublicKey.from_pem(public_key_pem)
    wanted = key_hash(checkpoint.origin, key)
    selected = [s for s in checkpoint.signatures if s.name == checkpoint.origin and s.key_hash == wanted]
    if not selected:
        found = ", ".join(f"{s.name} {s.key_hash.hex()}" for s in checkpoint.signatures)
        raise KeyMismatch(
            f"checkpoint has no signature by the log key: want {checkpoint.origin} {wanted.hex()}, got {found}"
        )
    for line in selected:
        try:
            verify_sm2(key, checkpoint.body, line.signature)
        except BadSignature as exc:
            raise BadSignature(f"checkpoint signature does not verify: {exc}") from exc


def _origin(line: str) -> str:
    if not line:
        raise MalformedInput("malformed checkpoint: empty origin line")
    return line


def _tree_size(line: str) -> int:
    if len(line) > 20 or not _TREE_SIZE.fullmatch(line) or int(line) > _MAX_TREE_SIZE:
        raise MalformedInput(
            f"malformed checkpoint: invalid tree size {line[:40]!r}, want decimal without leading zeros"
        )
    return int(line)


def _root(line: str) -> bytes:
    root = strict_b64decode(line, "malformed checkpoint: root hash")
    if len(root) != HASH_SIZE:
        raise MalformedInput(f"malformed checkpoint: root hash is {len(root)} bytes, want {HASH_SIZE}")
    return root
