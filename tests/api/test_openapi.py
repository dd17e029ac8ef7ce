"""The served OpenAPI document tells the truth: it is valid OpenAPI 3.1, every reference resolves, every error
is a ProblemDetails under ``application/problem+json``, every operation lists the statuses its kind can
answer, bearer auth is a security scheme (not on the public log routes), success bodies have real schemas,
and real error answers match what the document says."""

from __future__ import annotations

from typing import Any

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient
from schemathesis.specs.openapi.definitions import OPENAPI_31

from tests.api.support import Api, bearer

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}



@pytest.fixture
def spec(client: TestClient) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").json()
    return document


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) of the document."""
    return [(method, path, op) for path, ops in spec["paths"].items() for method, op in ops.items()]


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """``node`` with its ``$ref`` (a local JSON pointer) followed, recursively."""
    while isinstance(node, dict) and "$ref" in node:
        ref: str = node["$ref"]
        assert ref.startswith("#/"), f"non-local reference {ref}"
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return ([node["$ref"]] if "$ref" in node else []) + [r for v in node.values() for r in _refs(v)]
    return [r for v in node for r in _refs(v)] if isinstance(node, list) else []


def test_openapi_validates_as_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"].startswith("3.1.")
    errors = [f"{e.instance_path}: {e.message}" for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(spec)]
    assert errors == []
    for name, schema in spec["components"]["schemas"].items():
        assert jsonschema_rs.meta.is_valid(schema), name


def test_openapi_every_reference_resolves(spec: dict[str, Any]) -> None:
    refs = _refs(spec)
    assert PROBLEM_REF["$ref"] in refs
    for ref in refs:
        assert resolve(spec, {"$ref": ref}) is not None, ref


def test_openapi_every_error_is_a_problem_document(spec: dict[str, Any]) -> None:
    assert {"HTTPValidationError", "ValidationError"}.isdisjoint(spec["components"]["schemas"])
    problem = spec["components"]["schemas"]["ProblemDetails"]
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    assert {"rule", "errors"} <= set(problem["properties"])
    for method, path, op in operations(spec):
        for status, response in op["responses"].items():
            if int(status) >= 400:
                assert response["content"] == {PROBLEM_JSON: {"schema": PROBLEM_REF}}, (method, path, status)
                assert response["description"], (method, path, status)


def test_openapi_operations_document_the_statuses_of_their_kind(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"] == {"bearer": {
        "type": "http", "scheme": "bearer", "description": spec["components"]["securitySchemes"]["bearer"]["description"]}}
    for method, path, op in operations(spec):
        statuses = {int(s) for s in op["responses"]}
        public = path.startswith("/v1/log/")
        assert op.get("security") == (None if public else [{"bearer": []}]), (method, path)
        assert ({401, 403} <= statuses) is not public, (method, path)
        assert 503 in statuses, (method, path)
        if "requestBody" in op:
            assert {413, 415, 422} <= statuses, (method, path)
        if any(p["in"] == "path" for p in op.get("parameters", [])):
            assert {404, 422} <= statuses, (method, path)
        assert not any(p["in"] == "header" and p["name"].lower() == "authorization"
                       for p in op.get("parameters", [])), (method, path)


def _typed(spec: dict[str, Any], schema: Any) -> bool:
    schema = resolve(spec, schema)
    if schema.get("type") == "array":
        return _typed(spec, schema.get("items", {}))
    return bool(schema.get("properties"))


def test_openapi_success_bodies_have_schemas(spec: dict[str, Any]) -> None:
    untyped = set()
    for method, path, op in operations(spec):
        successes = {s: r for s, r in op["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            if "content" not in response:  # tus: a 204, or HEAD's headers only
                assert status == "204" or method == "head", (method, path, status)
                continue
            if "application/json" not in response["content"]:  # media bytes, an evidence pack download
                assert all(c["schema"] == {"type": "string", "format": "binary"}
                           for c in response["content"].values()), (method, path, status)
                continue
            if not _typed(spec, response["content"]["application/json"]["schema"]):
                untyped.add((method, path))
    assert sorted(untyped) == [], "operations without a typed success body"


def _problem_validator(spec: dict[str, Any]) -> jsonschema_rs.Validator:
    return jsonschema_rs.Draft202012Validator({**PROBLEM_REF, "components": spec["components"]})


def _assert_documented_problem(spec: dict[str, Any], resp: Any, method: str, path: str) -> dict[str, Any]:
    documented = spec["paths"][path][method]["responses"]
    assert str(resp.status_code) in documented, (method, path, resp.status_code, resp.text)
    assert resp.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = resp.json()
    _problem_validator(spec).validate(body)
    return body


def test_openapi_real_errors_match_the_document(api: Api, spec: dict[str, Any]) -> None:
    client = api.client
    no_token = client.get("/v1/sites")
    _assert_documented_problem(spec, no_token, "get", "/v1/sites")
    assert no_token.status_code == 401 and no_token.headers["www-authenticate"] == "Bearer"
    forbidden = client.post("/v1/sites", json={"id": "s", "name": "S"}, headers=bearer(api.reader))
    assert _assert_documented_problem(spec, forbidden, "post", "/v1/sites")["status"] == 403
    missing = client.get("/v1/workers/nobody", headers=bearer(api.reader))
    assert _assert_documented_problem(spec, missing, "get", "/v1/workers/{worker_id}")["status"] == 404
    bad = client.post("/v1/sites", json={"id": "bad id", "name": ""}, headers=bearer(api.admin))
    body = _assert_documented_problem(spec, bad, "post", "/v1/sites")
    assert body["status"] == 422 and [e["field"] for e in body["errors"]] == ["body.id", "body.name"]
    assert client.post("/v1/sites", json={"id": "s", "name": "S"}, headers=bearer(api.admin)).status_code == 201
    taken = client.post("/v1/sites", json={"id": "s", "name": "S"}, headers=bearer(api.admin))
    assert _assert_documented_problem(spec, taken, "post", "/v1/sites")["status"] == 409
    no_proof = client.get("/v1/log/proofs/inclusion", params={"leaf_index": 5, "tree_size": 3})
    assert _assert_documented_problem(spec, no_proof, "get", "/v1/log/proofs/inclusion")["status"] == 400


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("DELETE", "/v1/settings/rules", "GET, PUT"),      # two routes share the path: Allow names both
    ("PATCH", "/v1/log/checkpoint", "GET"),
    ("PUT", "/v1/sites", "GET, POST"),
    ("DELETE", "/v1/permits/p-1", "GET"),
])
def test_method_not_allowed_carries_allow(client: TestClient, method: str, path: str, allow: str) -> None:
    resp = client.request(method, path)
    assert resp.status_code == 405
    assert resp.headers["allow"] == allow
    assert resp.headers["content-type"] == PROBLEM_JSON
    assert resp.json()["detail"] == f"{method} {path}: Method Not Allowed; allowed: {allow}"


def test_openapi_typed_bodies_are_what_the_routes_answer(api: Api, spec: dict[str, Any]) -> None:
    """The org, settings and admin answers validate against their documented schemas."""
    client, admin = api.client, bearer(api.admin)

    def check(method: str, path: str, resp: Any, template: str | None = None) -> None:
        assert resp.status_code < 300, resp.text
        schema = spec["paths"][template or path][method]["responses"][str(resp.status_code)]
        wrapped = {**schema["content"]["application/json"]["schema"], "components": spec["components"]}
        jsonschema_rs.Draft202012Validator(wrapped).validate(resp.json())

    check("post", "/v1/sites", client.post("/v1/sites", json={"id": "p1", "name": "一厂"}, headers=admin))
    fence = {"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 150}}
    check("post", "/v1/areas", client.post("/v1/areas", json={"id": "u3", "site": "p1", "name": "三号", "geofence": fence},
                                           headers=admin))
    check("get", "/v1/areas", client.get("/v1/areas", headers=admin))
    check("post", "/v1/workers", client.post("/v1/workers", json={"id": "w1", "name": "王五", "team": "A"}, headers=admin))
    body = {"id": "v1", "occurred_on": "2026-01-02", "description": "no harness"}
    check("post", "/v1/workers/{worker_id}/violations", client.post("/v1/workers/w1/violations", json=body, headers=admin))
    worker = client.get("/v1/workers/w1", headers=admin)
    check("get", "/v1/workers/{worker_id}", worker)
    assert [v["id"] for v in worker.json()["violations"]] == ["v1"]
    check("get", "/v1/settings/rules", client.get("/v1/settings/rules", headers=admin))
    check("put", "/v1/settings/rules", client.put("/v1/settings/rules", json={"overrides": {"approver_max_distance_m": 8}},
                                                  headers=admin))
    check("get", "/v1/users", client.get("/v1/users", headers=admin))
    check("post", "/v1/jobs/certificate-warnings", client.post("/v1/jobs/certificate-warnings", headers=admin))


def test_unknown_query_parameter_is_refused(api: Api) -> None:
    """Found by schemathesis: an undocumented query parameter was ignored, so ``?stat=valid`` (a typo) answered
    the unfiltered list; now it is a 422 naming what the operation takes."""
    resp = api.client.get("/v1/certificates", params={"stat": "valid"}, headers=bearer(api.reader))
    assert resp.status_code == 422
    assert resp.json()["detail"] == ("unknown query parameter(s) ['stat']; GET /v1/certificates takes category, on, "
                                     "state, sub_type, team, work_type")
    resp = api.client.get("/v1/log/checkpoint", params={"x": "1"})
    assert resp.status_code == 422 and "takes no query parameters" in resp.json()["detail"]


@pytest.mark.parametrize("on", ["9.67e-282", "1700000000", "2026-3-1", "01.03.2026"])
def test_dates_are_written_yyyy_mm_dd(api: Api, on: str) -> None:
    """Found by schemathesis: ``?on=9.67e-282`` was read as a Unix time (1970-01-01)."""
    resp = api.client.get("/v1/certificates/summary", params={"on": on}, headers=bearer(api.reader))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["field"] == "query.on"
    assert "must be a date written YYYY-MM-DD" in resp.json()["detail"]
    body = {"id": "v1", "occurred_on": 1700000000, "description": "no harness"}
    resp = api.client.post("/v1/workers/w1/violations", json=body, headers=bearer(api.admin))
    assert resp.status_code == 422 and resp.json()["errors"][0]["field"] == "body.occurred_on"


def test_single_valued_query_parameter_given_twice_is_refused(api: Api) -> None:
    """Found by schemathesis: ``?sub_type=1.1&sub_type=2.1`` silently used the last value."""
    resp = api.client.get("/v1/certificates?sub_type=1.1&sub_type=2.1", headers=bearer(api.reader))
    assert resp.status_code == 422
    assert resp.json()["detail"] == "query parameter(s) ['sub_type'] given more than once; give each once"
