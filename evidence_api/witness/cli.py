"""``tiezheng witness serve``: load the key, the log key and the state, then serve until interrupted."""

from __future__ import annotations

import logging
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from evidence_api.witness.server import WitnessServer, load_or_create_key, serve
from evidence_api.witness.state import WitnessState, WitnessStateError
from verifier.errors import MalformedInput
from verifier.sm import PublicKey

__all__ = ["serve_command"]


def serve_command(*, key: Path, name: str, origin: str, log_key: Path, state: Path, host: str, port: int) -> int:
    """Run the witness; 2 if a key or the state is unusable, 0 after an interrupt."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        log_key_pem = log_key.read_text()
        PublicKey.from_pem(log_key_pem)
        cosigner = load_or_create_key(key, name)
        witness = WitnessServer(cosigner, origin=origin, log_key_pem=log_key_pem, state=WitnessState(state, origin))
        server = serve(witness, host=host, port=port)
    except (OSError, ValueError, TypeError, MalformedInput, WitnessStateError) as exc:
        print(f"witness: cannot start: {getattr(exc, 'message', exc)}")
        return 2
    public = cosigner.public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    latest = witness.state.latest.tree_size
    print(f"witness: ready http://{host}:{server.server_address[1]}/ name={name} key_id={cosigner.key_id.hex()} "
          f"log={origin} latest={latest}", flush=True)
    print(public, end="", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
