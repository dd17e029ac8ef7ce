"""A large individually signed body is spread over the intake workers (each verifies and seals its share):
the service answers exactly as one process preparing the whole body would — the same events in the same
order, one ``received_at``, and for a refused body the same error with the same message."""

from __future__ import annotations

import asyncio
import copy
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evidence_api.db import migrate
from evidence_api.services.errors import ServiceError
from evidence_api.services.events import EventIntake, IntakePool, parse_body, share_bounds, unpack_submission
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor
from ledger.database import make_engine
from ledger.errors import LedgerError
from ledger.keystore import LocalKeyWrapper, open_sealed
from ledger.log import PreparedEvent
from tests.helpers import TENANT, make_actor, signed_item

MASTER = bytes(range(32))
COUNT = 120  # ≈ 66 KB of individually signed events: above the size that is split


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[IntakePool, EventIntake, Actor, Actor]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('shares')) / 'keys.db'}"
    migrate(url)
    engine = make_engine(url)
    registry = KeyRegistry(engine)
    actor, stranger = make_actor("guardian-1"), make_actor("guardian-2")
    for who in (actor, stranger):
        registry.register(TENANT, who.key_id, who.type, who.id, who.signer.public.to_pem())
    local = EventIntake(registry, LocalKeyWrapper(MASTER))
    pool = IntakePool(local, workers=2, database_url=url, master_key=MASTER)
    pool.start(timeout=120)
    yield pool, local, actor, stranger
    pool.close()
    engine.dispose()


def _items(actor: Actor) -> list[dict[str, Any]]:
    return [signed_item(actor, permit=f"P-{i % 7}", payload={"n": i, "note": "x" * 40}) for i in range(COUNT)]


def _comparable(event: PreparedEvent) -> tuple[Any, ...]:
    """What must be equal between two preparations (the seal is random: its plaintext is compared)."""
    context = f"{event.tenant}|{event.event_id}".encode()
    plaintext = open_sealed(LocalKeyWrapper(MASTER), event.tenant, event.payload_sealed, event.payload_key,
                            context=context)
    leaf = event.leaf.fill(None).replace(event.received_at.encode(), b"RECEIVED")
    return (event.event_id, event.kind, event.permit, event.key_id, event.claim_hash, leaf, plaintext, event.flags,
            event.observed, event.detector)


def _answer(prepare: Callable[[], Any]) -> tuple[str, Any]:
    try:
        submission = prepare()
    except (LedgerError, ServiceError) as exc:
        return type(exc).__name__, str(exc)
    received = {event.received_at for event in submission.events}
    assert len(received) == 1, "one received_at for the whole body"
    return "ok", [_comparable(event) for event in submission.events]


def _same(setup: tuple[IntakePool, EventIntake, Actor, Actor], body: bytes) -> tuple[str, Any]:
    pool, local, _, _ = setup
    assert len(body) > 32 * 1024
    split = _answer(lambda: asyncio.run(pool.prepare(TENANT, body)))
    assert split == _answer(lambda: local.prepare(TENANT, parse_body(body)))
    return split


def test_a_split_body_gives_the_events_one_process_gives(setup: tuple[IntakePool, EventIntake, Actor, Actor]) -> None:
    kind, events = _same(setup, orjson.dumps({"events": _items(setup[2])}))
    assert kind == "ok" and len(events) == COUNT


def _bad_signature(item: dict[str, Any], other: Actor) -> None:
    item["event"]["signature"] = signed_item(other)["event"]["signature"]


def _bad_claim(item: dict[str, Any], other: Actor) -> None:
    item["event"]["kind"] = "Not A Kind"


def _bad_payload(item: dict[str, Any], other: Actor) -> None:
    item["payload"] = {"n": -1}


def _foreign_key(item: dict[str, Any], other: Actor) -> None:
    item["event"]["actor"] = {**item["event"]["actor"], "id": other.id}


@pytest.mark.parametrize("faults", [
    [(5, _bad_signature)], [(100, _bad_signature)], [(10, _bad_signature), (90, _bad_signature)],
    [(100, _bad_claim), (10, _bad_signature)], [(90, _bad_payload), (100, _bad_signature)],
    [(3, _bad_payload), (100, _bad_signature)], [(3, _bad_payload), (70, _bad_payload)],
    [(110, _foreign_key), (2, _bad_signature)],
], ids=["sig-first-share", "sig-second-share", "sig-both", "claim-after-sig", "payload-before-sig",
        "payload-first-share-sig-second", "payload-both", "key-after-sig"])
def test_a_refused_split_body_gets_the_refusal_one_process_gives(
        setup: tuple[IntakePool, EventIntake, Actor, Actor], faults: list[tuple[int, Any]]) -> None:
    items = _items(setup[2])
    for position, fault in faults:
        fault(items[position], setup[3])
    kind, _ = _same(setup, orjson.dumps({"events": items}))
    assert kind != "ok", "the body is refused"


@pytest.mark.parametrize("count, workers", [(0, 2), (1, 2), (5, 2), (120, 2), (121, 3), (7, 7), (3, 8)])
def test_shares_cover_every_event_once_in_order(count: int, workers: int) -> None:
    spans = [share_bounds(count, (k, workers)) for k in range(workers)]
    assert [i for lo, hi in spans for i in range(lo, hi)] == list(range(count))
    assert max(hi - lo for lo, hi in spans) - min(hi - lo for lo, hi in spans) <= 1


def _bad_actor_type(item: dict[str, Any], other: Actor) -> None:
    item["event"]["actor"] = {**item["event"]["actor"], "type": "robot"}


def _bad_salt(item: dict[str, Any], other: Actor) -> None:
    item["salt"] = "00"


def _not_an_item(item: dict[str, Any], other: Actor) -> None:
    item["extra"] = 1


_FAULTS = [_bad_signature, _bad_claim, _bad_payload, _foreign_key, _bad_actor_type, _bad_salt, _not_an_item]
_STAMP = "2026-11-23T08:00:01.000001Z"


@pytest.fixture(scope="module")
def signed(setup: tuple[IntakePool, EventIntake, Actor, Actor]) -> list[dict[str, Any]]:
    return _items(setup[2])


def _packed_answer(prepare: Callable[[], Any]) -> tuple[str, Any]:
    try:
        events, attestation, digest = prepare()
    except (LedgerError, ServiceError) as exc:
        return type(exc).__name__, str(exc)
    return "ok", [_comparable(e) for e in unpack_submission((events, attestation, digest)).events]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults=st.lists(st.tuples(st.integers(0, COUNT - 1), st.sampled_from(_FAULTS)), max_size=3),
       count=st.integers(1, COUNT), shares=st.integers(2, 5))
def test_a_body_any_share_would_refuse_is_refused_and_the_shares_of_an_accepted_one_are_its_events(
        setup: tuple[IntakePool, EventIntake, Actor, Actor], signed: list[dict[str, Any]],
        faults: list[tuple[int, Any]], count: int, shares: int) -> None:
    """The soundness of checking each event in its share only: every body the whole-body preparation refuses
    is refused by at least one share (the pool then prepares it whole, for the exact refusal), and the shares
    of an accepted body are, joined in order, exactly its events."""
    local, other = setup[1], setup[3]
    items = copy.deepcopy(signed[:count])
    for position, fault in faults:
        fault(items[position % count], other)
    body = {"events": items}
    whole = _packed_answer(lambda: local.prepare_packed(TENANT, body, received_at=_STAMP))
    parts = [_packed_answer(lambda k=k: local.prepare_packed(TENANT, body, share=(k, shares), received_at=_STAMP))
             for k in range(shares)]
    if whole[0] != "ok":
        assert any(kind != "ok" for kind, _ in parts), f"a share must refuse what the whole refuses: {whole}"
    else:
        assert all(kind == "ok" for kind, _ in parts)
        assert [event for _, events in parts for event in events] == whole[1]


def _prepared_together(pool: IntakePool, bodies: list[bytes]) -> list[tuple[str, Any]]:
    """Each body's answer from ``pool.prepare``, all of them sent at once: ("ok", its events) or the refusal."""
    async def one(body: bytes) -> tuple[str, Any]:
        try:
            submission = await pool.prepare(TENANT, body)
        except (LedgerError, ServiceError) as exc:
            return type(exc).__name__, str(exc)
        return "ok", [_comparable(event) for event in submission.events]

    async def together() -> list[tuple[str, Any]]:
        return list(await asyncio.gather(*(one(body) for body in bodies)))
    return asyncio.run(together())


def test_bodies_arriving_together_each_get_the_answer_one_process_gives(
        setup: tuple[IntakePool, EventIntake, Actor, Actor], signed: list[dict[str, Any]]) -> None:
    """Several large bodies at once, their shares interleaved in the workers' queue: each gets what one process
    preparing it alone answers, a refused one included."""
    pool, local, _, other = setup
    bad = copy.deepcopy(signed)
    _bad_signature(bad[77], other)
    bodies = [orjson.dumps({"events": signed}), orjson.dumps({"events": bad}), orjson.dumps({"events": signed[::-1]})]

    answers = _prepared_together(pool, bodies)
    assert answers == [_answer(lambda b=b: local.prepare(TENANT, parse_body(b))) for b in bodies]
    assert [kind for kind, _ in answers] == ["ok", "InvalidSignature", "ok"]


def test_bodies_prepared_together_go_whole_and_answer_as_one_process(
        setup: tuple[IntakePool, EventIntake, Actor, Actor]) -> None:
    """While one body is being prepared the workers are busy: the next large body is not split (a split would
    cost each extra share a parse and the server a task each way, for no core that was idle). Each answer,
    accepted or refused, is still the one a single process gives, and a later body alone is split again."""
    pool, local, actor, stranger = setup
    bad = _items(actor)
    _bad_signature(bad[100], stranger)
    bodies = [orjson.dumps({"events": _items(actor)}), orjson.dumps({"events": bad}),
              orjson.dumps({"events": _items(actor)})]

    answers = _prepared_together(pool, bodies)
    assert answers == [_answer(functools.partial(local.prepare, TENANT, parse_body(body))) for body in bodies]
    assert answers[0][0] == answers[2][0] == "ok" and answers[1][0] != "ok"
    assert pool._busy == 0  # every body counted out again, the refused one too
    _same(setup, bodies[0])  # alone again: split, same answer
