"""Keyframes of a video, at most 5 s apart (GB/T 25724), through Debian's ffmpeg and ``ffmpeg-python``.

How the bound holds: (1) ``ffprobe -skip_frame nokey`` lists the video's keyframes (only they are decoded),
(2) ``ffmpeg -skip_frame nokey -fps_mode passthrough`` writes each as a JPEG in one pass, (3) wherever two
keyframes (or the start and the first, or the last and the end) are more than ``max_gap`` apart — a camera
with a long GOP — a decoded frame is taken every ``max_gap`` seconds across the gap (``-ss T -frames:v 1``)
and marked ``filled``. A camera that records for us forces a keyframe every 5 s instead
(``FORCE_KEYFRAMES``, ``-force_key_frames``), so nothing needs filling. Pictures are JPEGs (``-q:v 3``).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ffmpeg

from ingest.media.errors import MediaError

__all__ = ["FORCE_KEYFRAMES", "MAX_GAP_S", "Keyframe", "KeyframeError", "extract_keyframes", "keyframe_times", "plan_gaps"]

MAX_GAP_S = 5.0
FORCE_KEYFRAMES = "expr:gte(t,n_forced*5)"
"""``-force_key_frames`` value that puts a keyframe at least every 5 s (for recording or re-encoding)."""


class KeyframeError(MediaError):
    """ffmpeg could not read the video or its keyframes; the message carries ffmpeg's own words."""


@dataclass(frozen=True)
class Keyframe:
    """One picture of the video: its place in order, time (ms from the start), JPEG bytes, and whether it is
    a real keyframe (``key``) or a frame taken to keep the 5 s bound (``filled``)."""

    index: int
    t_ms: int
    jpeg: bytes
    kind: str


def _ffmpeg_error(exc: ffmpeg.Error, what: str) -> KeyframeError:
    detail = (exc.stderr or b"").decode("utf-8", "replace").strip().splitlines()
    return KeyframeError(f"ffmpeg could not {what}: {detail[-1] if detail else exc}")


def keyframe_times(video: Path) -> tuple[list[float], float]:
    """The keyframe times (s) of the first video stream and the video's duration; raises ``KeyframeError``."""
    try:
        probe: dict[str, Any] = ffmpeg.probe(str(video), select_streams="v:0", skip_frame="nokey",
                                             show_entries="frame=pts_time:format=duration")
    except ffmpeg.Error as exc:
        raise _ffmpeg_error(exc, f"probe {video}") from exc
    times = sorted(float(f["pts_time"]) for f in probe.get("frames", []) if f.get("pts_time") not in (None, "N/A"))
    if not times:
        raise KeyframeError(f"{video} has no video keyframes")
    return times, float(probe.get("format", {}).get("duration") or times[-1])


def plan_gaps(times: Sequence[float], duration: float, max_gap: float = MAX_GAP_S) -> list[float]:
    """The times at which to take extra frames so that no two pictures (nor the start and the first, nor the
    last and the end) are more than ``max_gap`` apart.

    >>> plan_gaps([0.0, 12.0], 14.0)
    [5.0, 10.0]
    >>> plan_gaps([0.0, 5.0, 10.0], 12.0)
    []
    """
    extra: list[float] = []
    points = [0.0, *times] if not times or times[0] > max_gap else list(times)
    for a, b in zip(points, [*points[1:], duration], strict=True):
        t = a + max_gap
        while b - a > max_gap and t < b:
            extra.append(round(t, 3))
            t += max_gap
    return [t for t in extra if t not in times]


def _dump_keyframes(video: Path, out: Path) -> list[Path]:
    pattern = str(out / "key-%06d.jpg")
    try:
        (ffmpeg.input(str(video), skip_frame="nokey").output(pattern, fps_mode="passthrough", **{"q:v": 3})
         .global_args("-nostdin", "-loglevel", "error").run(capture_stdout=True, capture_stderr=True))
    except ffmpeg.Error as exc:
        raise _ffmpeg_error(exc, f"extract the keyframes of {video}") from exc
    return sorted(out.glob("key-*.jpg"))


def _frame_at(video: Path, t: float, out: Path) -> bytes:
    target = out / f"fill-{t:.3f}.jpg"
    try:
        (ffmpeg.input(str(video), ss=t).output(str(target), vframes=1, **{"q:v": 3})
         .global_args("-nostdin", "-loglevel", "error").run(capture_stdout=True, capture_stderr=True))
    except ffmpeg.Error as exc:
        raise _ffmpeg_error(exc, f"take the frame at {t} s of {video}") from exc
    return target.read_bytes()


def extract_keyframes(video: Path, work: Path, *, max_gap: float = MAX_GAP_S) -> list[Keyframe]:
    """The keyframes of ``video`` in time order, filled so that none is more than ``max_gap`` s from the next
    (see the module docstring); ``work`` is an empty scratch folder (emptied again). Raises ``KeyframeError``."""
    times, duration = keyframe_times(video)
    work.mkdir(parents=True, exist_ok=True)
    try:
        files = _dump_keyframes(video, work)
        if len(files) != len(times):
            raise KeyframeError(f"ffprobe lists {len(times)} keyframes in {video}, ffmpeg wrote {len(files)}")
        pictures = [(t, path.read_bytes(), "key") for t, path in zip(times, files, strict=True)]
        pictures += [(t, _frame_at(video, t, work), "filled") for t in plan_gaps(times, duration, max_gap)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pictures.sort(key=lambda p: p[0])
    return [Keyframe(n, round(t * 1000), data, kind) for n, (t, data, kind) in enumerate(pictures)]
