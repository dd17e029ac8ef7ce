"""``ledger.packing``: the stored form of leaves and attestation bodies gives back the exact bytes packed, is
smaller by what the hashes and UUIDs of the event format save, and refuses damaged values with the reason."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical
from ledger.errors import StorageError
from ledger.events import leaf_template
from ledger.packing import (
    _WORDS,
    pack,
    pack_body,
    pack_leaf,
    pack_packed_leaf,
    pack_template,
    reference_pack_body,
    unpack,
)

HASH = "8fe30fe2179607ad2908d65e7bd259493d1c0e6836156e742790891733794d39"
EVENT = {
    "v": 1, "event_id": "b4dd1598-dba9-47b5-a2ea-74aea4e07024", "tenant": "acme-chem", "kind": "detector.reading",
    "subject": {"permit": "P-5"}, "actor": {"type": "device", "id": "detector-1", "key_id": "detector-1#1"},
    "occurred_at": "2026-11-23T08:00:00Z", "payload_commitment": HASH, "attestation": HASH[::-1],
    "location": {"lat": 30.2741, "lon": 120.1551, "accuracy_m": 3.5}, "received_at": "2026-12-01T14:43:11.848Z",
}
_HEX64 = re.compile(rb'"[0-9a-f]{64}"')
_UUID = re.compile(rb'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')


def test_pack_leaf_round_trips_and_saves_the_hashes_and_uuids() -> None:
    leaf = canonical({**EVENT, "prev": HASH})

    stored = pack(leaf)

    assert unpack(stored) == leaf
    saved = 33 * len(_HEX64.findall(leaf)) + 21 * len(_UUID.findall(leaf))
    assert len(stored) <= len(leaf) - saved, (len(stored), len(leaf), saved)
    assert len(stored) < len(leaf) * 0.5  # the format's words count too: 1 byte each


@pytest.mark.parametrize("prev", [None, bytes.fromhex(HASH)])
def test_pack_leaf_of_template_halves_unpacks_to_the_filled_leaf(prev: bytes | None) -> None:
    template = leaf_template(EVENT)

    stored = pack_leaf(template.head, prev, template.tail)

    assert unpack(stored) == template.fill(prev)


def test_pack_attestation_body_round_trips_at_half_the_size() -> None:
    body = canonical({"v": 1, "tenant": "acme-chem", "actor": EVENT["actor"], "signature": "MEUCIQ==",
                      "event_hashes": [f"{n:064x}" for n in range(500)]})

    stored = pack(body)

    assert unpack(stored) == body and len(stored) < len(body) * 0.52


def test_unpack_reads_json_stored_before_packing_unchanged() -> None:
    leaf = canonical(EVENT)

    assert unpack(leaf) == leaf


def test_pack_keeps_bytes_with_control_characters_verbatim() -> None:
    odd = b'{"a":"\x01' + HASH.encode() + b'"}'

    assert unpack(pack(odd)) == odd and pack(odd)[:1] == b"\x00"


def test_unpack_refuses_a_hash_token_cut_short() -> None:
    stored = pack(canonical(EVENT))
    cut = stored[:stored.index(b"\x01") + 5]

    with pytest.raises(StorageError, match="stored value is damaged: a packing token is cut short"):
        unpack(cut)


def test_unpack_refuses_bytes_that_are_neither_packed_nor_json() -> None:
    with pytest.raises(StorageError, match="stored value starts with byte 41: neither packed nor JSON"):
        unpack(b"A{}")


_TEXT = st.text(alphabet=st.sampled_from('0123456789abcdef-"{}:,[]nulPEV ' + "铁证é"), max_size=300)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.just(f'"{HASH}"'), st.just(f'"{EVENT["event_id"]}"'), st.just('"prev":null')), max_size=20))
def test_pack_round_trips_any_text_made_of_the_formats_pieces(pieces: list[str]) -> None:
    text = "".join(pieces).encode()

    assert unpack(pack(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_pack_round_trips_any_bytes(data: bytes) -> None:
    assert unpack(pack(data)) == data
    assert unpack(pack(b"{" + data)) == b"{" + data


_JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**53 + 1, 2**53 - 1) | st.text(max_size=70),
                     lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
                     max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(EVENT)), _JSON, max_size=8))
def test_pack_round_trips_canonical_json_of_any_event_like_object(fields: dict[str, object]) -> None:
    leaf = canonical({**EVENT, **fields})

    assert unpack(pack(leaf)) == leaf


_HALF = st.one_of(st.binary(max_size=120), _TEXT.map(str.encode),
                  st.lists(st.one_of(_TEXT, st.just(f'"{HASH}"'), st.just('"prev":')), max_size=8).map(
                      lambda pieces: "".join(pieces).encode()))


@settings(max_examples=400, deadline=None)
@given(_HALF, _HALF, st.one_of(st.none(), st.binary(min_size=32, max_size=32)))
def test_leaf_packed_in_the_worker_is_stored_as_the_writer_packs_it(head: bytes, tail: bytes,
                                                                    prev: bytes | None) -> None:
    """The intake worker's ``pack_template`` + the writer's ``pack_packed_leaf`` give ``pack_leaf``'s bytes (the
    reference); halves with a control byte have no packed form, so the writer keeps them raw as before."""
    packed = pack_template(head, tail)
    reference = pack_leaf(head, prev, tail)

    if packed is None:
        assert reference[:1] == b"\x00"
    else:
        assert pack_packed_leaf(packed, prev) == reference
    value = b'"' + prev.hex().encode() + b'"' if prev is not None else b"null"
    assert unpack(reference) == head + value + tail


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(EVENT)), _JSON, max_size=8),
       st.one_of(st.none(), st.binary(min_size=32, max_size=32)))
def test_real_leaf_templates_pack_the_same_in_the_worker(fields: dict[str, object], prev: bytes | None) -> None:
    template = leaf_template({**EVENT, **fields})
    packed = pack_template(template.head, template.tail)

    assert packed is not None  # canonical JSON never holds a raw control byte
    assert pack_packed_leaf(packed, prev) == pack_leaf(template.head, prev, template.tail)
    assert unpack(pack_packed_leaf(packed, prev)) == template.fill(prev)


_HASHES = st.lists(st.sampled_from([HASH, HASH.upper(), HASH[:63], "0" * 64, EVENT["event_id"]]), max_size=6).map(
    lambda hashes: '"event_hashes":[' + ",".join(f'"{h}"' for h in hashes) + "]")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(_TEXT, _HASHES, st.just(f'"{HASH}",'), st.just(f',"{HASH}"')), max_size=12))
def test_pack_body_packs_runs_of_hashes_as_the_reference_does(pieces: list[str]) -> None:
    text = "".join(pieces).encode()

    assert pack_body(text) == reference_pack_body(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), st.text(max_size=20))
def test_attestation_bodies_pack_as_the_reference_does(hashes: list[bytes], signature: str) -> None:
    body = canonical({"v": 1, "tenant": "acme-chem", "actor": EVENT["actor"], "signature": signature,
                      "event_hashes": [h.hex() for h in hashes]})

    assert pack_body(body) == reference_pack_body(body)
    assert unpack(pack(body)) == body


_PIECE = st.one_of(_TEXT, st.sampled_from([w.decode() for w in _WORDS]), st.just(f'"{HASH}"'),
                   st.just(f'"{EVENT["event_id"]}"'), st.just(","), st.just(',"'), st.just(f',"{HASH}"'),
                   st.just(f'"{HASH[:63]}"'), st.just(f',"{HASH}x"'))


@settings(max_examples=600, deadline=None)
@given(st.lists(_PIECE, max_size=30))
def test_pack_body_in_remembered_pieces_packs_as_the_reference_does(pieces: list[str]) -> None:
    """``pack_body`` cuts after each ``,"`` that opens no hash string and packs the pieces apart: the bytes of
    one pass over the whole text, for any text made of the format's words, hashes, UUIDs and commas."""
    text = "".join(pieces).encode()

    assert pack_body(text) == reference_pack_body(text)
    assert pack_body(text) == reference_pack_body(text), "and again, from the remembered pieces"


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(EVENT)), _JSON, max_size=8))
def test_real_leaf_halves_pack_as_the_reference_does(fields: dict[str, object]) -> None:
    template = leaf_template({**EVENT, **fields})

    assert pack_body(template.head) == reference_pack_body(template.head)
    assert pack_body(template.tail) == reference_pack_body(template.tail)


def test_pack_body_forgets_its_pieces_when_full_and_still_packs_the_same() -> None:
    texts = [f'"kind":"k{n}","lat":{n},"event_id":"{EVENT["event_id"]}"'.encode() for n in range(10_000)]

    assert [pack_body(t) for t in texts] == [reference_pack_body(t) for t in texts]
    assert pack_body(bytearray(texts[0])) == reference_pack_body(texts[0])  # type: ignore[arg-type]
