"""The OpenAPI 3.1 document of the service, made true: every error an ``application/problem+json``
ProblemDetails (RFC 9457) under each status the operation can answer, bearer auth as a security scheme."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from evidence_api.errors import PROBLEM_JSON, STATUS_DESCRIPTIONS
from evidence_api.schemas.log import EventBatch
from evidence_api.schemas.problem import ProblemDetails

__all__ = ["build_openapi"]

_REF = "#/components/schemas/{model}"
_PROBLEM = {"$ref": _REF.format(model="ProblemDetails")}
_FRAMEWORK_422 = {"HTTPValidationError", "ValidationError"}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The document of ``app``'s routes.

    Beyond what FastAPI generates: (1) the event-batch body, which the intake route reads raw (its signatures
    cover the exact JSON values) and so does not declare as a parameter; (2) on every operation the problem
    statuses it can answer — those its route declares with ``errors.problems`` (400, 404, 409), and those
    every operation of its kind can answer: 401 and 403 behind the bearer scheme, 400 (unparseable), 413, 415
    with a body, 422 and 503 everywhere (an unknown query parameter; storage) — each as ProblemDetails,
    replacing FastAPI's plain-JSON 422; (3) ``WWW-Authenticate`` on 401."""
    schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    schemas: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    for model, name in ((EventBatch, "EventBatch"), (ProblemDetails, "ProblemDetails")):
        generated = model.model_json_schema(ref_template=_REF)
        schemas.update(generated.pop("$defs", {}) | {name: generated})
    for operations in schema["paths"].values():
        for operation in operations.values():
            _document_problems(operation)
    for name in _FRAMEWORK_422:
        schemas.pop(name, None)
    return schema


def _statuses(operation: dict[str, Any]) -> set[int]:
    declared = {int(code) for code in operation["responses"] if code.isdigit() and int(code) >= 400}
    if operation.get("security"):
        declared |= {401, 403}
    if operation.get("requestBody"):
        declared |= {400, 413, 415}
    return declared | {422, 503}


def _document_problems(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    for status in sorted(_statuses(operation)):
        entry: dict[str, Any] = {"description": STATUS_DESCRIPTIONS[status],
                                 "content": {PROBLEM_JSON: {"schema": _PROBLEM}}}
        if status == 401:
            entry["headers"] = {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}}
        responses[str(status)] = entry
