"""Tables of media evidence (issue 13): uploaded objects with their wrapped data keys, and legal holds.

``media`` holds one row per upload (tus 1.0): ``uploading`` while its sealed segments are staged on the
server's disk, ``stored`` once the plaintext's SM3 matched the declared one and the object is in the object
store, ``deleted`` after retention shredded it (the data key and the object are gone; the SM3, size and
events stay). ``legal_holds`` blocks deletion of a permit's media while a hold is not released.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, MetaData, String, Table, Text

__all__ = ["legal_holds", "media", "metadata"]

metadata = MetaData()

media = Table(
    "media",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("id", String(36), primary_key=True),  # the upload id (a UUID), also the object id in the header
    Column("state", String(16), nullable=False),  # uploading | stored | deleted
    Column("content_type", String(100), nullable=False),
    Column("purpose", String(32)),  # e.g. ppe, isolation, site_cleared, process_video, keyframe
    Column("permit", String(128)),
    Column("recording", String(128)),  # the camera's recording a video or keyframe belongs to
    Column("seq", Integer),  # a keyframe's index in its recording, once its media.keyframe is logged
    Column("length", BigInteger, nullable=False),  # declared plaintext bytes (Upload-Length)
    Column("declared_sm3", String(64), nullable=False),
    Column("header", String(96), nullable=False),  # hex of the 48-byte segment-format header
    Column("wrapped_key", Text),  # the object's data key wrapped by the tenant key; NULL once shredded
    Column("object_key", String(300), nullable=False),
    Column("metadata", Text, nullable=False),  # JSON: the Upload-Metadata as decoded
    Column("uploader", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("stored_at", String(40)),
    Column("retain_until", String(40)),  # when retention deletes it (process video); NULL: kept
    Column("event_id", String(36)),  # its media.stored event, once logged
    Column("facts", Text),  # JSON: what the media.stored event claimed and what EXIF says, with flags
    Column("deleted_at", String(40)),
    Column("delete_event_id", String(36)),
)
Index("ix_media_permit", media.c.tenant, media.c.permit)
Index("ix_media_retention", media.c.state, media.c.retain_until)
Index("ix_media_recording", media.c.tenant, media.c.recording, media.c.seq)

legal_holds = Table(
    "legal_holds",
    metadata,
    Column("tenant", String(64), primary_key=True),
    Column("id", String(36), primary_key=True),
    Column("permit", String(128), nullable=False),
    Column("reason", Text, nullable=False),
    Column("placed_by", String(128), nullable=False),
    Column("placed_at", String(40), nullable=False),
    Column("placed_event_id", String(36), nullable=False),
    Column("released_by", String(128)),
    Column("released_at", String(40)),
    Column("released_event_id", String(36)),
    Column("active", Integer, nullable=False),  # 1 until released
)
Index("ix_legal_holds_permit", legal_holds.c.tenant, legal_holds.c.permit, legal_holds.c.active)
