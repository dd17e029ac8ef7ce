"""Signed tree heads in the C2SP tlog-checkpoint text form (a C2SP signed note), signed with SM2.

Layout (see docs/formats.md)::

    <origin>\\n<tree size>\\n<base64 root>\\n\\n— <key name> <base64(key hash[4] || DER signature)>\\n

The signature covers the body (the three lines). SM2 has no C2SP signature-type byte, so the 4-byte key hash
is SM3(key name || 0x0A || SubjectPublicKeyInfo DER)[:4].
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from ledger.errors import InvalidSignature, MalformedInput
from ledger.hashing import HASH_SIZE
from ledger.sm import Signer, SM2PublicKey, sm3

__all__ = ["Checkpoint", "SignedCheckpoint", "key_hash"]

_SIG_PREFIX = "\u2014 "
_SIZE = re.compile(r"0|[1-9][0-9]*")


def key_hash(name: str, public: SM2PublicKey) -> bytes:
    """The 4-byte key hash that names the signing key in a signature line."""
    return sm3(name.encode() + b"\n" + public.spki_der())[:4]


@dataclass(frozen=True)
class Checkpoint:
    """An unsigned tree head: which log, how many leaves, which root."""

    origin: str
    tree_size: int
    root_hash: bytes

    def __post_init__(self) -> None:
        if not self.origin or any(c.isspace() or c == "+" for c in self.origin):
            raise MalformedInput(f"checkpoint origin is also the note key name: non-empty, no spaces or '+', "
                                 f"got {self.origin!r}")
        if self.tree_size < 0 or len(self.root_hash) != HASH_SIZE:
            raise MalformedInput(f"checkpoint needs size >= 0 and a {HASH_SIZE}-byte root")

    def body(self) -> bytes:
        """The signed note body: origin, size and base64 root, one per line."""
        root = base64.b64encode(self.root_hash).decode("ascii")
        return f"{self.origin}\n{self.tree_size}\n{root}\n".encode()

    def sign(self, signer: Signer) -> SignedCheckpoint:
        """Sign the body; the key name is the origin."""
        signature = signer.sign(self.body())
        line = _SIG_PREFIX + self.origin + " " + base64.b64encode(key_hash(self.origin, signer.public) + signature).decode()
        return SignedCheckpoint(checkpoint=self, text=self.body().decode() + "\n" + line + "\n")


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint with its note text (what clients, anchors and packs carry)."""

    checkpoint: Checkpoint
    text: str

    @classmethod
    def from_text(cls, text: str) -> SignedCheckpoint:
        """Parse a checkpoint note; raises ``MalformedInput`` when it is not one."""
        body, sep, signatures = text.partition("\n\n")
        lines = body.split("\n")
        if not sep or len(lines) != 3 or not signatures.startswith(_SIG_PREFIX):
            raise MalformedInput("malformed checkpoint: want 3 body lines, a blank line and a signature line")
        origin, size, root_b64 = lines
        if not _SIZE.fullmatch(size):
            raise MalformedInput(f"malformed checkpoint: invalid tree size {size!r}")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except binascii.Error as exc:
            raise MalformedInput("malformed checkpoint: root hash is not base64") from exc
        return cls(checkpoint=Checkpoint(origin, int(size), root), text=text)

    def verify(self, public: SM2PublicKey) -> None:
        """Check that some signature line is by ``public``; raises ``InvalidSignature`` if none is."""
        wanted = key_hash(self.checkpoint.origin, public)
        for line in self.text.split("\n\n", 1)[1].splitlines():
            name, _, blob_b64 = line.removeprefix(_SIG_PREFIX).partition(" ")
            blob = base64.b64decode(blob_b64)
            if name == self.checkpoint.origin and blob[:4] == wanted:
                public.verify(self.checkpoint.body(), blob[4:])
                return
        raise InvalidSignature(f"checkpoint has no signature by key {public.fingerprint()[:16]}")
