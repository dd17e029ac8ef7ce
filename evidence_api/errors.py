"""Domain errors to RFC 9457 problem details, in one table; routes never build HTTP errors themselves."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from evidence_api.services import errors as svc
from ledger import errors as ledger

__all__ = ["PROBLEMS", "install_error_handlers", "problem"]

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
}


def problem(status: int, slug: str, title: str, detail: str, **extra: object) -> JSONResponse:
    """An ``application/problem+json`` response."""
    body = {"type": _BASE + slug, "title": title, "status": status, "detail": detail, **extra}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def _domain_handler(request: Request, exc: Exception) -> JSONResponse:
    for kind in type(exc).__mro__:
        if kind in PROBLEMS:
            status, slug, title = PROBLEMS[kind]
            extra = {"rule": exc.rule} if isinstance(exc, svc.RuleViolation) else {}
            return problem(status, slug, title, str(exc), **extra)
    raise exc


def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]} for e in exc.errors()]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(422, "malformed-input", "The request is not well-formed", detail, errors=errors)


def _http_handler(request: Request, exc: Exception) -> JSONResponse:
    """Framework errors (unknown route, wrong method) as problem details too."""
    assert isinstance(exc, StarletteHTTPException)
    return problem(exc.status_code, f"http-{exc.status_code}", str(exc.detail), f"{request.method} {request.url.path}: {exc.detail}")


def install_error_handlers(app: FastAPI) -> None:
    """Register the table's handlers on ``app``."""
    app.add_exception_handler(StarletteHTTPException, _http_handler)
    app.add_exception_handler(ledger.LedgerError, _domain_handler)
    app.add_exception_handler(svc.ServiceError, _domain_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
