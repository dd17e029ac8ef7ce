"""``Receipt.document`` (the bytes of a ``POST /v1/events`` answer, serialised from the dataclasses) is byte for
byte what the reference ``orjson.dumps({"receipts": [r.to_json() for r in receipts]})`` writes, for any receipts,
and refuses what the reference refuses (a leaf index past 64 bits, a lone surrogate) with the same error."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.records import Receipt

_hash = st.binary(max_size=64)
_receipt = st.builds(Receipt, event_id=st.text(max_size=40), leaf_index=st.integers(-(2**63), 2**64 - 1),
                     leaf_hash=_hash | _hash.map(bytearray) | _hash.map(memoryview), received_at=st.text(max_size=40),
                     duplicate=st.booleans())


def _reference(receipts: list[Receipt]) -> bytes:
    return orjson.dumps({"receipts": [r.to_json() for r in receipts]})


@given(st.lists(_receipt, max_size=20))
def test_document_is_the_reference_bytes(receipts: list[Receipt]) -> None:
    assert Receipt.document(receipts) == _reference(receipts)


def test_document_of_service_receipts_is_the_wire_form() -> None:
    receipt = Receipt("0f8e2f6c-5d55-4f0e-9a43-0c1d2e3f4a5b", 7, bytes(range(32)), "2026-12-01T17:30:09.123Z")
    assert Receipt.document([receipt, Receipt(receipt.event_id, 7, receipt.leaf_hash, receipt.received_at, True)]) == (
        b'{"receipts":[{"event_id":"0f8e2f6c-5d55-4f0e-9a43-0c1d2e3f4a5b","leaf_index":7,"leaf_hash":"'
        + bytes(range(32)).hex().encode() + b'","received_at":"2026-12-01T17:30:09.123Z","duplicate":false},'
        b'{"event_id":"0f8e2f6c-5d55-4f0e-9a43-0c1d2e3f4a5b","leaf_index":7,"leaf_hash":"'
        + bytes(range(32)).hex().encode() + b'","received_at":"2026-12-01T17:30:09.123Z","duplicate":true}]}')
    assert Receipt.document([]) == b'{"receipts":[]}'


@pytest.mark.parametrize(("receipt", "why"), [(Receipt("e", 2**64, b"", "t"), "Integer exceeds 64-bit range"),
                                              (Receipt("\ud800", 1, b"", "t"), "str is not valid UTF-8"),
                                              (Receipt({1}, 1, b"", "t"), "Type is not JSON serializable: set")])
def test_document_refuses_what_the_reference_refuses(receipt: Receipt, why: str) -> None:
    with pytest.raises(orjson.JSONEncodeError, match=why):
        _reference([receipt])
    with pytest.raises(orjson.JSONEncodeError, match=why):
        Receipt.document([receipt])
