"""The client's receipts: ``Receipt.all_from_json`` over the orjson parse of a ``POST /v1/events`` answer gives
exactly what ``from_json`` over the standard library's parse gave, for any receipts the server can write
(``ledger.records.Receipt.to_json`` serialised as the route does)."""

from __future__ import annotations

import json

import orjson
from hypothesis import given
from hypothesis import strategies as st

from ingest.records import Receipt
from ledger.records import Receipt as LogReceipt

_receipts = st.lists(st.builds(
    LogReceipt, event_id=st.text(max_size=40), leaf_index=st.integers(0, 2**53 - 1),
    leaf_hash=st.binary(min_size=32, max_size=32), received_at=st.text(max_size=40), duplicate=st.booleans()),
    max_size=30)


@given(_receipts)
def test_all_from_json_of_orjson_parse_matches_from_json_of_json_parse(receipts: list[LogReceipt]) -> None:
    answer = orjson.dumps({"receipts": [r.to_json() for r in receipts]})

    fast = Receipt.all_from_json(orjson.loads(answer)["receipts"])
    reference = tuple(Receipt.from_json(r) for r in json.loads(answer)["receipts"])

    assert fast == reference
    assert [(r.event_id, r.leaf_index, r.leaf_hash, r.received_at, r.duplicate) for r in fast] == [
        (r.event_id, r.leaf_index, r.leaf_hash, r.received_at, r.duplicate) for r in receipts]


def test_all_from_json_without_duplicate_field_is_not_duplicate() -> None:
    entry = {"event_id": "e", "leaf_index": 3, "leaf_hash": "00" * 32, "received_at": "t"}
    assert Receipt.all_from_json([entry]) == (Receipt("e", 3, bytes(32), "t", False),) == (Receipt.from_json(entry),)
