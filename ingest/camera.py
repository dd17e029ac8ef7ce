"""The camera side of video evidence: sign each keyframe's hash with the camera's SM2 key as it is captured,
chained to the keyframe before it, then upload the keyframes and the video.

A court reviews authenticity before upload separately from what the server did later, so the signature is
made here, on the camera (or the edge box beside it), the moment a keyframe exists: ``CameraSession.sign``
returns a signed ``media.keyframe`` item naming the keyframe by SM3, its index and time in the recording,
its chain link (``ingest.media.keyframe_chain``) and the upload id the camera chose for it (``subject.media``,
sent as ``media`` in the upload's metadata). Nothing in it depends on the server, so the camera may sign
offline and upload later. ``upload_recording`` then sends the video (``media.stored``,
``purpose=process_video``) and each keyframe (an ``image/jpeg`` upload of purpose ``keyframe`` plus its
signed item) through the tus client.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingest.client import ApiClient
from ingest.media import tus
from ingest.media.keyframe_chain import chain_link
from ingest.media.keyframes import Keyframe
from ingest.signing import Actor, new_item, sign_item
from ledger.sm import sm3

__all__ = ["CameraSession", "SignedKeyframe", "upload_recording"]


@dataclass(frozen=True)
class SignedKeyframe:
    """A keyframe, the upload id the camera chose for it (named in the signed event) and the signed item."""

    keyframe: Keyframe
    media_id: str
    item: dict[str, Any]


@dataclass
class CameraSession:
    """One recording of one camera: signs its keyframes in order, each chained to the one before."""

    camera: Actor
    tenant: str
    recording: str
    permit: str | None = None
    _last: bytes | None = field(default=None, init=False)
    _next: int = field(default=0, init=False)

    def sign(self, keyframe: Keyframe, *, captured_at: str, location: dict[str, float] | None = None) -> SignedKeyframe:
        """Sign ``keyframe`` (the next of the recording; its ``index`` must be the next one)."""
        if keyframe.index != self._next:
            raise ValueError(f"keyframe {keyframe.index} signed out of order: the next is {self._next}")
        digest = sm3(keyframe.jpeg)
        link = chain_link(self.recording, keyframe.index, keyframe.t_ms, digest, self._last)
        payload = {"sm3": digest.hex(), "size": len(keyframe.jpeg), "content_type": "image/jpeg",
                   "captured_at": captured_at, "device": self.camera.id, "purpose": "keyframe", "role": "keyframe",
                   "file": f"keyframe-{keyframe.index:06d}.jpg",
                   "recording": self.recording, "index": keyframe.index, "t_ms": keyframe.t_ms,
                   "prev": self._last.hex() if self._last else None, "chain": link.hex()}
        media_id = str(uuid.uuid4())  # the upload id, chosen now so the signed event names the object
        subject = {"media": media_id} | ({"permit": self.permit} if self.permit else {})
        item = new_item(self.camera, tenant=self.tenant, kind="media.keyframe", payload=payload,
                        occurred_at=captured_at, subject=subject, location=location)
        self._last, self._next = link, self._next + 1
        return SignedKeyframe(keyframe, media_id, sign_item(self.camera, item))


def upload_recording(api: ApiClient, session: CameraSession, video: Path, keyframes: Sequence[SignedKeyframe], *,
                     captured_at: str, content_type: str = "video/mp4") -> tuple[tus.Upload, list[tus.Upload]]:
    """Upload the video and its signed keyframes; returns the video's upload and the keyframes' in order."""
    meta: dict[str, Any] = {"recording": session.recording} | ({"permit": session.permit} if session.permit else {})
    with open(video, "rb") as file:
        stored = tus.upload(api, file, content_type=content_type, purpose="process_video", **meta)
    api.media_event(stored.id, tus.media_stored_item(session.camera, tenant=session.tenant, media=stored,
                                                     content_type=content_type, captured_at=captured_at,
                                                     permit=session.permit, purpose="process_video"))
    frames = []
    for signed in keyframes:
        upload = tus.upload(api, io.BytesIO(signed.keyframe.jpeg), content_type="image/jpeg", purpose="keyframe",
                            media=signed.media_id, **meta)
        api.media_event(upload.id, signed.item)
        frames.append(upload)
    return stored, frames
