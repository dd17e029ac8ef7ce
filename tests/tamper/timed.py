"""Trusted time and witnesses for the tamper world: the real test TSA (``network/tsa/tsa.py``) and two real
witnesses (``tiezheng witness serve``) as child processes, and the material the receipt mutations need: a
token from a TSA the trust root does not name, and an Ed25519 cosigner it does not name.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import rfc3161_client as tsp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ledger.anchors.tsa import TimestampAuthority
from ledger.cosignature import CosignerKey
from ledger.witnesses import WitnessEndpoint
from tests import processes

__all__ = ["TSA_NAME", "TimedServices", "start_timed_services", "untrusted_token"]

ROOT = Path(__file__).resolve().parents[2]
TSA_NAME = "tamper-tsa"
WITNESSES = ("witness-a.tamper/w1", "witness-b.tamper/w1")


@dataclass(frozen=True)
class TimedServices:
    """The running TSA (its anchor backend and PEM root) and witnesses (endpoints and PEM public keys)."""

    tsa: TimestampAuthority
    tsa_root_pem: str
    witnesses: tuple[WitnessEndpoint, ...]
    witness_pems: tuple[str, ...]
    stranger: CosignerKey
    scratch: Path


@contextmanager
def start_timed_services(scratch: Path, *, origin: str, log_key_pem: str) -> Iterator[TimedServices]:
    """Start the TSA and two witnesses of the log ``origin`` (key ``log_key_pem``); stopped on exit."""
    with ExitStack() as stack:
        state = scratch / "tsa"
        tsa = processes.start([sys.executable, str(ROOT / "network" / "tsa" / "tsa.py"), "--state", str(state)],
                              r"tsa: ready (\S+)")
        stack.callback(tsa.stop)
        endpoints, pems = [], []
        for name in WITNESSES:
            home = scratch / name.replace("/", "_")
            home.mkdir(parents=True)
            (home / "log-key.pem").write_text(log_key_pem)
            server = processes.start([sys.executable, "-m", "evidence_api.cli", "witness", "serve", "--key",
                                      str(home / "witness.key"), "--name", name, "--log-origin", origin, "--log-key",
                                      str(home / "log-key.pem"), "--state", str(home / "state"), "--port", "0"],
                                     r"witness: ready (\S+)", cwd=ROOT)
            stack.callback(server.stop)
            pem = (home / "witness.key.pub").read_text()
            key = load_pem_public_key(pem.encode())
            assert isinstance(key, Ed25519PublicKey)
            endpoints.append(WitnessEndpoint(name, server.ready.group(1), key))
            pems.append(pem)
        root_pem = (state / "root.pem").read_text()
        yield TimedServices(TimestampAuthority(tsa.ready.group(1), name=TSA_NAME, roots=[root_pem]), root_pem,
                            tuple(endpoints), tuple(pems),
                            CosignerKey("stranger.tamper/w1", Ed25519PrivateKey.generate()), scratch)


def _tsa_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tiezheng_test_tsa", ROOT / "network" / "tsa" / "tsa.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def untrusted_token(scratch: Path, message: bytes) -> bytes:
    """A real token over ``message`` from another test TSA (fresh keys under ``scratch``), whose root no
    trust root of the tamper suite names."""
    tsa = _tsa_module()
    tsa.init_state(scratch)
    query = tsp.TimestampRequestBuilder().data(message).hash_algorithm(tsp.HashAlgorithm.SHA256) \
        .nonce(nonce=True).cert_request(cert_request=True).build()
    token: bytes = tsp.decode_timestamp_response(tsa.reply(scratch, query.as_bytes())).time_stamp_token()
    return token
