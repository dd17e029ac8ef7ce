"""Keyframe extraction keeps GB/T 25724's 5 s bound: a video with keyframes forced every 5 s gives exactly
those; one with a 12 s GOP gets frames taken across each gap; a file that is no video is refused."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from ingest.media.keyframes import KeyframeError, extract_keyframes, plan_gaps
from tests.media_videos import make_testsrc, require_ffmpeg

pytestmark = pytest.mark.ffmpeg


@pytest.fixture(autouse=True)
def _ffmpeg(pytestconfig: pytest.Config) -> None:
    require_ffmpeg(pytestconfig)


def test_forced_keyframes_are_taken_as_they_are(tmp_path: Path) -> None:
    frames = extract_keyframes(make_testsrc(tmp_path / "forced.mp4", seconds=23), tmp_path / "work")
    assert [(f.index, f.t_ms, f.kind) for f in frames] == [(n, n * 5000, "key") for n in range(5)]
    assert all(f.jpeg.startswith(b"\xff\xd8") for f in frames)
    assert not (tmp_path / "work").exists()


def test_a_long_gop_is_filled_to_keep_the_bound(tmp_path: Path) -> None:
    frames = extract_keyframes(make_testsrc(tmp_path / "gop.mp4", seconds=23, gop=120), tmp_path / "work")
    assert [(f.t_ms, f.kind) for f in frames] == [(0, "key"), (5000, "filled"), (10000, "filled"), (12000, "key"),
                                                  (17000, "filled"), (22000, "filled")]
    assert max(b.t_ms - a.t_ms for a, b in itertools.pairwise(frames)) <= 5000
    assert len({f.jpeg for f in frames}) == len(frames)  # different pictures, not one frame repeated


def test_plan_gaps_covers_the_start_and_the_end() -> None:
    assert plan_gaps([7.0], 9.0) == [5.0]  # 0 -> 7 is too long: a frame at 5 s (then 5 -> 7 -> 9 fits)
    assert plan_gaps([0.0, 4.0], 16.0) == [9.0, 14.0]


def test_not_a_video_is_refused(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mp4"
    bogus.write_bytes(b"not a video at all")
    with pytest.raises(KeyframeError, match="ffmpeg could not probe .*bogus.mp4"):
        extract_keyframes(bogus, tmp_path / "work")
