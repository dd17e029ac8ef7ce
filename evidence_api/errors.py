"""Domain errors to RFC 9457 problem details, in one table; routes never build HTTP errors themselves."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evidence_api.services import errors as svc
from ingest import media, objectstore
from ingest.media.upload import UploadBusy
from ledger import errors as ledger

__all__ = ["PROBLEMS", "PROBLEM_JSON", "STATUS_DESCRIPTIONS", "install_error_handlers", "problem", "problems"]

PROBLEM_JSON = "application/problem+json"

_BASE = "https://tiezheng.dev/problems/"

PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    ledger.MalformedInput: (422, "malformed-input", "The request is not well-formed"),
    ledger.InvalidSignature: (422, "invalid-signature", "A signature does not verify"),
    ledger.UnknownKey: (422, "unknown-key", "The signing key is not registered"),
    ledger.CommitmentMismatch: (422, "commitment-mismatch", "The payload does not match its commitment"),
    ledger.KeyMaterialError: (422, "bad-key", "The key is not a usable SM2 key"),
    ledger.DuplicateConflict: (409, "duplicate-conflict", "The event id is taken by different content"),
    ledger.ProofError: (400, "bad-proof-request", "No proof exists for these parameters"),
    ledger.StorageError: (503, "storage-unavailable", "The evidence store could not complete the request"),
    ledger.AnchorError: (503, "anchor-unavailable", "An anchor backend could not complete the request"),
    svc.Unauthorized: (401, "unauthorized", "Authentication required"),
    svc.Forbidden: (403, "forbidden", "Not allowed"),
    svc.NotFound: (404, "not-found", "Not found"),
    svc.Conflict: (409, "conflict", "Conflicts with stored state"),
    svc.TooLarge: (413, "too-large", "The request is too large"),
    svc.UnsupportedMediaType: (415, "unsupported-media-type", "The request body has a media type this route does not take"),
    svc.InvalidTransition: (409, "invalid-transition", "The permit's state does not allow this action"),
    svc.RuleViolation: (422, "rule-violation", "A safety rule refuses this action"),
    svc.Gone: (410, "gone", "Deleted on purpose; its record stays"),
    svc.PreconditionFailed: (412, "precondition-failed", "A protocol precondition does not hold"),
    svc.RangeNotSatisfiable: (416, "range-not-satisfiable", "The range does not fit the object"),
    media.DigestMismatch: (422, "digest-mismatch", "The upload is not what its uploader declared"),
    media.SizeMismatch: (422, "size-mismatch", "The upload is not the size its uploader declared"),
    UploadBusy: (409, "upload-busy", "Another request is writing this upload"),
    media.MediaError: (503, "media-damaged", "A stored media object fails authentication"),
    objectstore.ObjectStoreError: (503, "object-store-unavailable", "The object store could not complete the request"),
}


STATUS_DESCRIPTIONS: dict[int, str] = {
    400: "The body cannot be parsed (not JSON), or no proof exists for these parameters",
    401: "No bearer token, or one that is not known; send 'Authorization: Bearer <token>'",
    403: "The token's role or tenant may not do this",
    404: "Something the request names does not exist for the caller's tenant",
    409: "Conflicts with stored state (an id already taken, or a permit state that does not allow the action)",
    410: "The media was deleted by retention (its record: SM3, size, events, stays), or an unfinished upload expired",
    412: "A tus request without 'Tus-Resumable: 1.0.0'",
    413: "The request body (or a batch in it) exceeds the configured limit",
    415: "The request body is not of a media type this operation accepts",
    416: "The Range does not fit the object",
    422: "The request is malformed, a signature or key is bad, or a safety rule refuses it (see ``rule``)",
    503: "The evidence store or an anchor backend could not complete the request; retry later",
}
"""What each error status means in this API (the OpenAPI document's response descriptions)."""


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` entries of ``statuses``, each an ``application/problem+json`` ProblemDetails
    (the component ``evidence_api.openapi`` adds); pass it as a route's ``responses=``."""
    schema = {"$ref": "#/components/schemas/ProblemDetails"}
    return {status: {"description": STATUS_DESCRIPTIONS[status], "content": {PROBLEM_JSON: {"schema": schema}}}
            for status in statuses}


def problem(status: int, slug: str, title: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    """An ``application/problem+json`` response; a 401 carries ``WWW-Authenticate: Bearer``."""
    body = {"type": _BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    headers = dict(headers or {}) | ({"WWW-Authenticate": "Bearer"} if status == 401 else {})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers or None)


def _domain_handler(request: Request, exc: Exception) -> JSONResponse:
    for kind in type(exc).__mro__:
        if kind in PROBLEMS:
            status, slug, title = PROBLEMS[kind]
            extra: dict[str, Any] = {"rule": exc.rule} if isinstance(exc, svc.RuleViolation) else {}
            return problem(status, slug, title, str(exc), **extra)
    raise exc


def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "malformed-input", "The request is not well-formed", detail, errors=errors)


def _allowed_methods(request: Request) -> str | None:
    """The methods that the documented operations of the request's path answer (over every route the path
    matches, not only the first one the router tried), for a 405's ``Allow``; None for an undocumented path."""
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    methods = {method.upper() for template, operations in paths.items()
               if re.fullmatch(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)), request.url.path)
               for method in operations}
    return ", ".join(sorted(methods)) or None


def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework errors (unknown route, wrong method) as problem details too; a 405 says what is allowed."""
    assert isinstance(exc, StarletteHTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    detail = f"{request.method} {request.url.path}: {exc.detail}"
    if exc.status_code == 405:
        detail += f"; allowed: {headers['Allow']}"
    return problem(exc.status_code, f"http-{exc.status_code}", str(exc.detail), detail, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Register the table's handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ledger.LedgerError, _domain_handler)
    app.add_exception_handler(svc.ServiceError, _domain_handler)
    app.add_exception_handler(media.MediaError, _domain_handler)
    app.add_exception_handler(objectstore.ObjectStoreError, _domain_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
