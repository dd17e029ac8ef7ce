"""``/v1/log/*``: checkpoint, public key, inclusion and consistency proofs, anchors. Everything served is
checked with the independent ``verifier`` package against the log key the service publishes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.api.support import BOTH_DATABASES, Api, assert_problem
from tests.helpers import signed_item, wait_until
from verifier.anchors import LocalAnchor, verify_local_anchor
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.merkle import verify_consistency, verify_inclusion
from verifier.sm import PublicKey


def _append(api: Api, count: int) -> list[dict[str, Any]]:
    items = [signed_item(api.guardian, payload={"n": n}) for n in range(count)]
    resp = api.post_events({"events": items})
    assert resp.status_code == 201, resp.text
    receipts: list[dict[str, Any]] = resp.json()["receipts"]
    return receipts


def _verified_checkpoint(api: Api, size: int) -> Checkpoint:
    """The served checkpoint of ``size`` leaves, parsed and verified with the published log key."""
    served = api.checkpoint(size)
    checkpoint = Checkpoint.from_text(served["text"])
    verify_checkpoint(checkpoint, public_key_pem=api.log_key_pem())
    return checkpoint


# -- checkpoint and key ------------------------------------------------------------------------------
def test_checkpoint_of_empty_log_returns_404(api: Api) -> None:
    time.sleep(0.2)  # several checkpoint intervals: the writer must not cut one for the empty tree

    assert_problem(api.client.get("/v1/log/checkpoint"), 404, "not-found", "the log is empty: no checkpoint yet")


@BOTH_DATABASES
def test_checkpoint_after_appends_returns_200_with_text_that_verifies(api: Api) -> None:
    _append(api, 3)

    served = api.checkpoint(3)

    checkpoint = Checkpoint.from_text(served["text"])
    verify_checkpoint(checkpoint, public_key_pem=api.log_key_pem())
    assert (checkpoint.origin, checkpoint.tree_size, checkpoint.root_hash.hex()) == \
        (served["origin"], 3, served["root_hash"])


def test_public_key_returns_sm2_key_with_its_fingerprint(api: Api) -> None:
    body = api.client.get("/v1/log/public-key").json()

    assert body["origin"] == "tiezheng.local/log"
    assert PublicKey.from_pem(body["public_key_pem"]).fingerprint() == body["fingerprint"]


# -- proofs ------------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_inclusion_proofs_verify_against_checkpoint_root(api: Api) -> None:
    receipts = _append(api, 5)
    checkpoint = _verified_checkpoint(api, 5)

    for receipt in receipts:
        resp = api.client.get("/v1/log/proofs/inclusion", params={"leaf_index": receipt["leaf_index"], "tree_size": 5})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["leaf_hash"] == receipt["leaf_hash"]
        verify_inclusion(receipt["leaf_index"], 5, bytes.fromhex(receipt["leaf_hash"]),
                         [bytes.fromhex(h) for h in body["proof"]], checkpoint.root_hash)


@BOTH_DATABASES
def test_consistency_proof_between_checkpoints_verifies(api: Api) -> None:
    _append(api, 3)
    old = _verified_checkpoint(api, 3)
    _append(api, 4)
    new = _verified_checkpoint(api, 7)

    resp = api.client.get("/v1/log/proofs/consistency", params={"first": 3, "second": 7})

    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["first_root"], body["second_root"]) == (old.root_hash.hex(), new.root_hash.hex())
    verify_consistency(3, 7, old.root_hash, new.root_hash, [bytes.fromhex(h) for h in body["proof"]])


@pytest.mark.parametrize(("first", "second"), [(0, 4), (4, 4)])
def test_consistency_proof_from_empty_or_same_size_is_empty(api: Api, first: int, second: int) -> None:
    _append(api, 4)

    resp = api.client.get("/v1/log/proofs/consistency", params={"first": first, "second": second})

    assert resp.status_code == 200, resp.text
    assert resp.json()["proof"] == []


@pytest.mark.parametrize(("path", "params", "detail"), [
    ("inclusion", {"leaf_index": 3, "tree_size": 3}, "leaf index 3 is outside a tree of size 3"),
    ("inclusion", {"leaf_index": 0, "tree_size": 4}, "tree size 4 is beyond the log's size 3"),
    ("consistency", {"first": 3, "second": 2}, "no consistency proof from size 3 to size 2: need 0 <= first <= second"),
    ("consistency", {"first": 1, "second": 9}, "tree size 9 is beyond the log's size 3"),
])
def test_proof_with_impossible_parameters_returns_400(api: Api, path: str, params: dict[str, int], detail: str) -> None:
    _append(api, 3)

    resp = api.client.get(f"/v1/log/proofs/{path}", params=params)

    assert_problem(resp, 400, "bad-proof-request", detail)


@pytest.mark.parametrize(("params", "detail"), [
    ({"leaf_index": -1, "tree_size": 3}, "query.leaf_index: Input should be greater than or equal to 0"),
    ({"leaf_index": "one", "tree_size": 3}, "query.leaf_index: Input should be a valid integer"),
    ({"tree_size": 3}, "query.leaf_index: Field required"),
])
def test_inclusion_proof_with_malformed_query_returns_422(api: Api, params: dict[str, Any], detail: str) -> None:
    assert_problem(api.client.get("/v1/log/proofs/inclusion", params=params), 422, "malformed-input", detail)


# -- anchors -----------------------------------------------------------------------------------------
def _anchors(api: Api, tree_size: int) -> list[dict[str, Any]]:
    def probe() -> list[dict[str, Any]] | None:
        resp = api.client.get("/v1/log/anchors", params={"tree_size": tree_size})
        assert resp.status_code == 200, resp.text
        return resp.json()["anchors"] or None

    found: list[dict[str, Any]] = wait_until(probe)
    return found


@BOTH_DATABASES
def test_anchors_appear_after_anchorer_runs_and_verify(api: Api) -> None:
    _append(api, 2)
    checkpoint = _verified_checkpoint(api, 2)

    (anchor,) = _anchors(api, 2)

    assert anchor["backend"] == "local" and anchor["tree_size"] >= 2
    verify_local_anchor(LocalAnchor.from_json(anchor), checkpoint=checkpoint, public_key_pem=api.log_key_pem())


def test_anchor_covering_older_tree_size_verifies_against_its_checkpoint(api: Api) -> None:
    _append(api, 2)
    old = _verified_checkpoint(api, 2)
    _append(api, 3)
    _verified_checkpoint(api, 5)
    _anchors(api, 5)

    (anchor,) = _anchors(api, 2)  # the first anchor of a tree of at least 2 leaves: size 2 or 5

    assert anchor["tree_size"] in (2, 5)
    verify_local_anchor(LocalAnchor.from_json(anchor), checkpoint=old, public_key_pem=api.log_key_pem())


def test_anchors_beyond_every_anchor_returns_empty_list(api: Api) -> None:
    resp = api.client.get("/v1/log/anchors", params={"tree_size": 10})

    assert resp.status_code == 200, resp.text
    assert resp.json() == {"tree_size": 10, "anchors": []}


def test_unknown_route_is_a_problem_document(api: Api) -> None:
    response = api.client.get("/v1/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "GET /v1/no-such-thing: Not Found"


def test_openapi_documents_every_route_and_every_reference_resolves(api: Api) -> None:
    spec = api.client.get("/openapi.json").json()
    assert {"/v1/events", "/v1/keys", "/v1/log/checkpoint", "/v1/log/proofs/inclusion"} <= set(spec["paths"])
    body = spec["paths"]["/v1/events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventBatch"}

    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in refs(v)]
        return [r for v in node for r in refs(v)] if isinstance(node, list) else []

    for ref in refs(spec):
        assert ref.removeprefix("#/components/schemas/") in spec["components"]["schemas"], ref
