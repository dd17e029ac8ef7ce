"""Small test videos made by ffmpeg's ``testsrc`` (tests marked ``ffmpeg``: Debian's ffmpeg must be there)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ingest.media.keyframes import FORCE_KEYFRAMES
from tests.conftest import _missing_service


def require_ffmpeg(config: pytest.Config) -> None:
    """Fail (under ``--require-services``) or skip when ffmpeg or ffprobe is not installed."""
    if shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None:
        _missing_service(config, "ffmpeg is not installed (scripts/install-system.sh installs Debian's ffmpeg)")


def make_testsrc(path: Path, *, seconds: float, gop: int | None = None, size: str = "320x180", rate: int = 10) -> Path:
    """An H.264 MP4 of ffmpeg's test pattern: keyframes forced every 5 s, or every ``gop`` frames."""
    keys = ["-g", str(gop), "-sc_threshold", "0"] if gop else ["-force_key_frames", FORCE_KEYFRAMES]
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", *keys,
                    str(path)], check=True)
    return path
