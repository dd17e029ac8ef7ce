"""The evidence event of a stored media object, bound to it: ``media.stored`` (a photo or video) and
``media.keyframe`` (a video keyframe a camera signed as it captured it).

Binding (docs/formats.md, "Media events"): the capturing device signs the event; its payload names the
object by its SM3 and size (and ``subject.media`` by its upload id where the device knows it). The service
logs it only through ``POST /v1/media/{id}/event``, and only if the stored object of that upload has exactly
that SM3, size and type and belongs to the same permit; otherwise nothing is logged (409). One event per
object. For a photo, the EXIF capture time and GPS position are read with Pillow and compared with the
event's ``captured_at`` and ``location``: a mismatch (or missing EXIF) is flagged on the event, never a
refusal. A keyframe's chain link is compared with the previous keyframe of its recording: a break is
flagged (the verifier's ``verifier.keyframes`` check names it).
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import orjson
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection, Engine, select, update

from evidence_api import media_tables
from evidence_api.schemas.media import MediaRecordOut
from evidence_api.services.errors import Conflict, Forbidden, Gone
from evidence_api.services.geo import distance_m
from evidence_api.services.media import MediaRow, MediaService
from evidence_api.services.recorder import Recorder
from evidence_api.services.rules import Rules
from ingest.media.keyframe_chain import chain_link
from ledger.errors import MalformedInput
from ledger.events import parse_rfc3339
from ledger.records import PreparedEvent, Receipt

__all__ = ["BOUND_KINDS", "EXIF_MAX_PLACE_M", "EXIF_MAX_SKEW", "MediaEvents", "refuse_unbound", "role_of"]

BOUND_KINDS = frozenset({"media.stored", "media.keyframe", "media.deleted", "legal_hold.placed", "legal_hold.released"})
"""Kinds ``POST /v1/events`` refuses: each has its own endpoint, which binds it to what it is about."""
EXIF_MAX_SKEW = timedelta(minutes=5)
EXIF_MAX_PLACE_M = 100.0
_EXIF_BYTES = 256 * 1024
_HEX64 = r"^[0-9a-f]{64}$"


class _Stored(BaseModel):
    """Payload of ``media.stored``."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    sm3: str = Field(pattern=_HEX64)
    size: int = Field(ge=0)
    content_type: str = Field(max_length=100)
    captured_at: str = Field(max_length=40)
    device: str = Field(max_length=64)
    purpose: str | None = Field(None, max_length=32)
    role: Literal["photo", "video", "keyframe"] | None = None  # what an evidence pack calls the file
    file: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")  # its name in the pack


class _Keyframe(_Stored):
    """Payload of ``media.keyframe``: the keyframe, its place in the recording and its chain link."""

    recording: str = Field(max_length=128)
    index: int = Field(ge=0, le=10_000_000)
    t_ms: int = Field(ge=0, le=2**53 - 1)
    prev: str | None = Field(pattern=_HEX64)
    chain: str = Field(pattern=_HEX64)


def role_of(kind: str, content_type: str) -> str:
    """What an evidence pack calls the file (docs/formats.md, "Media entries"): ``keyframe`` for a keyframe
    event, ``video`` for video, else ``photo``."""
    if kind == "media.keyframe":
        return "keyframe"
    return "video" if content_type.startswith("video/") else "photo"


def refuse_unbound(events: Sequence[PreparedEvent]) -> None:
    """Raise ``Conflict`` if a ``POST /v1/events`` batch carries a media or legal-hold kind (see ``BOUND_KINDS``)."""
    bound = next((p for p in events if p.kind in BOUND_KINDS), None)
    if bound is not None:
        where = "POST /v1/media/{id}/event" if bound.kind.startswith("media.") else "POST /v1/permits/{id}/legal-holds"
        raise Conflict(f"{bound.kind} is bound to what it is about: send it to {where} (event {bound.event_id})")


class MediaEvents:
    """Checks, flags and logs the signed event of a stored media object."""

    def __init__(self, engine: Engine, media: MediaService, recorder: Recorder, *, rules: Any) -> None:
        self._engine, self._media, self._recorder, self._rules = engine, media, recorder, rules

    def record(self, tenant: str, media_id: str) -> MediaRecordOut:
        """The media's record (``GET /v1/media/{id}/record``)."""
        row = self._media.get(tenant, media_id)
        r = row.row
        return MediaRecordOut(id=row.id, state=row.state, content_type=row.content_type, size=row.length,
                              sm3=row.declared_sm3, offset=self._media.offset(row), permit=row.permit,
                              purpose=row.purpose, stored_at=r["stored_at"], retain_until=r["retain_until"],
                              event_id=r["event_id"], deleted_at=r["deleted_at"], delete_event_id=r["delete_event_id"],
                              facts=orjson.loads(r["facts"]) if r["facts"] else None)

    def record_event(self, tenant: str, media_id: str, item: Any) -> list[Receipt]:
        """Log ``item``'s event for stored media ``media_id`` after binding it (see the module docstring).

        Raises ``MalformedInput`` (shape, payload), ``Forbidden`` (not a device, or another device named),
        ``Conflict`` (not this object, or it already has its event), ``Gone`` (deleted), ``NotFound``.
        """
        row = self._media.get(tenant, media_id)
        event = _event_of(item)
        payload = _payload(event["kind"], item["payload"])
        _check_signer(event, payload)
        existing = self._recorder.existing(tenant, item)
        if existing is not None:
            return [existing]
        self._check_binding(row, event, payload)
        facts = self._facts(row, event, payload)
        submission = self._recorder.prepare(tenant, [item])
        prepared = [dataclasses.replace(p, flags=(*p.flags, *facts["flags"])) for p in submission.events]
        seq = payload.index if isinstance(payload, _Keyframe) else None
        hook = _bind_hook(tenant, media_id, event["event_id"], facts, seq)
        return self._recorder.append(dataclasses.replace(submission, events=prepared, on_commit=hook))

    def _check_binding(self, row: MediaRow, event: dict[str, Any], payload: _Stored) -> None:
        if row.state == "deleted":
            raise Gone(f"media {row.id} was deleted by retention; its event can no longer be bound to it")
        if row.state != "stored":
            raise Conflict(f"media {row.id} is still uploading: send its event once the upload is complete")
        if row.row["event_id"] is not None:
            raise Conflict(f"media {row.id} already has its event {row.row['event_id']}; one event per object")
        stored = {"sm3": row.declared_sm3, "size": row.length, "content_type": row.content_type}
        claimed = {"sm3": payload.sm3, "size": payload.size, "content_type": payload.content_type}
        wrong = [f"{k} {claimed[k]!r} (stored: {stored[k]!r})" for k in stored if claimed[k] != stored[k]]
        if wrong:
            raise Conflict(f"the event does not describe stored media {row.id}: it claims {', '.join(wrong)}; "
                           "nothing was logged")
        if payload.role is not None and payload.role != role_of(event["kind"], row.content_type):
            raise Conflict(f"the event's role {payload.role!r} does not fit a {event['kind']} of {row.content_type}; "
                           f"it is {role_of(event['kind'], row.content_type)!r}")
        subject = event["subject"]
        if subject.get("media", row.id) != row.id:
            raise Conflict(f"the event's subject.media is {subject['media']!r}, not {row.id!r}")
        if subject.get("permit") != row.permit:
            raise Conflict(f"the event is for permit {subject.get('permit')!r}, the upload for {row.permit!r}")
        if isinstance(payload, _Keyframe) and row.metadata.get("recording") != payload.recording:
            raise Conflict(f"the keyframe is of recording {payload.recording!r}, the upload names "
                           f"{row.metadata.get('recording')!r}: upload a keyframe with its recording in Upload-Metadata")

    def _facts(self, row: MediaRow, event: dict[str, Any], payload: _Stored) -> dict[str, Any]:
        rules: Rules = self._rules(row.tenant)
        facts: dict[str, Any] = {"kind": event["kind"], "device": payload.device, "captured_at": payload.captured_at,
                                 "location": event.get("location"), "purpose": payload.purpose or row.purpose,
                                 "flags": []}
        if row.content_type.startswith("image/") and event["kind"] == "media.stored":
            facts["exif"] = self._exif(row, rules)
            facts["flags"] = compare_exif(facts["exif"], payload.captured_at, event.get("location"))
        if isinstance(payload, _Keyframe):
            facts |= {"recording": payload.recording, "index": payload.index, "t_ms": payload.t_ms,
                      "chain": payload.chain}
            facts["flags"] = self._chain_flags(row, payload)
        return facts

    def _exif(self, row: MediaRow, rules: Rules) -> dict[str, Any]:
        head = b"".join(self._media.read(row, 0, min(row.length, _EXIF_BYTES)))
        return read_exif(head, timezone(timedelta(hours=rules.utc_offset_hours)))

    def _chain_flags(self, row: MediaRow, payload: _Keyframe) -> list[str]:
        flags = []
        if chain_link(payload.recording, payload.index, payload.t_ms, bytes.fromhex(payload.sm3),
                      bytes.fromhex(payload.prev) if payload.prev else None).hex() != payload.chain:
            flags.append("keyframe.bad_link")
        previous = self._previous_keyframe(row.tenant, payload.recording, payload.index)
        if payload.index > 0 and (previous is None or previous.get("chain") != payload.prev):
            flags.append("keyframe.chain_break")
        return flags

    def _previous_keyframe(self, tenant: str, recording: str, index: int) -> dict[str, Any] | None:
        m = media_tables.media.c
        with self._engine.connect() as conn:
            text = conn.execute(select(m.facts).where(m.tenant == tenant, m.recording == recording,
                                                      m.seq == index - 1, m.event_id.is_not(None))).scalars().first()
        return orjson.loads(text) if text else None


def _event_of(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict) or set(item) != {"event", "payload", "salt"} or not isinstance(item["event"], dict):
        raise MalformedInput("body must be one signed item: an object with exactly event, payload and salt")
    event: dict[str, Any] = item["event"]
    if event.get("kind") not in ("media.stored", "media.keyframe"):
        raise MalformedInput(f"this endpoint logs media.stored or media.keyframe, got {event.get('kind')!r}")
    if not isinstance(event.get("subject"), dict) or not isinstance(event.get("actor"), dict):
        raise MalformedInput("event.subject and event.actor must be objects")
    return event


def _payload(kind: str, payload: Any) -> _Stored:
    model = _Keyframe if kind == "media.keyframe" else _Stored
    try:
        parsed = model.model_validate(payload)
    except ValidationError as exc:
        fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise MalformedInput(f"{kind} payload: {fields}") from exc
    parse_rfc3339(parsed.captured_at, "payload.captured_at")
    return parsed


def _check_signer(event: dict[str, Any], payload: _Stored) -> None:
    actor = event["actor"]
    if actor.get("type") != "device" or actor.get("id") != payload.device:
        raise Forbidden(f"{event['kind']} is signed by the capturing device ({payload.device!r}), got "
                        f"{actor.get('type')!r} {actor.get('id')!r}")


def _bind_hook(tenant: str, media_id: str, event_id: str, facts: dict[str, Any], seq: int | None) -> Any:
    """Record the event on the media row in the log's transaction; a second event for it rolls back."""
    def hook(conn: Connection, receipts: list[Receipt]) -> None:
        m = media_tables.media.c
        done = conn.execute(update(media_tables.media).where(
            m.tenant == tenant, m.id == media_id, m.event_id.is_(None)).values(
            event_id=event_id, facts=orjson.dumps(facts).decode(), seq=seq))
        if done.rowcount != 1:
            raise Conflict(f"media {media_id} got another event meanwhile; one event per object")
    return hook


# -- EXIF -----------------------------------------------------------------------------------------------
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825
_DATETIME, _ORIGINAL, _OFFSET_ORIGINAL = 306, 36867, 36881


def read_exif(head: bytes, plant: timezone) -> dict[str, Any]:
    """The capture time (RFC 3339) and GPS position in a photo's first bytes; ``{"error": ...}`` if unreadable.

    An EXIF time without an offset is read in the plant's zone ``plant``.
    """
    try:
        with Image.open(io.BytesIO(head)) as image:
            exif = image.getexif()
            found: dict[str, Any] = {}
            when = _exif_time(exif, plant)
            if when is not None:
                found["time"] = when
            gps = _exif_gps(exif.get_ifd(_GPS_IFD))
            if gps is not None:
                found["lat"], found["lon"] = gps
            return found
    except (UnidentifiedImageError, OSError, ValueError, TypeError, KeyError, ZeroDivisionError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}


def _exif_time(exif: Any, plant: timezone) -> str | None:
    ifd = exif.get_ifd(_EXIF_IFD)
    text = ifd.get(_ORIGINAL) or exif.get(_DATETIME)
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}:\d\d:\d\d \d\d:\d\d:\d\d", text.strip("\x00 ")):
        return None
    offset = ifd.get(_OFFSET_ORIGINAL)
    moment = datetime.strptime(text.strip("\x00 "), "%Y:%m:%d %H:%M:%S")
    if isinstance(offset, str) and re.fullmatch(r"[+-]\d\d:\d\d", offset.strip("\x00 ")):
        sign = -1 if offset.startswith("-") else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    else:
        zone = plant
    return moment.replace(tzinfo=zone).isoformat()


def _exif_gps(gps: Any) -> tuple[float, float] | None:
    try:
        lat, lon = _degrees(gps[2], gps.get(1)), _degrees(gps[4], gps.get(3))
    except (KeyError, TypeError, IndexError, ValueError, ZeroDivisionError):
        return None
    return (lat, lon) if -90 <= lat <= 90 and -180 <= lon <= 180 else None


def _degrees(value: Any, ref: Any) -> float:
    d, m, s = (float(x) for x in value)
    sign = -1.0 if str(ref).strip("\x00 ").upper() in ("S", "W") else 1.0
    return sign * (d + m / 60 + s / 3600)


def compare_exif(exif: dict[str, Any], captured_at: str, location: dict[str, Any] | None) -> list[str]:
    """Flags where a photo's EXIF disagrees with its event (or says nothing): time beyond ``EXIF_MAX_SKEW``,
    place beyond ``EXIF_MAX_PLACE_M`` (or the event's accuracy, if larger)."""
    if "error" in exif:
        return ["exif.unreadable"]
    flags = []
    if "time" not in exif:
        flags.append("exif.no_time")
    elif abs(datetime.fromisoformat(exif["time"]) - parse_rfc3339(captured_at, "captured_at")) > EXIF_MAX_SKEW:
        flags.append("exif.time_mismatch")
    if "lat" not in exif:
        flags.append("exif.no_gps")
    elif location is not None:
        apart = distance_m(exif["lat"], exif["lon"], float(location["lat"]), float(location["lon"]))
        if apart > max(EXIF_MAX_PLACE_M, float(location.get("accuracy_m", 0))):
            flags.append("exif.place_mismatch")
    return flags
