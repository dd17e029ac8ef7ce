"""An evidence pack of a log that the real test TSA timestamped and two real witnesses cosigned: the pack
carries ``anchors/rfc3161.json`` and ``anchors/witness.json``, and ``verify_pack`` reaches
``signed+tsa+witnessed`` only against a trust root that names the TSA root and enough witnesses."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from ledger.anchors.anchorer import Anchorer
from ledger.anchors.tsa import TimestampAuthority
from ledger.witnesses import WitnessCollector, WitnessEndpoint
from tests.conftest import TsaServer, WitnessProcess
from tests.vectors.pack_world import ORIGIN, TENANT, open_world, permit_story
from verifier.pack import verify_pack
from verifier.pack_zip import read_pack_zip
from verifier.trust import TrustRoot

pytestmark = [pytest.mark.tsa, pytest.mark.witness]


def _root(log_pem: str, tsa: TsaServer | None, witnesses: list[WitnessProcess], quorum: int) -> TrustRoot:
    obj: dict[str, Any] = {"v": 1, "type": "tiezheng.trust-root/v1", "logs": [{"origin": ORIGIN, "public_key": log_pem}]}
    if tsa is not None:
        obj["timestamp_authorities"] = [{"name": "test-tsa", "certificates": [tsa.root_pem]}]
    obj["witnesses"] = {"quorum": quorum, "keys": [{"name": w.name, "public_key": w.public_key_pem} for w in witnesses]}
    return TrustRoot.from_bytes(json.dumps(obj).encode())


def test_pack_with_timestamps_and_cosignatures(tmp_path: Path, tsa: TsaServer,
                                               start_witness: Callable[..., WitnessProcess]) -> None:
    with open_world(tmp_path / "world") as world:
        permit_story(world, "HW-0001", keyframes=1)
        world.settle()
        log_pem = world.log.signer.public.to_pem()
        witnesses = [start_witness(f"witness-{n}.test/w1", origin=ORIGIN, log_key_pem=log_pem) for n in "ab"]
        [stamp] = Anchorer(world.log, [TimestampAuthority(tsa.url, name="test-tsa", roots=[tsa.root_pem])]).run_once()
        endpoints = [WitnessEndpoint(w.name, w.url, load_pem_public_key(w.public_key_pem.encode()))  # type: ignore[arg-type]
                     for w in witnesses]
        assert set(WitnessCollector(world.log, endpoints).run_once().values()) == {stamp.tree_size}
        pack = world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0001"})

    names = {e.path for e in read_pack_zip(pack.data)}
    assert {"anchors/rfc3161.json", "anchors/witness.json", "anchors/local.json"} <= names
    full = verify_pack(pack.data, trust_root=_root(log_pem, tsa, witnesses, quorum=2))
    assert full.assurance == "signed+tsa+witnessed"
    outcomes = {o.kind: o for o in full.anchors}
    assert outcomes["rfc3161"].receipts[0]["tsa"] == "test-tsa" and outcomes["witness"].status == "verified"

    short = verify_pack(pack.data, trust_root=_root(log_pem, None, witnesses[:1] + [_other(start_witness, log_pem)],
                                                    quorum=2))
    assert short.assurance == "signed"
    assert {o.kind: o.status for o in short.anchors} == {"local": "verified", "rfc3161": "not checked",
                                                          "witness": "not checked"}
    assert "only 1 of the 2" in {o.kind: o for o in short.anchors}["witness"].detail


def _other(start_witness: Callable[..., WitnessProcess], log_pem: str) -> WitnessProcess:
    """A witness the trust root names but the log never asked: it cosigned nothing."""
    return start_witness("witness-c.test/w1", origin=ORIGIN, log_key_pem=log_pem)
