"""The intake pipeline (one canonical form per claim spliced into the leaf, GmSSL's one-call SM3 and SM4-GCM,
events sent back as plain tuples) gives byte-identical results to the reference pieces it replaced:
``leaf_template`` over the whole event, ``cryptography``'s SM3 and SM4-GCM, with the same injected nonces
and data keys."""

from __future__ import annotations

import itertools
import os
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_api.db import migrate
from evidence_api.services.events import EventIntake, unpack_submission
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor, attest_batch, new_item, sign_item
from ledger.canonical import canonical
from ledger.clock import ManualClock
from ledger.database import make_engine
from ledger.errors import MalformedInput
from ledger.events import attestation_digest, claim_of, leaf_parts, leaf_template
from ledger.keystore import LocalKeyWrapper, open_sealed
from ledger.packing import pack_leaf, pack_packed_leaf
from ledger.records import PreparedEvent
from ledger.sm import Signer, SM2PrivateKey, reference_sm3, reference_sm4_gcm_encrypt

TENANT = "acme"
MASTER = bytes(range(32))
NOW = datetime(2026, 11, 23, 8, 0, 5, tzinfo=UTC)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EventIntake, list[Actor]]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('intake')) / 'keys.db'}"
    migrate(url)
    engine = make_engine(url)
    registry = KeyRegistry(engine)
    actors = [Actor("device", "lel-1", "lel-1#1", Signer.from_private_key(SM2PrivateKey.generate())),
              Actor("user", "guard-1", "guard-1#1", Signer.from_private_key(SM2PrivateKey.generate()))]
    for actor in actors:
        registry.register(TENANT, actor.key_id, actor.type, actor.id, actor.signer.public.to_pem())
    yield EventIntake(registry, LocalKeyWrapper(MASTER), clock=ManualClock(NOW)), actors
    engine.dispose()


class _Randomness:
    """``os.urandom`` replaced by a counter, so two runs draw the same data keys and nonces."""

    def __init__(self) -> None:
        self._counter = itertools.count()

    def __call__(self, n: int) -> bytes:
        return next(self._counter).to_bytes(8, "big").rjust(n, b"\x5a")[:n]


_NUMBER = st.one_of(st.integers(-(2**53) + 1, 2**53 - 1), st.floats(allow_nan=False, allow_infinity=False))
_PAYLOAD = st.recursive(st.one_of(st.none(), st.booleans(), _NUMBER, st.text(max_size=8)),
                        lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(st.text(max_size=4), c, max_size=3)),
                        max_leaves=8)
_DETECTOR_PAYLOAD = st.fixed_dictionaries({"detector": st.one_of(
    st.fixed_dictionaries({"id": st.one_of(st.text(max_size=8), st.integers(-9, 9))}), _PAYLOAD)})
_ITEM = st.fixed_dictionaries({
    "kind": st.sampled_from(["detector.reading", "media.keyframe", "guardian.heartbeat"]),
    "permit": st.one_of(st.none(), st.sampled_from(["HW-1", "P-2"])),
    "payload": st.one_of(_PAYLOAD, _DETECTOR_PAYLOAD),
    "location": st.one_of(st.none(), st.fixed_dictionaries({
        "lat": st.floats(-90, 90), "lon": st.floats(-180, 180), "accuracy_m": st.floats(0, 1000)})),
})


def _body(actors: list[Actor], specs: list[dict[str, Any]], attested: bool) -> dict[str, Any]:
    actor = actors[0] if attested else actors[1]
    items = [new_item(actor, tenant=TENANT, kind=s["kind"], payload=s["payload"], occurred_at="2026-11-23T08:00:00Z",
                      subject={"permit": s["permit"]} if s["permit"] else {}, location=s["location"]) for s in specs]
    if attested:
        return {"events": items, "attestation": attest_batch(actor, TENANT, items)}
    return {"events": [sign_item(actor, item) for item in items]}


def _reference(intake: EventIntake, body: dict[str, Any], random: _Randomness) -> list[tuple[bytes, ...]]:
    """What the replaced code computed: SM3 and SM4-GCM by ``cryptography``, the leaf from the whole event."""
    attestation = body.get("attestation")
    digest = attestation_digest(attestation).hex() if attestation else None
    server = {"received_at": ManualClock(NOW).stamp()} | ({"attestation": digest} if digest else {})
    kek = LocalKeyWrapper(MASTER)._kek(TENANT)
    out = []
    for item in body["events"]:
        event, context = item["event"], f"{TENANT}|{item['event']['event_id']}".encode()
        plaintext = orjson.dumps({"payload": item["payload"], "salt": item["salt"]})
        data_key = random(16)
        sealed = reference_sm4_gcm_encrypt(data_key, random(12), plaintext, aad=context)
        wrapped = reference_sm4_gcm_encrypt(kek, random(12), data_key, aad=context)
        leaf = leaf_template(event | server)
        out.append((reference_sm3(canonical(claim_of(event))), leaf.head, leaf.tail, sealed, wrapped))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(_ITEM, min_size=1, max_size=4), attested=st.booleans())
def test_prepare_same_bytes_as_reference(world: tuple[EventIntake, list[Actor]], specs: list[dict[str, Any]],
                                         attested: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Leaves, claim hashes, sealed payloads and wrapped keys, byte for byte."""
    intake, actors = world
    body = _body(actors, specs, attested)
    with monkeypatch.context() as patched:  # ledger.sm and ledger.keystore draw from os.urandom
        patched.setattr(os, "urandom", _Randomness())
        packed = intake.prepare_packed(TENANT, body)
    submission = unpack_submission(pickle.loads(pickle.dumps(packed)))  # as it crosses from a worker
    want = _reference(intake, body, _Randomness())
    got = [(p.claim_hash, p.leaf.head, p.leaf.tail, p.payload_sealed, p.payload_key) for p in submission.events]
    assert got == want
    for p, item in zip(submission.events, body["events"], strict=True):
        assert isinstance(p, PreparedEvent) and p.event_id == item["event"]["event_id"]
        opened = open_sealed(LocalKeyWrapper(MASTER), TENANT, p.payload_sealed, p.payload_key,
                             context=f"{TENANT}|{p.event_id}".encode())
        assert orjson.loads(opened)["salt"] == item["salt"]
        assert p.detector == _named_detector(p.kind, item["payload"])  # read in the worker, never reopened
        # packed for storage in the worker, exactly as the writer would pack it (ledger.packing is the reference)
        assert p.leaf.packed is not None
        assert pack_packed_leaf(p.leaf.packed, None) == pack_leaf(p.leaf.head, None, p.leaf.tail)


def _named_detector(kind: str, payload: Any) -> str | None:
    if kind != "detector.reading" or not isinstance(payload, dict) or not isinstance(payload.get("detector"), dict):
        return None
    ident = payload["detector"].get("id")
    return ident if isinstance(ident, str) else None


def test_leaf_parts_refuses_a_claim_without_its_members() -> None:
    with pytest.raises(MalformedInput, match="lacks event_id or subject"):
        leaf_parts(b'{"a":1}', received_at="2026-11-23T08:00:05.000Z")
