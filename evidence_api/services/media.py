"""Media uploads (tus 1.0 core, creation, termination, expiration) into the object store, and ranged reads.

An upload is created with its declared length and metadata (the plaintext's SM3 among it), receives PATCH
requests that ``ingest.media.upload.StagedUpload`` seals segment by segment into a staging file, and when
the last byte is in, its SM3 is compared with the declared one: equal, the staging file (already the
encrypted object) goes into the object store, written locked for its retention period where the bucket has
Object Lock; different, the staging file and the upload's row are removed and the PATCH answers 422, so
nothing of it is stored. The object's data key is random per object and kept only wrapped by the tenant's
key (``ledger.keystore``), bound to the object's header. Reads decrypt only the segments a range touches.

An unfinished upload expires ``upload_expiry`` after its creation or its last PATCH (tus expiration): from
then on its tus requests answer 410, and ``expire_uploads`` (the periodic job) removes its staging file and
row, after which its URL is 404. While uploading, the row's ``retain_until`` is that expiry (once stored it
is the retention date), so the record tells when an abandoned upload goes.

The evidence event that makes a stored object evidence (``media.stored``) is ``services.media_events``'s.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import Engine, delete, insert, or_, select, update

from evidence_api import db, media_tables
from evidence_api.services.errors import Conflict, Gone, NotFound, RangeNotSatisfiable, TooLarge
from evidence_api.services.people import find_row
from evidence_api.services.rules import Rules
from ingest.media import DEFAULT_SEGMENT_SIZE, DigestMismatch, Header, Layout, MediaError, read_range
from ingest.media.upload import HashCache, StagedUpload, UploadBusy, create_staging, staged_offset
from ingest.objectstore import ObjectStore
from ledger.clock import Clock, rfc3339
from ledger.errors import MalformedInput
from ledger.keystore import DataKeyWrapper

__all__ = ["KEEP_LOCK_DAYS", "METADATA_KEYS", "MediaRow", "MediaService", "parse_metadata", "parse_range"]

METADATA_KEYS = ("sm3", "content_type", "filename", "permit", "purpose", "recording", "media")
"""Upload-Metadata keys; ``sm3`` and ``content_type`` are required. ``media`` is an upload id the device chose
(a UUID) when it signed the media's event before the upload (a camera signing keyframes as it captures)."""
KEEP_LOCK_DAYS = 3650
"""Object Lock period of media kept for good (photos, keyframes): ten years, to be extended before it ends."""
_MAX_METADATA = 4096
_CONTENT_TYPE = re.compile(r"^(image|video|audio|application)/[a-z0-9][a-z0-9.+-]{0,60}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_DATA_KEY_SIZE = 16
_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MediaRow:
    """One upload as stored: its state, declared facts, segment header and wrapped data key."""

    tenant: str
    id: str
    state: str
    content_type: str
    length: int
    declared_sm3: str
    header: Header
    wrapped_key: bytes | None
    object_key: str
    metadata: dict[str, str]
    permit: str | None
    purpose: str | None
    row: dict[str, Any]

    @classmethod
    def from_row(cls, row: Any) -> MediaRow:
        """From a ``media`` row."""
        m = dict(row._mapping)
        return cls(m["tenant"], m["id"], m["state"], m["content_type"], m["length"], m["declared_sm3"],
                   Header.from_bytes(bytes.fromhex(m["header"])),
                   base64.b64decode(m["wrapped_key"]) if m["wrapped_key"] else None, m["object_key"],
                   orjson.loads(m["metadata"]), m["permit"], m["purpose"], m)


def _decode_pair(pair: str) -> tuple[str, str]:
    key, _, value = pair.strip().partition(" ")
    if key not in METADATA_KEYS:
        raise MalformedInput(f"Upload-Metadata key {key!r} is not known; keys: {list(METADATA_KEYS)}")
    try:
        text = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise MalformedInput(f"Upload-Metadata {key}: the value must be base64 of UTF-8 text") from exc
    return key, text


def parse_metadata(header: str | None) -> dict[str, str]:
    """The tus ``Upload-Metadata`` header (``key base64,key base64``) checked; raises ``MalformedInput``.

    >>> parse_metadata("sm3 " + base64.b64encode(b"ab" * 32).decode() + ",content_type aW1hZ2UvanBlZw==")
    {'sm3': 'abababababababababababababababababababababababababababababababab', 'content_type': 'image/jpeg'}
    """
    if not header or len(header) > _MAX_METADATA:
        raise MalformedInput(f"Upload-Metadata is required (at most {_MAX_METADATA} characters) with at least "
                             "sm3 (hex SM3 of the file) and content_type, each value base64-encoded")
    found: dict[str, str] = {}
    for pair in header.split(","):
        key, value = _decode_pair(pair)
        if key in found:
            raise MalformedInput(f"Upload-Metadata key {key!r} is given twice")
        found[key] = value
    _check_metadata(found)
    return found


def _check_metadata(found: dict[str, str]) -> None:
    sm3 = found.get("sm3", "")
    if not re.fullmatch(r"[0-9a-f]{64}", sm3):
        raise MalformedInput(f"Upload-Metadata sm3 must be the file's SM3 as 64 lower-case hex digits, got {sm3[:80]!r}")
    if not _CONTENT_TYPE.fullmatch(found.get("content_type", "")):
        raise MalformedInput("Upload-Metadata content_type must be a media type such as image/jpeg or video/mp4, "
                             f"got {found.get('content_type', '')[:80]!r}")
    for key in ("permit", "purpose", "recording"):
        if key in found and not _TOKEN.fullmatch(found[key]):
            raise MalformedInput(f"Upload-Metadata {key} must be an id of letters, digits and ._:-, got {found[key][:80]!r}")
    if "media" in found and not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                                             found["media"]):
        raise MalformedInput(f"Upload-Metadata media must be a random (version 4) UUID in lower case, got {found['media'][:80]!r}")
    if len(found.get("filename", "")) > 255:
        raise MalformedInput("Upload-Metadata filename is longer than 255 characters")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) of a single ``bytes=`` range over ``size`` bytes; None without one.

    Raises ``RangeNotSatisfiable`` for a malformed, multiple or unsatisfiable range.
    """
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.groups() == ("", ""):
        raise RangeNotSatisfiable(f"Range must be one 'bytes=START-END', 'bytes=START-' or 'bytes=-SUFFIX', got {header[:80]!r}")
    first, last = match.groups()
    if first == "":
        start, end = max(size - int(last), 0), size
    else:
        start, end = int(first), min(int(last) + 1, size) if last else size
    if start >= size or start >= end:
        raise RangeNotSatisfiable(f"range {header.strip()!r} does not fit the {size} bytes of the media")
    return start, end


class MediaService:
    """Uploads, their staging files and the stored objects of every tenant."""

    def __init__(self, engine: Engine, wrapper: DataKeyWrapper, store: ObjectStore, staging: Path, *,
                 rules: Callable[[str], Rules], clock: Clock, max_length: int,
                 upload_expiry: timedelta = timedelta(hours=24)) -> None:
        self._engine, self._wrapper, self.store, self._staging = engine, wrapper, store, staging
        self._rules, self.clock, self.max_length, self.upload_expiry = rules, clock, max_length, upload_expiry
        self._hashes = HashCache()

    # -- creation -----------------------------------------------------------------------------------
    def create(self, tenant: str, uploader: str, length: int, metadata: dict[str, str]) -> MediaRow:
        """A new upload of ``length`` bytes (tus creation); raises ``TooLarge``, ``NotFound`` (permit)."""
        if not 0 <= length <= self.max_length:
            raise TooLarge(f"Upload-Length {length} is over the limit of {self.max_length} bytes (Tus-Max-Size)")
        if "permit" in metadata:
            find_row(self._engine, db.permits, tenant, metadata["permit"])
        media_id = uuid.UUID(metadata["media"]) if "media" in metadata else uuid.uuid4()
        self._check_unused(tenant, str(media_id))
        header = Header(media_id, uuid.uuid4(), DEFAULT_SEGMENT_SIZE, os.urandom(7))
        key = os.urandom(_DATA_KEY_SIZE)
        wrapped = self._wrapper.wrap(tenant, key, context=header.key_context())
        create_staging(self._path(tenant, str(media_id)), header)
        with self._engine.begin() as conn:
            conn.execute(insert(media_tables.media).values(
                tenant=tenant, id=str(media_id), state="uploading", content_type=metadata["content_type"],
                purpose=metadata.get("purpose"), permit=metadata.get("permit"), recording=metadata.get("recording"),
                length=length,
                declared_sm3=metadata["sm3"], header=header.to_bytes().hex(),
                wrapped_key=base64.b64encode(wrapped).decode(), object_key=f"{tenant}/media/{media_id}",
                metadata=orjson.dumps(metadata).decode(), uploader=uploader, created_at=self.clock.stamp(),
                retain_until=rfc3339(self.clock.now() + self.upload_expiry)))
        row = self.get(tenant, str(media_id))
        if length == 0:
            with self.open_upload(row, 0) as upload:
                upload.append(b"")
                self.finish(row, upload)
        return row

    def _check_unused(self, tenant: str, media_id: str) -> None:
        m = media_tables.media.c
        with self._engine.connect() as conn:
            if conn.execute(select(m.id).where(m.tenant == tenant, m.id == media_id)).first() is not None:
                raise Conflict(f"media {media_id} already exists; a chosen upload id is used once")

    def _path(self, tenant: str, media_id: str) -> Path:
        return self._staging / tenant / f"{media_id}.part"

    # -- lookups ------------------------------------------------------------------------------------
    def get(self, tenant: str, media_id: str) -> MediaRow:
        """The upload ``media_id`` of ``tenant``; ``NotFound`` for another tenant's or an unknown one."""
        m = media_tables.media.c
        with self._engine.connect() as conn:
            row = conn.execute(select(media_tables.media).where(m.tenant == tenant, m.id == media_id)).first()
        if row is None:
            raise NotFound(f"media {media_id!r} does not exist for tenant {tenant!r} (or its upload was refused)")
        return MediaRow.from_row(row)

    def upload(self, tenant: str, media_id: str) -> MediaRow:
        """``get`` for a tus request: also ``Gone`` when the upload is unfinished and past its expiry."""
        row = self.get(tenant, media_id)
        if (expired := self._expired(row)) is not None:
            raise Gone(f"upload {media_id} expired unfinished at {rfc3339(expired)} ({self.upload_expiry} after "
                       "its last PATCH); its partial data is discarded: create a new upload and send the file again")
        return row

    def _expired(self, row: MediaRow) -> datetime | None:
        """The expiry of an unfinished upload if it has passed, else None."""
        expires = self.expires(row)
        return expires if expires is not None and expires <= self.clock.now() else None

    def expires(self, row: MediaRow) -> datetime | None:
        """When the unfinished upload ``row`` expires (tus ``Upload-Expires``); None once stored or deleted."""
        if row.state != "uploading":
            return None
        if row.row["retain_until"]:
            return datetime.fromisoformat(row.row["retain_until"])
        return datetime.fromisoformat(row.row["created_at"]) + self.upload_expiry  # created before expiration

    def extend(self, row: MediaRow) -> datetime:
        """Move the expiry of the unfinished upload ``row`` to ``upload_expiry`` from now (a PATCH arrived)."""
        expires = self.clock.now() + self.upload_expiry
        m = media_tables.media.c
        with self._engine.begin() as conn:
            conn.execute(update(media_tables.media).where(
                m.tenant == row.tenant, m.id == row.id, m.state == "uploading").values(retain_until=rfc3339(expires)))
        return expires

    def offset(self, row: MediaRow) -> int:
        """Bytes acknowledged so far (tus HEAD): the whole sealed segments, or everything once stored.

        An upload whose every byte is staged but that is not stored yet (the object store failed at the end
        of its last PATCH) is stored now, so a client that sees the full offset may trust it; if the store
        still fails, the error is raised (503) rather than a full offset answered.
        """
        if row.state != "uploading":
            return row.length
        staged = staged_offset(self._path(row.tenant, row.id), row.header, row.length)
        if staged == row.length:
            self._settle(row.tenant, row.id)
        return staged

    def _settle(self, tenant: str, media_id: str) -> None:
        """Store a fully staged upload that is not stored yet (unless its last PATCH did so meanwhile)."""
        row = self.get(tenant, media_id)
        if row.state != "uploading":
            return
        try:
            upload = self.open_upload(row, row.length)
        except FileNotFoundError:  # stored (or refused) by the request that just released it
            return
        with upload:
            self.finish(row, upload)

    # -- PATCH --------------------------------------------------------------------------------------
    def open_upload(self, row: MediaRow, offset: int) -> StagedUpload:
        """Lock the staged upload for one PATCH at ``offset``; ``Conflict`` if it is not the upload's offset
        or the upload is complete, ``UploadBusy`` if another request writes it."""
        if row.state != "uploading":
            raise Conflict(f"upload {row.id} is complete ({row.state}); there is nothing more to send")
        key = self._wrapper.unwrap(row.tenant, row.wrapped_key or b"", context=row.header.key_context())
        upload = StagedUpload.open(self._path(row.tenant, row.id), row.header, key, row.length, self._hashes)
        if upload.offset != offset:
            upload.close()
            raise Conflict(f"Upload-Offset {offset} is not the offset of upload {row.id}, {upload.offset}: "
                           "ask with HEAD and resume from there")
        return upload

    def finish(self, row: MediaRow, upload: StagedUpload) -> None:
        """After a PATCH: if the upload is complete, check its SM3 and store it (while still locked).

        Raises ``DigestMismatch`` after removing everything of the upload when the SM3 differs.
        """
        if not upload.complete:
            return
        upload.sync()
        digest = upload.digest().hex()
        path = self._path(row.tenant, row.id)
        if digest != row.declared_sm3:
            self._discard(row, path)
            raise DigestMismatch(f"sm3 of upload {row.id} is {digest}, its Upload-Metadata declared "
                                 f"{row.declared_sm3}; nothing was stored (the partial upload was removed): check "
                                 "the file and upload it again")
        now = self.clock.now()
        keep_until = self._retain_until(row, now)
        lock_until = keep_until or now + timedelta(days=KEEP_LOCK_DAYS)
        with open(path, "rb") as staged:
            self.store.put(row.object_key, staged, length=Layout(row.header.segment_size, row.length).object_size,
                           retain_until=lock_until if self.store.locking else None)
        m = media_tables.media.c
        with self._engine.begin() as conn:
            conn.execute(update(media_tables.media).where(m.tenant == row.tenant, m.id == row.id).values(
                state="stored", stored_at=rfc3339(now), retain_until=keep_until and rfc3339(keep_until)))
        path.unlink(missing_ok=True)
        self._hashes.drop(path)

    def _retain_until(self, row: MediaRow, now: datetime) -> datetime | None:
        """Process video is deleted after the tenant's retention; photos and keyframes are kept (None)."""
        if row.content_type.startswith("video/"):
            return now + timedelta(days=self._rules(row.tenant).media_retention_days)
        return None

    def _discard(self, row: MediaRow, path: Path) -> None:
        path.unlink(missing_ok=True)
        self._hashes.drop(path)
        m = media_tables.media.c
        with self._engine.begin() as conn:
            conn.execute(delete(media_tables.media).where(m.tenant == row.tenant, m.id == row.id))

    def terminate(self, tenant: str, media_id: str) -> None:
        """Remove an unfinished upload (tus termination); ``Conflict`` for stored media, which only
        retention deletes (with its ``media.deleted`` event)."""
        row = self.upload(tenant, media_id)
        if row.state != "uploading":
            raise Conflict(f"media {media_id} is {row.state}: stored evidence is not deleted on request; "
                           "retention deletes process video (media.deleted)")
        self._remove_unfinished(row)

    def _remove_unfinished(self, row: MediaRow, *, if_expired: bool = False) -> bool:
        """Remove the staging file and row of an unfinished upload under its lock (``UploadBusy`` while a PATCH
        writes); with ``if_expired``, only if it is still expired once locked. True if removed."""
        path = self._path(row.tenant, row.id)
        key = self._wrapper.unwrap(row.tenant, row.wrapped_key or b"", context=row.header.key_context())
        try:
            upload: StagedUpload | nullcontext[None] = StagedUpload.open(path, row.header, key, row.length, self._hashes)
        except FileNotFoundError:  # the staging file is gone already: only the row is left
            upload = nullcontext()
        with upload:
            if if_expired and self._expired(self.get(row.tenant, row.id)) is None:
                return False  # a PATCH extended it since
            self._discard(row, path)
        return True

    def expire_uploads(self) -> list[str]:
        """Remove every unfinished upload past its expiry (the periodic job); returns their ids. One that a
        PATCH writes right now is left for the next run."""
        m = media_tables.media.c
        with self._engine.connect() as conn:
            due = conn.execute(select(m.tenant, m.id).where(m.state == "uploading", or_(
                m.retain_until.is_(None), m.retain_until <= self.clock.stamp())).order_by(m.retain_until)).all()
        removed = []
        for tenant, media_id in due:
            try:
                row = self.get(tenant, media_id)
                if self._expired(row) is not None and self._remove_unfinished(row, if_expired=True):
                    removed.append(media_id)
            except (NotFound, UploadBusy):  # finished, terminated or written meanwhile
                continue
            except MediaError as exc:  # its staging file is not the upload's: leave it for a human
                _log.warning("media upload %s expired but was not removed: %s", media_id, exc)
        if removed:
            _log.info("media uploads: removed %d expired unfinished uploads", len(removed))
        return removed

    # -- reads --------------------------------------------------------------------------------------
    def pack_file(self, tenant: str, media_id: str, file_name: str) -> bytes | None:
        """The plaintext of stored media for an evidence pack (``pack_media.Fetch``; ``file_name`` is the name
        its event gives it); None once retention deleted it or for an unknown id."""
        try:
            row = self.get(tenant, media_id)
        except NotFound:
            return None
        if row.state != "stored":
            return None
        return b"".join(self.read(row, 0, row.length))

    def read(self, row: MediaRow, start: int, end: int) -> Iterator[bytes]:
        """Plaintext bytes ``[start, end)`` of stored media, decrypting only the segments they touch.

        Raises ``Conflict`` while uploading, ``Gone`` once deleted, the segment format's errors if the stored
        object fails authentication.
        """
        if row.state == "uploading":
            raise Conflict(f"media {row.id} is still uploading ({self.offset(row)} of {row.length} bytes)")
        if row.state == "deleted" or row.wrapped_key is None:
            raise Gone(f"media {row.id} was deleted by retention on {row.row['deleted_at']} (event "
                       f"{row.row['delete_event_id']}); its SM3 {row.declared_sm3} stays provable in the log")
        key = self._wrapper.unwrap(row.tenant, row.wrapped_key, context=row.header.key_context())

        def fetch(offset: int, length: int) -> bytes:
            return self.store.get(row.object_key, offset=offset, length=length)

        return read_range(key, fetch, object_id=row.header.object_id, plaintext_size=row.length, start=start, end=end)
