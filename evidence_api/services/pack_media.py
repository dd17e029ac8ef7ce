"""The media of a pack: which files the scope's media events prove, and their bytes (docs/formats.md, "Media entries").

A media event (``subject.media`` set) whose disclosed payload has ``"sm3"``, ``"size"`` and ``"file"`` (the
file name in the pack, e.g. ``"12.jpg"``) and optionally ``"role"`` (``keyframe``, ``video``, ``photo``)
proves one file. A ``media.deleted`` event of the same media marks its files deleted: the entry stays, with
its hash, and names the deletion event. ``StoredMedia`` fetches the bytes through a callable, so the media
service's object store plugs in (and the benchmark's synthetic store goes through the same code).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from evidence_api.services.errors import NotFound
from evidence_api.services.pack_files import MediaItem
from ledger.log import LoggedEvent

__all__ = ["Fetch", "StoredMedia"]

Fetch = Callable[[str, str, str], bytes | None]
"""(tenant, media id, file name) → the plaintext bytes, or None when they are gone."""

_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
_ROLES = ("keyframe", "video", "photo")


class StoredMedia:
    """Media entries from the scope's media events, bytes from ``fetch``; ``videos`` adds the video files."""

    def __init__(self, fetch: Fetch, *, videos: bool = False) -> None:
        self._fetch, self._videos = fetch, videos

    def items(self, tenant: str, events: list[tuple[LoggedEvent, dict[str, Any], Any]]) -> list[MediaItem]:
        """The entries of ``events`` (logged event, leaf, payload): present, deleted, or left out (videos)."""
        deleted = {leaf["subject"]["media"]: row.leaf_index for row, leaf, _ in events if leaf["kind"] == "media.deleted"}
        out = []
        for row, leaf, payload in events:
            media = leaf["subject"]["media"]
            if leaf["kind"] == "media.deleted" or not _proves_file(payload) or not _NAME.fullmatch(media):
                continue
            role = payload.get("role", "keyframe") if payload.get("role") in _ROLES else "keyframe"
            if role == "video" and not self._videos and media not in deleted:
                continue
            gone = media in deleted
            data = None if gone else self._fetch(tenant, media, payload["file"])
            out.append(MediaItem(media=media, role=role, file_name=None if gone else payload["file"], data=data,
                                 sm3=payload["sm3"], size=payload["size"], event=row.leaf_index,
                                 deleted_by=deleted.get(media)))
        missing = [m for m in out if m.data is None and m.deleted_by is None]
        if missing:
            raise NotFound(f"media {missing[0].media} file {missing[0].file_name} is logged but not in the store, and "
                           "no media.deleted event says it was deleted; restore it before exporting")
        return out


def _proves_file(payload: Any) -> bool:
    return (isinstance(payload, dict) and isinstance(payload.get("sm3"), str) and type(payload.get("size")) is int
            and isinstance(payload.get("file"), str) and bool(_NAME.fullmatch(payload["file"])))
