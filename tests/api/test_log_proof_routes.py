"""The proof routes answer the very bytes FastAPI made of their response models before they wrote their own
JSON (``evidence_api.routes.log``), and the OpenAPI document still describes them with those models."""

from __future__ import annotations

from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse

from evidence_api.schemas.log import ConsistencyProofOut, InclusionProofOut
from ledger.log import TransparencyLog
from tests.api.support import Api
from tests.helpers import signed_item


def _model_bytes(model: InclusionProofOut | ConsistencyProofOut) -> bytes:
    """What FastAPI's default response class writes for ``model`` (the route's answer until now)."""
    return bytes(JSONResponse(jsonable_encoder(model)).body)


def test_inclusion_and_consistency_routes_answer_the_model_bytes(api: Api) -> None:
    for n in range(7):
        assert api.post_events({"events": [signed_item(api.guardian, payload={"n": n})]}).status_code == 201
    log: TransparencyLog = api.client.app.state.services.log  # type: ignore[attr-defined]
    for index, size in ((0, 1), (0, 7), (6, 7), (3, 5)):
        leaf, root, proof = log.prove_inclusion(index, size)
        resp = api.client.get("/v1/log/proofs/inclusion", params={"leaf_index": index, "tree_size": size})
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        assert resp.content == _model_bytes(InclusionProofOut(
            leaf_index=index, tree_size=size, leaf_hash=leaf.hex(), root_hash=root.hex(), proof=[h.hex() for h in proof]))
    for first, second in ((0, 7), (3, 7), (7, 7), (1, 2)):
        resp = api.client.get("/v1/log/proofs/consistency", params={"first": first, "second": second})
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        assert resp.content == _model_bytes(ConsistencyProofOut(
            first=first, second=second, first_root=log.root_at(first).hex(), second_root=log.root_at(second).hex(),
            proof=[h.hex() for h in log.consistency_proof(first, second)]))


def test_the_proof_routes_are_documented_with_their_models(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]

    for path, model in (("/v1/log/proofs/inclusion", "InclusionProofOut"),
                        ("/v1/log/proofs/consistency", "ConsistencyProofOut")):
        ok = paths[path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert ok == {"$ref": f"#/components/schemas/{model}"}
