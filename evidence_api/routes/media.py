"""Media: resumable uploads by the tus 1.0 protocol (core, creation, termination, expiration), ranged reads, the record,
and the signed ``media.stored`` / ``media.keyframe`` event that makes an upload evidence.

tus: ``POST /v1/media`` creates an upload (``Upload-Length``, ``Upload-Metadata``) and answers its URL in
``Location``; ``PATCH`` sends bytes at ``Upload-Offset``; ``HEAD`` tells the offset to resume from;
``DELETE`` abandons an unfinished upload. An unfinished upload expires (``Upload-Expires``, an HTTP date, on
POST, PATCH and HEAD) ``TIEZHENG_MEDIA_UPLOAD_EXPIRY`` after its last PATCH: then 410, and 404 once the
periodic job removed it. Browsers (tus-js-client) need ``TIEZHENG_MEDIA_CORS_ORIGINS`` (``evidence_api.cors``).
Client libraries: tuspy, tus-js-client, TUSKit, tus-android-client.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Request
from fastapi.responses import Response, StreamingResponse
from starlette.requests import ClientDisconnect

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.log import ReceiptsOut
from evidence_api.schemas.media import MediaCreatedOut, MediaRecordOut
from evidence_api.services.auth import READ_ROLES
from evidence_api.services.errors import PreconditionFailed
from evidence_api.services.events import parse_body
from evidence_api.services.media import parse_metadata, parse_range

router = APIRouter(prefix="/v1/media", tags=["media"], route_class=StrictRoute)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
OFFSET_STREAM = "application/offset+octet-stream"
MediaId = Annotated[str, Path(description="the upload id (a UUID) from POST /v1/media")]
TusResumable = Annotated[str, Header(alias="Tus-Resumable", description="must be 1.0.0 (else 412)",
                                     json_schema_extra={"enum": [TUS_VERSION]})]
"""Required; any other version is refused by ``_tus`` with tus's 412, not by the framework."""
_TUS_HEADERS = {"Tus-Resumable": {"description": "1.0.0", "schema": {"type": "string"}}}
_EXPIRES = {"Upload-Expires": {"description": "while unfinished: when the upload expires (HTTP date)",
                               "schema": {"type": "string"}}}
_OFFSET_HEADERS = _TUS_HEADERS | _EXPIRES | {"Upload-Offset": {"description": "bytes received",
                                                                "schema": {"type": "integer"}}}
_BINARY = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
_PATCH_BODY = {"requestBody": {"required": True, "content": {OFFSET_STREAM: {"schema": {"type": "string",
                                                                                            "format": "binary"}}}}}
_SIGNED_ITEM = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "$ref": "#/components/schemas/EventItem"}}}}}


def _tus(version: str | None) -> dict[str, str]:
    if version != TUS_VERSION:
        raise PreconditionFailed(f"this is a tus {TUS_VERSION} endpoint: send 'Tus-Resumable: {TUS_VERSION}', "
                                 f"got {version!r}")
    return {"Tus-Resumable": TUS_VERSION}


def _expires(moment: datetime | None) -> dict[str, str]:
    """The ``Upload-Expires`` header (RFC 9110 HTTP date) of an unfinished upload; nothing once it is complete."""
    return {} if moment is None else {"Upload-Expires": format_datetime(moment.astimezone(UTC), usegmt=True)}


@router.options("", status_code=204, response_class=Response, responses={204: {
    "description": "The tus capabilities", "headers": _TUS_HEADERS | {
        "Tus-Version": {"description": "1.0.0", "schema": {"type": "string"}},
        "Tus-Extension": {"description": TUS_EXTENSIONS, "schema": {"type": "string"}},
        "Tus-Max-Size": {"description": "largest Upload-Length", "schema": {"type": "integer"}}}}})
def tus_options(services: ServicesDep, principal: PrincipalDep) -> Response:
    """What this tus server supports: version 1.0.0, creation, termination and expiration, the size limit."""
    principal.require(*READ_ROLES)
    return Response(status_code=204, headers={
        "Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
        "Tus-Max-Size": str(services.media.max_length)})


@router.post("", status_code=201, response_model=MediaCreatedOut, responses=problems(404, 412, 413) | {201: {
    "description": "Created; PATCH the bytes to Location", "headers": _TUS_HEADERS | _EXPIRES | {
        "Location": {"description": "the upload URL", "schema": {"type": "string"}}}}})
def create_upload(request: Request, services: ServicesDep, principal: PrincipalDep, tus_resumable: TusResumable,
                  upload_length: Annotated[int, Header(alias="Upload-Length", ge=0, le=2**53 - 1)],
                  upload_metadata: Annotated[str, Header(alias="Upload-Metadata")]) -> Response:
    """Create an upload (tus creation). ``Upload-Metadata`` carries ``sm3`` (hex SM3 of the whole file, checked
    at the end: a mismatch stores nothing), ``content_type``, and optionally ``permit``, ``purpose``
    (``ppe``, ``isolation``, ``site_cleared``, ``process_video``, ``keyframe`` ...), ``recording`` and
    ``filename``; every value base64-encoded as tus requires."""
    principal.require("ingest", "admin")
    headers = _tus(tus_resumable)
    row = services.media.create(principal.own_tenant(), principal.label, upload_length, parse_metadata(upload_metadata))
    url = f"/v1/media/{row.id}"
    body = MediaCreatedOut(id=row.id, upload_url=url).model_dump_json()
    headers |= {"Location": url} | _expires(services.media.expires(row))
    return Response(body, status_code=201, media_type="application/json", headers=headers)


@router.head("/{media_id}", status_code=200, response_class=Response, responses=problems(404, 410, 412) | {200: {
    "description": "How far the upload got", "headers": _OFFSET_HEADERS | {
        "Upload-Length": {"description": "declared size", "schema": {"type": "integer"}}}}})
def upload_offset(media_id: MediaId, services: ServicesDep, principal: PrincipalDep,
                  tus_resumable: TusResumable) -> Response:
    """The offset to resume from (tus core): the bytes the server has sealed; everything once stored."""
    principal.require(*READ_ROLES)
    headers = _tus(tus_resumable)
    row = services.media.upload(principal.own_tenant(), media_id)
    return Response(status_code=200, headers=headers | _expires(services.media.expires(row)) | {
        "Upload-Offset": str(services.media.offset(row)), "Upload-Length": str(row.length), "Cache-Control": "no-store"})


@router.patch("/{media_id}", status_code=204, response_class=Response, openapi_extra=_PATCH_BODY,
              responses=problems(404, 409, 410, 412) | {204: {"description": "Accepted up to Upload-Offset",
                                                         "headers": _OFFSET_HEADERS}})
async def upload_bytes(media_id: MediaId, request: Request, services: ServicesDep, principal: PrincipalDep,
                       tus_resumable: TusResumable,
                       upload_offset: Annotated[int, Header(alias="Upload-Offset", ge=0, le=2**53 - 1)]) -> Response:
    """Send bytes from ``Upload-Offset`` (tus core); the answer's ``Upload-Offset`` is how far the server
    sealed (whole 64 KiB segments, or the end), and while unfinished its ``Upload-Expires``, moved to
    ``TIEZHENG_MEDIA_UPLOAD_EXPIRY`` from now. The last byte checks the declared SM3: a mismatch answers
    422 ``digest-mismatch`` and removes the upload. A body over ``TIEZHENG_MAX_MEDIA_CHUNK_BYTES`` is 413."""
    principal.require("ingest", "admin")
    headers = _tus(tus_resumable)
    media = services.media
    row = await asyncio.to_thread(media.upload, principal.own_tenant(), media_id)
    upload = await asyncio.to_thread(media.open_upload, row, upload_offset)
    try:
        expires = await asyncio.to_thread(media.extend, row)  # a PATCH that may write moves the expiry on
        async for chunk in request.stream():
            if chunk:
                await asyncio.to_thread(upload.append, chunk)
        await asyncio.to_thread(media.finish, row, upload)
        offset = upload.offset
    except ClientDisconnect:  # the phone lost the network: keep what is sealed, it resumes from HEAD's offset
        offset = upload.offset
    finally:
        await asyncio.to_thread(upload.close)
    headers |= _expires(expires if offset < row.length else None)
    return Response(status_code=204, headers=headers | {"Upload-Offset": str(offset)})


@router.delete("/{media_id}", status_code=204, response_class=Response,
               responses=problems(404, 409, 410, 412) | {204: {"description": "Removed", "headers": _TUS_HEADERS}})
def terminate_upload(media_id: MediaId, services: ServicesDep, principal: PrincipalDep,
                     tus_resumable: TusResumable) -> Response:
    """Abandon an unfinished upload (tus termination); stored media is refused (409): only retention deletes it."""
    principal.require("ingest", "admin")
    headers = _tus(tus_resumable)
    services.media.terminate(principal.own_tenant(), media_id)
    return Response(status_code=204, headers=headers)


@router.get("/{media_id}", response_class=StreamingResponse, responses=problems(404, 409, 410, 416) | {
    200: {"description": "The media", "content": _BINARY},
    206: {"description": "The requested range", "content": _BINARY,
          "headers": {"Content-Range": {"description": "bytes START-END/SIZE", "schema": {"type": "string"}}}}})
def read_media(media_id: MediaId, services: ServicesDep, principal: PrincipalDep,
               range_: Annotated[str | None, Header(alias="Range")] = None) -> StreamingResponse:
    """The stored media, or one ``Range`` of it (``bytes=START-END``), decrypting only the segments it touches."""
    principal.require(*READ_ROLES)
    row = services.media.upload(principal.own_tenant(), media_id)
    wanted = parse_range(range_, row.length) if row.length else None
    start, end = wanted or (0, row.length)
    chunks = services.media.read(row, start, end)
    first = next(chunks, b"")  # a stored object that fails authentication answers 503 before any byte
    headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start)}
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{row.length}"
    return StreamingResponse(_chain(first, chunks), status_code=206 if wanted else 200, media_type=row.content_type,
                             headers=headers)


def _chain(first: bytes, rest: Any) -> Any:
    yield first
    yield from rest


@router.get("/{media_id}/record", response_model=MediaRecordOut, responses=problems(404))
def media_record(media_id: MediaId, services: ServicesDep, principal: PrincipalDep) -> MediaRecordOut:
    """What is kept about the media: state, SM3, size, its events and flags (also after deletion)."""
    principal.require(*READ_ROLES)
    return services.media_events.record(principal.own_tenant(), media_id)


@router.post("/{media_id}/event", status_code=201, response_model=ReceiptsOut, openapi_extra=_SIGNED_ITEM,
             responses=problems(404, 409, 410) | {200: {"model": ReceiptsOut, "description": "Already logged"}})
async def media_event(media_id: MediaId, request: Request, services: ServicesDep, principal: PrincipalDep) -> Response:
    """Log the capturing device's signed ``media.stored`` (or a camera's ``media.keyframe``) event for stored
    media. Its payload's ``sm3`` and ``size`` must be the stored object's (else 409 and nothing is logged);
    a photo's EXIF time and GPS are compared with the event's claims and a mismatch is flagged."""
    principal.require("ingest", "admin")
    item = parse_body(await request.body())
    receipts = await asyncio.to_thread(services.media_events.record_event, principal.own_tenant(), media_id, item)
    status = 200 if all(r.duplicate for r in receipts) else 201
    body = ReceiptsOut.model_validate({"receipts": [r.to_json() for r in receipts]}).model_dump_json()
    return Response(body, status_code=status, media_type="application/json")
