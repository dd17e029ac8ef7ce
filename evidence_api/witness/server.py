"""``tiezheng witness serve``: a C2SP tlog-witness (``POST <prefix>/add-checkpoint``) for one Tiezheng log.

Checks, in the order C2SP tlog-witness gives, each with its status code:

1. The body is ``old N``, up to 63 base64 proof lines, an empty line and a checkpoint note (400 if not).
2. The checkpoint's origin is the log this witness follows (404), and it carries a valid signature by the
   log's SM2 key (403); signatures by other keys are ignored.
3. ``old`` is at most the checkpoint's size (400).
4. Under the state lock: ``old`` is the size of the latest checkpoint this witness cosigned (else 409 with
   that size as ``text/x.tlog.size``); the proof is an RFC 9162 SM3 consistency proof from that tree to the
   checkpoint (422); at equal sizes the roots are equal (409). A refused, log-signed request is kept in
   ``refused.jsonl``.
5. The new state is persisted (fsync) and the answer is a ``cosignature/v1`` line, timestamped now.

The log's checkpoints and proofs are checked with the independent ``verifier`` package, not the server's
own Merkle code.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence_api.witness.state import Cosigned, WitnessState
from ledger.clock import Clock
from ledger.cosignature import CosignerKey
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.errors import MalformedInput, VerificationFailed
from verifier.merkle import verify_consistency

__all__ = ["MAX_BODY_BYTES", "MAX_PROOF_LINES", "Refusal", "WitnessServer", "load_or_create_key"]

MAX_BODY_BYTES = 64 * 1024
MAX_PROOF_LINES = 63
SIZE_TYPE = "text/x.tlog.size"
_log = logging.getLogger(__name__)


class Refusal(Exception):
    """A request the witness refuses: HTTP ``status``, a message, and the body to send (``content_type``)."""

    def __init__(self, status: int, message: str, *, body: str | None = None, content_type: str = "text/plain") -> None:
        super().__init__(message)
        self.status, self.message, self.content_type = status, message, content_type
        self.body = body if body is not None else message + "\n"


@dataclass(frozen=True)
class _Request:
    old: int
    proof: tuple[bytes, ...]
    checkpoint: Checkpoint


def load_or_create_key(path: Path, name: str) -> CosignerKey:
    """The witness key at ``path`` (PKCS#8 PEM, Ed25519), created (mode 0600, with ``<path>.pub``) if absent."""
    if not path.exists():
        private = Ed25519PrivateKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        Path(f"{path}.pub").write_bytes(private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} is not an Ed25519 private key (cosignature/v1 is Ed25519)")
    return CosignerKey(name, key)


class WitnessServer:
    """The witness: its ``key``, the log it follows (``origin``, SM2 ``log_key_pem``), its ``state``."""

    def __init__(self, key: CosignerKey, *, origin: str, log_key_pem: str, state: WitnessState,
                 clock: Clock | None = None) -> None:
        self.key, self.origin, self.log_key_pem, self.state = key, origin, log_key_pem, state
        self._clock = clock or Clock()

    def add_checkpoint(self, body: bytes) -> str:
        """Handle one add-checkpoint body; the cosignature line, or ``Refusal``."""
        request = self._parse(body)
        self._check_log(request.checkpoint)
        cp = request.checkpoint
        if request.old > cp.tree_size:
            raise Refusal(400, f"old size {request.old} is larger than the checkpoint's size {cp.tree_size}")
        with self.state.lock:
            self._check_consistent(request, body)
            self.state.advance(Cosigned(cp.tree_size, cp.root_hash, cp.text))
            return self.key.cosign(cp.body, int(self._clock.now().timestamp()))

    def _parse(self, body: bytes) -> _Request:
        if len(body) > MAX_BODY_BYTES:
            raise Refusal(413, f"body is {len(body)} bytes, want at most {MAX_BODY_BYTES}")
        try:
            head, blank, note = body.decode("utf-8").partition("\n\n")
            lines = head.split("\n")
            if not blank or not lines[0].startswith("old ") or len(lines) - 1 > MAX_PROOF_LINES:
                raise ValueError("want 'old N', up to 63 proof lines, an empty line and a checkpoint")
            old = _size(lines[0][4:])
            proof = tuple(_hash(line) for line in lines[1:])
            return _Request(old, proof, Checkpoint.from_text(note))
        except (UnicodeDecodeError, ValueError, MalformedInput) as exc:
            raise Refusal(400, f"malformed add-checkpoint body: {getattr(exc, 'message', exc)}") from exc

    def _check_log(self, checkpoint: Checkpoint) -> None:
        if checkpoint.origin != self.origin:
            raise Refusal(404, f"this witness does not follow log {checkpoint.origin[:200]!r}")
        try:
            verify_checkpoint(checkpoint, public_key_pem=self.log_key_pem)
        except VerificationFailed as exc:
            raise Refusal(403, f"checkpoint is not signed by the log's key: {exc.message}") from exc

    def _check_consistent(self, request: _Request, body: bytes) -> None:
        latest, cp = self.state.latest, request.checkpoint
        try:
            if request.old != latest.tree_size:
                raise Refusal(409, f"old size {request.old} is not the latest cosigned size {latest.tree_size}",
                              body=f"{latest.tree_size}\n", content_type=SIZE_TYPE)
            if request.old == cp.tree_size and cp.root_hash != latest.root_hash:
                raise Refusal(409, f"checkpoint of size {cp.tree_size} has another root than the one cosigned: "
                              "a fork of the log", body=f"{latest.tree_size}\n", content_type=SIZE_TYPE)
            if request.old == 0 and request.proof:
                raise Refusal(400, "the proof must be empty when old size is 0")
            if 0 < request.old:
                _consistent(request, latest)
        except Refusal as refusal:
            if refusal.status in (409, 422):
                self.state.refused({"status": refusal.status, "reason": refusal.message,
                                    "received_at": self._clock.stamp(), "body": body.decode("utf-8")})
            raise


def _consistent(request: _Request, latest: Cosigned) -> None:
    cp = request.checkpoint
    try:
        verify_consistency(latest.tree_size, cp.tree_size, latest.root_hash, cp.root_hash, request.proof)
    except VerificationFailed as exc:
        raise Refusal(422, f"consistency proof from size {latest.tree_size} does not verify: {exc.message}") \
            from exc


def _size(text: str) -> int:
    if not text.isdigit() or (text != "0" and text.startswith("0")) or len(text) > 20 or int(text) >= 2**64:
        raise ValueError(f"old size {text[:30]!r} is not a decimal tree size")
    return int(text)


def _hash(line: str) -> bytes:
    try:
        value = base64.b64decode(line, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"proof line {line[:60]!r} is not base64") from exc
    if len(value) != 32:
        raise ValueError(f"proof line decodes to {len(value)} bytes, want 32")
    return value


def serve(witness: WitnessServer, *, host: str, port: int) -> ThreadingHTTPServer:
    """An HTTP server for ``witness`` bound to ``host``:``port`` (0: a free port); call ``serve_forever``."""
    return ThreadingHTTPServer((host, port), _handler(witness))


def _handler(witness: WitnessServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            if self.path.rstrip("/").rsplit("/", 1)[-1] != "add-checkpoint":
                return self._send(404, "text/plain", "POST add-checkpoint\n")
            try:
                length = int(self.headers.get("Content-Length") or "-1")
                if not 0 <= length <= MAX_BODY_BYTES:
                    raise Refusal(413, f"want a Content-Length of at most {MAX_BODY_BYTES}")
                self._send(200, "text/plain; charset=utf-8", witness.add_checkpoint(self.rfile.read(length)))
            except Refusal as refusal:
                _log.info("refused add-checkpoint: %s %s", refusal.status, refusal.message)
                self._send(refusal.status, refusal.content_type, refusal.body, close=refusal.status == 413)
            except ValueError:
                self._send(400, "text/plain", "bad Content-Length\n", close=True)

        def _send(self, code: int, kind: str, body: str, *, close: bool = False) -> None:
            data = body.encode("utf-8")
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(data)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            _log.debug(format, *args)

    return Handler
