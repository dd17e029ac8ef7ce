"""Trusted time and witnesses benchmark: RFC 3161 timestamps at the test TSA and cosignatures from a real
witness process, end to end, and the verifier's offline checks of both.

Prints the median (and p90) of: a checkpoint timestamp (TimeStampReq, HTTP round trip to ``openssl ts
-reply``, reply checks), a witness cosignature (add-checkpoint with a consistency proof over HTTP, the
witness's checks and fsync, the collector's check and store), the verifier's token check and cosignature
check, each with its ratio to the baseline: the verifier's SM2 check of the checkpoint signature.

Run: .venv/bin/python -m bench.trusted_time [--rounds 20]
"""

from __future__ import annotations

import argparse
import base64
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

from evidence_api.db import migrate
from ingest.signing import Actor, new_item, sign_item
from ledger.anchors.base import AnchorRequest
from ledger.anchors.tsa import TimestampAuthority
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.events import claim_hash, claim_of, leaf_template
from ledger.log import PreparedEvent, Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from ledger.storage import make_engine
from ledger.witnesses import WitnessCollector, WitnessEndpoint
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.timestamps import verify_token
from verifier.trust import TimestampAuthority as TrustedTSA
from verifier.trust import WitnessKey
from verifier.witness import verify_cosignatures

ROOT = Path(__file__).resolve().parent.parent
ORIGIN = "bench.tiezheng/log"


def _start(command: list[str], marker: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    assert process.stdout is not None
    for line in process.stdout:
        if marker in line:
            return process, line.split(marker, 1)[1].split()[0]
    raise RuntimeError(f"{command[0]} exited with {process.wait()}")


def _times(rounds: int, action: Callable[[], object]) -> list[float]:
    found = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        found.append(time.perf_counter() - start)
    return found


def _line(name: str, times: list[float], baseline: float) -> str:
    median, p90 = statistics.median(times), sorted(times)[int(len(times) * 0.9) - 1]
    return f"{name:<44} median {median * 1e3:8.2f} ms  p90 {p90 * 1e3:8.2f} ms  ({median / baseline:7.1f}x baseline)"


def _grow(log: TransparencyLog, actor: Actor) -> None:
    """Append one signed event (payload not sealed: not under test) and wait for its checkpoint."""
    item = sign_item(actor, new_item(actor, tenant="bench", kind="guardian.checkin", payload={"ok": True},
                                     occurred_at="2026-12-01T08:00:00Z", subject={"permit": "P-1"}))
    event, received_at = item["event"], Clock().stamp()
    log.submit(Submission([PreparedEvent(
        event_id=event["event_id"], tenant="bench", kind=event["kind"], permit="P-1", key_id=actor.key_id,
        claim_hash=claim_hash(claim_of(event)), leaf=leaf_template({**event, "received_at": received_at}),
        payload_sealed=canonical(item["payload"]), payload_key=b"k", received_at=received_at)]))
    deadline = time.monotonic() + 10  # the writer cuts the checkpoint at its next tick
    while (cp := log.latest_checkpoint()) is None or cp.checkpoint.tree_size < log.tree_size:
        if time.monotonic() > deadline:
            raise RuntimeError("no checkpoint within 10 s")
        time.sleep(0.005)


def main() -> None:
    """Start the test TSA and a witness, measure, print, stop them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        key = SM2PrivateKey.generate()
        (work / "log.pem").write_text(key.public.to_pem())
        tsa, tsa_url = _start([sys.executable, "network/tsa/tsa.py", "--state", str(work / "tsa")], "tsa: ready ")
        witness, witness_url = _start([sys.executable, "-m", "evidence_api.cli", "witness", "serve", "--key",
                                       str(work / "w.key"), "--name", "bench.witness/w1", "--log-origin", ORIGIN,
                                       "--log-key", str(work / "log.pem"), "--state", str(work / "w"), "--port",
                                       "0"], "witness: ready ")
        try:
            _run(args.rounds, work, key, tsa_url, witness_url)
        finally:
            tsa.terminate()
            witness.terminate()


def _run(rounds: int, work: Path, key: SM2PrivateKey, tsa_url: str, witness_url: str) -> None:
    url = f"sqlite:///{work / 'log.db'}"
    migrate(url)
    log = TransparencyLog(make_engine(url), origin=ORIGIN, signer=Signer.from_private_key(key),
                          checkpoint_interval=0.01)
    log.start()
    actor = Actor("device", "bench-1", "bench-1#1", Signer.from_private_key(SM2PrivateKey.generate()))
    _grow(log, actor)
    checkpoint = log.latest_checkpoint()
    assert checkpoint is not None
    root_pem = (work / "tsa" / "root.pem").read_text()
    backend = TimestampAuthority(tsa_url, roots=[root_pem])

    def stamp() -> object:
        pending = backend.prepare(AnchorRequest(checkpoint, None, []))
        backend.submit(pending)
        return backend.status(pending)

    witness_key = load_pem_public_key((work / "w.key.pub").read_bytes())
    collector = WitnessCollector(log, [WitnessEndpoint("bench.witness/w1", witness_url, witness_key)])  # type: ignore[arg-type]

    def cosign() -> object:
        _grow(log, actor)  # not timed separately: a local SQLite append, well under the HTTP round trip
        return collector.run_once()

    parsed = Checkpoint.from_text(checkpoint.text)
    baseline = statistics.median(_times(rounds * 10, lambda: verify_checkpoint(parsed, public_key_pem=key.public.to_pem())))
    receipt = stamp()
    token = base64.b64decode(receipt.body["token"])  # type: ignore[attr-defined]
    trusted = [TrustedTSA("tsa", (x509.load_pem_x509_certificate(root_pem.encode()).public_bytes(Encoding.DER),))]
    stamp_times, cosign_times = _times(rounds, stamp), _times(rounds, cosign)
    cosigned = Checkpoint.from_text(log.cosigned_checkpoint(log.tree_size) or "")
    witness = WitnessKey("bench.witness/w1", "ed25519",
                         witness_key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo))
    print(f"baseline: verifier SM2 check of a checkpoint signature, median {baseline * 1e3:.3f} ms")
    print(_line("timestamp a checkpoint (test TSA, HTTP)", stamp_times, baseline))
    print(_line("cosignature from a witness (HTTP, fsync)", cosign_times, baseline))
    print(_line("verifier: check a token", _times(rounds * 5, lambda: verify_token(
        token, message=checkpoint.text.encode(), authorities=trusted)), baseline))
    print(_line("verifier: check a cosignature", _times(rounds * 5, lambda: verify_cosignatures(
        cosigned, [witness])), baseline))
    print("figures on a shared 2-core machine: expect noise of tens of percent")
    log.close()


if __name__ == "__main__":
    main()
