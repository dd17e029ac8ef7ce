"""The floor of ``bench.intake_floor`` answers like the service's intake route where a client looks (status,
receipts shaped as the service's, one per event of the batch) and keeps our middleware's refusals, so its
figure is the HTTP stack's and the client's own cost. This checks the harness, never a speed."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from bench.intake_floor import FLOOR_TOKEN, floor_app, floor_receipts
from ingest.client import ApiClient, ApiError


def test_floor_answers_prebuilt_receipts_shaped_as_the_service() -> None:
    with TestClient(floor_app(3)) as http:
        receipts = ApiClient(http, token=FLOOR_TOKEN).submit_encoded(b'{"events": []}')
    assert [r.leaf_index for r in receipts] == [1_000_000, 1_000_001, 1_000_002]
    assert all(len(r.leaf_hash) == 32 and len(r.event_id) == 36 and not r.duplicate for r in receipts)


def test_floor_keeps_the_middlewares_refusals() -> None:
    with TestClient(floor_app(3)) as http:
        client = ApiClient(http, token="not-the-floor-token", retries=0)
        with pytest.raises(ApiError, match=r"answered 401 .*unknown bearer token"):
            client.submit_encoded(b'{"events": []}')
        response = http.post("/v1/events", content=b"{}", headers={"Authorization": f"Bearer {FLOOR_TOKEN}",
                                                                    "Content-Type": "text/plain"})
        assert response.status_code == 415


def test_floor_receipts_are_one_json_document_of_count_receipts() -> None:
    assert floor_receipts(0) == b'{"receipts":[]}'
    assert floor_receipts(500).count(b'"event_id"') == 500
