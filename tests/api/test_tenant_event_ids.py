"""Idempotency is per tenant (issue 8, defect 6): an ``event_id`` used by one tenant neither reveals itself
to another tenant (no 409) nor stops that tenant from using the same id; a retry is still a duplicate."""

from __future__ import annotations

from typing import Any

from ingest.signing import Actor
from tests.api.support import BOTH_DATABASES, Api, _tenant, bearer, key_body
from tests.helpers import make_actor, signed_item

THIRD = "third-co"


def _third_tenant(api: Api) -> tuple[dict[str, str], Actor]:
    """A further tenant with its own registered guardian; its tokens (by role) and the actor."""
    tokens = _tenant(api.client, THIRD)
    actor = make_actor("guardian-1")  # the same actor id and key id as TENANT's guardian, another key
    resp = api.client.post("/v1/keys", json=key_body(actor, THIRD), headers=bearer(tokens["admin"]))
    assert resp.status_code == 201, resp.text
    return tokens, actor


def _receipts(resp: Any, status: int) -> list[dict[str, Any]]:
    assert resp.status_code == status, resp.text
    receipts: list[dict[str, Any]] = resp.json()["receipts"]
    return receipts


@BOTH_DATABASES
def test_post_events_same_event_id_in_two_tenants_returns_201_to_both_with_own_receipts(api: Api) -> None:
    ours = signed_item(api.guardian, payload={"gas": 1})
    event_id = ours["event"]["event_id"]
    tokens, actor = _third_tenant(api)
    token = tokens["ingest"]
    theirs = signed_item(actor, payload={"gas": 2}, tenant=THIRD, event_id=event_id)

    (first,) = _receipts(api.post_events({"events": [ours]}), 201)
    (second,) = _receipts(api.post_events({"events": [theirs]}, token=token), 201)

    assert first["event_id"] == second["event_id"] == event_id
    assert (first["leaf_index"], second["leaf_index"]) == (0, 1)
    assert first["leaf_hash"] != second["leaf_hash"]
    assert not first["duplicate"] and not second["duplicate"]
    api.checkpoint(2)
    for tenant_token, item, receipt in ((api.reader, ours, first), (tokens["reader"], theirs, second)):
        resp = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(tenant_token))
        assert resp.status_code == 200, resp.text
        bundle = resp.json()
        assert bundle["leaf_index"] == receipt["leaf_index"]
        assert bundle["event"]["tenant"] == item["event"]["tenant"]
        assert bundle["payload"]["value"] == item["payload"]


@BOTH_DATABASES
def test_post_events_retry_in_one_tenant_is_a_duplicate_while_the_other_tenant_has_the_same_id(api: Api) -> None:
    ours = signed_item(api.guardian)
    tokens, actor = _third_tenant(api)
    token = tokens["ingest"]
    theirs = signed_item(actor, tenant=THIRD, event_id=ours["event"]["event_id"])
    (first,) = _receipts(api.post_events({"events": [ours]}), 201)
    _receipts(api.post_events({"events": [theirs]}, token=token), 201)

    (retry,) = _receipts(api.post_events({"events": [ours]}), 200)
    (their_retry,) = _receipts(api.post_events({"events": [theirs]}, token=token), 200)

    assert retry == {**first, "duplicate": True}
    assert their_retry["duplicate"] and their_retry["leaf_index"] == 1
    assert api.tree_size == 2
