"""C2SP tlog-cosignature ``cosignature/v1`` (Ed25519): the timestamped note signature a witness adds to a
checkpoint (docs/formats.md, "Witness cosignature").

A cosignature line is ``— <witness name> base64(key id[4] || timestamp u64 big-endian || Ed25519 sig[64])``,
with key id = SHA-256(name || "\\n" || 0x04 || 32-byte public key)[:4], over the message
``"cosignature/v1\\ntime <timestamp>\\n" || checkpoint body``. Ed25519 and not SM2: C2SP specifies no SM2
cosignature type, and Ed25519 keeps the cosignatures verifiable by every existing C2SP note library.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature as _BadEd25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import InvalidSignature, MalformedInput

__all__ = ["Cosignature", "CosignerKey", "cosigned_message", "key_id", "parse_line", "verify_line"]

_PREFIX = "\u2014 "
_ED25519_TYPE = b"\x04"
_MAX_TIMESTAMP = 2**63 - 1


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    """The 4-byte key id of cosigner ``name`` with Ed25519 key ``public``."""
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + _ED25519_TYPE + raw).digest()[:4]


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    """What a cosignature signs: the header line, the time line and the checkpoint ``body`` (3 lines)."""
    return b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body


@dataclass(frozen=True)
class Cosignature:
    """One parsed cosignature line: cosigner name, key id, POSIX timestamp, Ed25519 signature, the line."""

    name: str
    key_id: bytes
    timestamp: int
    signature: bytes
    line: str


class CosignerKey:
    """A witness's Ed25519 signing key under its C2SP key ``name``."""

    def __init__(self, name: str, private: Ed25519PrivateKey) -> None:
        if not name or any(c.isspace() or c == "+" for c in name):
            raise MalformedInput(f"a cosigner name has no spaces or '+', got {name!r}")
        self.name, self._private = name, private
        self.public = private.public_key()
        self.key_id = key_id(name, self.public)

    def cosign(self, body: bytes, timestamp: int) -> str:
        """The cosignature line (with its newline) over checkpoint ``body`` at POSIX time ``timestamp``."""
        signature = self._private.sign(cosigned_message(body, timestamp))
        blob = self.key_id + struct.pack(">Q", timestamp) + signature
        return f"{_PREFIX}{self.name} {base64.b64encode(blob).decode()}\n"


def parse_line(line: str) -> Cosignature:
    """Parse one note signature line as a cosignature/v1; ``MalformedInput`` if it cannot be one."""
    text = line.rstrip("\n")
    name, _, blob_b64 = text.removeprefix(_PREFIX).partition(" ")
    try:
        blob = base64.b64decode(blob_b64, validate=True)
    except binascii.Error as exc:
        raise MalformedInput(f"cosignature line is not base64: {text[:80]!r}") from exc
    if not text.startswith(_PREFIX) or not name or len(blob) != 4 + 8 + 64:
        raise MalformedInput(f"not a cosignature/v1 line (want '— name base64(76 bytes)'): {text[:80]!r}")
    (timestamp,) = struct.unpack(">Q", blob[4:12])
    if timestamp > _MAX_TIMESTAMP:
        raise MalformedInput(f"cosignature timestamp {timestamp} exceeds 2^63 - 1")
    return Cosignature(name, blob[:4], timestamp, blob[12:], text + "\n")


def verify_line(line: str, body: bytes, *, name: str, public: Ed25519PublicKey) -> Cosignature:
    """Check that ``line`` is a cosignature by (``name``, ``public``) over ``body``; raises
    ``MalformedInput`` (not such a line, or another key's) or ``InvalidSignature``."""
    cosig = parse_line(line)
    if cosig.name != name or cosig.key_id != key_id(name, public):
        raise MalformedInput(f"cosignature is by {cosig.name!r} key {cosig.key_id.hex()}, want {name!r} "
                             f"key {key_id(name, public).hex()}")
    try:
        public.verify(cosig.signature, cosigned_message(body, cosig.timestamp))
    except _BadEd25519 as exc:
        raise InvalidSignature(f"cosignature by {name} does not verify over this checkpoint") from exc
    return cosig
