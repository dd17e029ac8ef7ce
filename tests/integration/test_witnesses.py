"""C2SP tlog-witness with two real witness processes (``tiezheng witness serve``): the log's collector gets
their cosignatures; one witness is shown a fork (a second log with the same origin and key but other
entries at the same size) and refuses it, durably, across a restart; the verifier counts the trusted
witnesses' cosignatures against the quorum."""

from __future__ import annotations

import base64
import json
import logging
import signal
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from evidence_api.db import migrate
from ledger.checkpoint import SignedCheckpoint
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from ledger.storage import make_engine
from ledger.witnesses import WitnessCollector, WitnessEndpoint
from tests.conftest import WitnessProcess
from tests.helpers import grow
from verifier.checkpoint import Checkpoint
from verifier.errors import CosignatureInvalid
from verifier.trust import TrustRoot
from verifier.witness import CosignedAnchor, count_quorum, verify_cosigned_anchor

pytestmark = pytest.mark.witness
ORIGIN = "test.tiezheng/log"


def _grow(log: TransparencyLog, count: int, tag: str = "") -> SignedCheckpoint:
    return grow(log, count, tag=tag)


def _endpoint(w: WitnessProcess) -> WitnessEndpoint:
    key = load_pem_public_key(w.public_key_pem.encode())
    return WitnessEndpoint(w.name, w.url, key)  # type: ignore[arg-type]


def _post(w: WitnessProcess, body: str) -> tuple[int, str, str]:
    request = urllib.request.Request(w.url + "add-checkpoint", data=body.encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def _add_body(old: int, proof: list[bytes], checkpoint: str) -> str:
    return f"old {old}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + checkpoint


def _trust_root(log_key: SM2PrivateKey, witnesses: list[WitnessProcess], quorum: int) -> TrustRoot:
    return TrustRoot.from_bytes(json.dumps({
        "v": 1, "type": "tiezheng.trust-root/v1", "logs": [{"origin": ORIGIN, "public_key": log_key.public.to_pem()}],
        "witnesses": {"quorum": quorum, "keys": [{"name": w.name, "public_key": w.public_key_pem} for w in witnesses]},
    }).encode())


def _cosigners(log: TransparencyLog, checkpoint: SignedCheckpoint, root: TrustRoot) -> list[Any]:
    found = []
    for receipt in log.anchors_covering(checkpoint.checkpoint.tree_size):
        if receipt.get("kind") == "cosignature/v1":
            anchor = CosignedAnchor.from_json(receipt)
            found += verify_cosigned_anchor(anchor, checkpoint=Checkpoint.from_text(checkpoint.text),
                                            witnesses=root.witnesses.keys)
    return found


@pytest.fixture
def fork(tmp_path: Path, log_key: SM2PrivateKey) -> Iterator[TransparencyLog]:
    """A second log with the same origin and key as ``log``, on its own database: a split view."""
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    migrate(url)
    engine = make_engine(url)
    forked = TransparencyLog(engine, origin=ORIGIN, signer=Signer.from_private_key(log_key), checkpoint_interval=0.05)
    forked.start()
    yield forked
    forked.close()
    engine.dispose()


@pytest.fixture
def pair(start_witness: Callable[..., WitnessProcess], log_key: SM2PrivateKey) -> tuple[WitnessProcess, ...]:
    pem = log_key.public.to_pem()
    return (start_witness("witness-a.test/w1", origin=ORIGIN, log_key_pem=pem),
            start_witness("witness-b.test/w1", origin=ORIGIN, log_key_pem=pem))


def test_witnesses_cosign_refuse_fork_and_quorum(log: TransparencyLog, fork: TransparencyLog, log_key: SM2PrivateKey,
                                                  pair: tuple[WitnessProcess, ...],
                                                  caplog: pytest.LogCaptureFixture) -> None:
    a, b = pair
    first = _grow(log, 3)
    assert WitnessCollector(log, [_endpoint(a), _endpoint(b)]).run_once() == {a.name: 3, b.name: 3}
    both = _trust_root(log_key, [a, b], quorum=2)
    assert count_quorum(_cosigners(log, first, both), both.witnesses)

    forked = _grow(fork, 3, tag="forged")
    assert forked.checkpoint.root_hash != first.checkpoint.root_hash
    with caplog.at_level(logging.ERROR, logger="ledger.witnesses"):
        assert WitnessCollector(fork, [_endpoint(a)]).run_once() == {a.name: None}
    assert "a fork of origin test.tiezheng/log" in caplog.text
    assert _post(a, _add_body(3, [], forked.text)) == (409, "text/x.tlog.size", "3\n")
    grown = _grow(fork, 2, tag="forged")
    assert _post(a, _add_body(3, fork.consistency_proof(3, 5), grown.text))[0] == 422
    refused = [json.loads(line) for line in (a.state / "refused.jsonl").read_text().splitlines()]
    assert [r["status"] for r in refused] == [409, 409, 409, 422] and grown.text in refused[-1]["body"]

    latest = _grow(log, 2)
    assert WitnessCollector(log, [_endpoint(b)]).run_once() == {b.name: 5}
    assert [c.name for c in _cosigners(log, latest, both)] == [b.name]
    assert not count_quorum(_cosigners(log, latest, both), both.witnesses)
    one = _trust_root(log_key, [a, b], quorum=1)
    assert count_quorum(_cosigners(log, latest, one), one.witnesses)


def test_witness_state_survives_a_kill(log: TransparencyLog, fork: TransparencyLog, log_key: SM2PrivateKey,
                                       start_witness: Callable[..., WitnessProcess], tmp_path: Path) -> None:
    pem = log_key.public.to_pem()
    a = start_witness("witness-a.test/w1", origin=ORIGIN, log_key_pem=pem, state=tmp_path / "a-state")
    _grow(log, 3)
    assert WitnessCollector(log, [_endpoint(a)]).run_once() == {a.name: 3}
    status, _, _ = _post(a, _add_body(3, [], _grow(fork, 3, tag="x").text))
    assert status == 409
    a.server.process.send_signal(signal.SIGKILL)  # no clean shutdown: only what was fsynced survives
    a.server.process.wait()
    again = start_witness("witness-a.test/w1", origin=ORIGIN, log_key_pem=pem, state=tmp_path / "a-state")
    assert again.public_key_pem == a.public_key_pem
    assert _post(again, _add_body(0, [], fork.latest_checkpoint().text)) == (409, "text/x.tlog.size", "3\n")  # type: ignore[union-attr]
    assert WitnessCollector(log, [_endpoint(again)]).run_once() == {a.name: None}  # nothing new to cosign
    _grow(log, 1)
    assert WitnessCollector(log, [_endpoint(again)]).run_once() == {a.name: 4}


def test_witness_refuses_bad_requests(log: TransparencyLog, pair: tuple[WitnessProcess, ...]) -> None:
    a, _ = pair
    cp = _grow(log, 2)
    other = Checkpoint.from_text(cp.text)
    assert _post(a, "old 0\n" + cp.text)[0] == 400  # no empty line before the checkpoint
    assert _post(a, _add_body(3, [], cp.text))[0] == 400  # old beyond the checkpoint
    assert _post(a, _add_body(0, [], cp.text.replace(ORIGIN, "other.log/x")))[0] == 404
    resigned = Checkpoint.from_text(cp.text).text.rsplit("\n\u2014 ", 1)[0] + "\n\u2014 " + ORIGIN + " AAAAAAAAAA==\n"
    assert _post(a, _add_body(0, [], resigned))[0] == 403
    assert _post(a, _add_body(0, [b"\x00" * 32], cp.text))[0] == 400  # a proof from size 0
    status, _, line = _post(a, _add_body(0, [], cp.text))
    assert status == 200 and line.startswith("\u2014 witness-a.test/w1 ") and other.tree_size == 2


def test_verifier_refuses_tampered_cosignature(log: TransparencyLog, log_key: SM2PrivateKey,
                                               pair: tuple[WitnessProcess, ...]) -> None:
    a, b = pair
    cp = _grow(log, 2)
    WitnessCollector(log, [_endpoint(a)]).run_once()
    [receipt] = [r for r in log.anchors_covering(2) if r.get("kind") == "cosignature/v1"]
    head, _, line = receipt["checkpoint"].rpartition("\u2014 witness-a")
    name, blob = line.split(" ")
    raw = bytearray(base64.b64decode(blob))
    raw[-1] ^= 1
    tampered = {**receipt, "checkpoint": head + "\u2014 witness-a" + name + " " + base64.b64encode(raw).decode() + "\n"}
    root = _trust_root(log_key, [a, b], quorum=1)
    with pytest.raises(CosignatureInvalid, match="cosignature by witness-a.test/w1 does not verify"):
        verify_cosigned_anchor(CosignedAnchor.from_json(tampered), checkpoint=Checkpoint.from_text(cp.text),
                               witnesses=root.witnesses.keys)
