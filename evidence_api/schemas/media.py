"""Bodies of the media endpoints: the created upload, a media record, legal holds and the retention job."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["HoldOut", "MediaCreatedOut", "MediaRecordOut", "RetentionOut"]


class MediaCreatedOut(BaseModel):
    """A new upload: its id and the URL to PATCH (also in ``Location``)."""

    id: str
    upload_url: str


class MediaRecordOut(BaseModel):
    """What the service keeps about a media object, also after retention deleted it."""

    id: str
    state: str = Field(description="uploading, stored or deleted")
    content_type: str
    size: int
    sm3: str
    offset: int
    permit: str | None
    purpose: str | None
    stored_at: str | None
    retain_until: str | None = Field(description="stored: when retention deletes it (None: kept); uploading: when "
                                                 "the unfinished upload expires")
    event_id: str | None = Field(description="its media.stored (or media.keyframe) event, once logged")
    deleted_at: str | None
    delete_event_id: str | None
    facts: dict[str, Any] | None = Field(description="what the event claimed, what EXIF says, and the flags")


class HoldOut(BaseModel):
    """A legal hold on a permit's media."""

    id: str
    permit: str
    reason: str
    placed_by: str
    placed_at: str
    placed_event_id: str
    active: bool
    released_at: str | None
    released_event_id: str | None


class RetentionOut(BaseModel):
    """One retention run: media deleted, and media due but kept (legal hold, Object Lock) with why."""

    deleted: list[str]
    held: list[dict[str, str]]
