"""Benchmark the media path as the server runs it: upload hash + encrypt against raw SM4-GCM, the server's
peak memory during real tus uploads, and keyframes of one hour of 720p video.

1. Throughput (``--mib``, default 64): raw SM4-GCM over one buffer, against the server's upload path
   (``ingest.media.upload.StagedUpload``: SM3 on a helper thread while SM4-GCM seals each 64 KiB segment
   and writes it to the staging file). Three clocks: wall (distorted by other load), process CPU (both
   threads summed: the SM3 work counts, so it cannot reach 1.0x), and the critical path — the busier of the
   two threads' own CPU time — which is what the wall clock shows on two otherwise idle cores. Target ≥ 0.8x.
2. Memory: a real service in a child process; tus uploads of ``--sizes`` MiB (default 128 and 512; ``--big``
   adds 2048) over HTTP in 64 MiB PATCHes, generated on the fly; the child's peak RSS (VmHWM) after each.
3. Keyframes (``--minutes``, default 60): a 60 s 720p testsrc clip (keyframes forced every 5 s), repeated by
   stream copy to the length asked, then ``extract_keyframes``: seconds, count, largest gap.

Run: .venv/bin/python -m bench.media [--big] [--skip-keyframes]. The machine is shared: say the load.
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from bench.segments import best, raw_sm4_gcm

MIB = 1 << 20


def _staged(buf: bytes, folder: Path) -> dict[str, float]:
    """The server's path over ``buf`` in 4 MiB requests; the main and the SM3 thread's own CPU seconds."""
    from ingest.media import DEFAULT_SEGMENT_SIZE, Header
    from ingest.media.upload import HashCache, StagedUpload, create_staging

    header = Header(uuid.uuid4(), uuid.uuid4(), DEFAULT_SEGMENT_SIZE, os.urandom(7))
    path = folder / f"{header.object_id}.part"
    create_staging(path, header)
    helper = {"cpu": 0.0}
    original = threading.Thread.run

    def timed_run(self: threading.Thread) -> None:  # the SM3 helper's own CPU time
        start = time.thread_time()
        try:
            original(self)
        finally:
            if self.name.startswith("sm3"):
                helper["cpu"] += time.thread_time() - start

    threading.Thread.run = timed_run  # type: ignore[method-assign]
    try:
        main = time.thread_time()
        with StagedUpload.open(path, header, os.urandom(16), len(buf), HashCache()) as upload:
            view = memoryview(buf)
            for i in range(0, len(buf), 4 * MIB):
                upload.append(view[i:i + 4 * MIB].tobytes())
            upload.digest()
        main_cpu = time.thread_time() - main
    finally:
        threading.Thread.run = original  # type: ignore[method-assign]
        path.unlink()
    return {"main": main_cpu, "helper": helper["cpu"]}


def throughput(mib: int, repeat: int) -> None:
    """Print MB/s and ratios of the upload path against raw SM4-GCM, on three clocks."""
    buf = os.urandom(mib * MIB)
    size = len(buf) / 1e6
    raw_wall, raw_cpu = best(lambda: raw_sm4_gcm(buf), repeat)
    threads: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        up_wall, up_cpu = best(lambda: threads.append(_staged(buf, Path(tmp))), repeat)
    critical = min(max(t["main"], t["helper"]) for t in threads)
    print(f"{'':34s} {'wall MB/s':>10s} {'cpu MB/s':>10s} {'critical MB/s':>14s}")
    print(f"{'raw sm4-gcm, one buffer':34s} {size / raw_wall:10.1f} {size / raw_cpu:10.1f} {size / raw_cpu:14.1f}")
    print(f"{'upload (sm3 thread + segments)':34s} {size / up_wall:10.1f} {size / up_cpu:10.1f} {size / critical:14.1f}")
    print(f"upload / raw: wall {raw_wall / up_wall:.2f}x, cpu {raw_cpu / up_cpu:.2f}x, critical path "
          f"{raw_cpu / critical:.2f}x (target >= 0.80x); sm3 thread {min(t['helper'] for t in threads):.2f} s, "
          f"sealing thread {min(t['main'] for t in threads):.2f} s of cpu")


# -- memory of real uploads ---------------------------------------------------------------------------
_SERVE = """
import sys, uvicorn
from pathlib import Path
from evidence_api.config import Settings
from evidence_api.main import create_app
settings = Settings(data_dir=Path(sys.argv[1]), admin_token=sys.argv[2], intake_workers=0, max_media_bytes=8 << 30)
uvicorn.run(create_app(settings), host="127.0.0.1", port=int(sys.argv[3]), log_level="warning")
"""


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _generated(size: int, block: bytes) -> Iterator[bytes]:
    for _ in range(size // len(block)):
        yield block


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_ready(base: str) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/v1/log/public-key", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError("the benchmark's service did not start within 60 s")


def _upload_generated(api: object, size: int, chunk: int) -> float:
    """Create a tus upload of ``size`` generated bytes and PATCH them; seconds taken."""
    import hashlib

    from ingest.media import tus

    hasher, pattern = hashlib.new("sm3"), os.urandom(chunk)
    for block in _generated(size, pattern):
        hasher.update(block)
    start = time.perf_counter()
    url = tus.create(api, size, {"sm3": hasher.hexdigest(), "content_type": "video/mp4"})  # type: ignore[arg-type]
    offset = 0
    for block in _generated(size, pattern):
        response = api.http.patch(url, content=block, headers=tus._headers(  # type: ignore[attr-defined]
            api, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}))  # type: ignore[arg-type]
        response.raise_for_status()
        offset = int(response.headers["Upload-Offset"])
    return time.perf_counter() - start


def memory(sizes: list[int]) -> None:
    """Start a service in a child process, upload each size, print its peak RSS after each."""
    from ingest.client import ApiClient
    from ingest.seed import open_tenant

    token, port = uuid.uuid4().hex, _free_port()
    with tempfile.TemporaryDirectory() as data:
        child = subprocess.Popen([sys.executable, "-c", _SERVE, data, token, str(port)])
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base)
            print(f"service pid {child.pid}: peak rss after start {_peak_rss_mib(child.pid):.0f} MiB")
            with ApiClient.connect(base, token, timeout=600) as root:
                ingest = open_tenant(root, "bench", "Bench").clients["ingest"]
                for mib in sizes:
                    seconds = _upload_generated(ingest, mib * MIB, 64 * MIB)
                    print(f"tus upload of {mib} MiB in {seconds:.1f} s ({mib * MIB / seconds / 1e6:.0f} MB/s over HTTP, "
                          f"into the filesystem store): service peak rss {_peak_rss_mib(child.pid):.0f} MiB")
        finally:
            child.terminate()
            child.wait()


# -- keyframes ------------------------------------------------------------------------------------------
def _hour_of_video(folder: Path, minutes: int) -> Path:
    clip, listing, video = folder / "clip.mp4", folder / "list.txt", folder / "hour.mp4"
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=1280x720:rate=25",
                    "-t", "60", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                    "-force_key_frames", "expr:gte(t,n_forced*5)", str(clip)], check=True)
    listing.write_text("".join(f"file '{clip}'\n" for _ in range(minutes)))
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", str(video)], check=True)
    print(f"made {minutes} min of 720p25 testsrc ({video.stat().st_size / MIB:.0f} MiB) in "
          f"{time.perf_counter() - start:.0f} s")
    return video


def keyframes(minutes: int) -> None:
    """Time ``extract_keyframes`` over ``minutes`` of 720p video."""
    from ingest.media.keyframes import extract_keyframes

    with tempfile.TemporaryDirectory() as tmp:
        video = _hour_of_video(Path(tmp), minutes)
        start = time.perf_counter()
        frames = extract_keyframes(video, Path(tmp) / "frames")
        seconds = time.perf_counter() - start
    gap = max((b.t_ms - a.t_ms for a, b in itertools.pairwise(frames)), default=0) / 1000
    print(f"keyframes of {minutes} min of 720p: {len(frames)} in {seconds:.1f} s (target <= 30 s for 60 min), "
          f"largest gap {gap:g} s, {sum(f.kind == 'filled' for f in frames)} filled")


def main() -> None:
    """Parse the options and run the three measurements."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[128, 512])
    parser.add_argument("--big", action="store_true", help="add a 2 GiB upload to the memory run")
    parser.add_argument("--minutes", type=int, default=60)
    parser.add_argument("--skip-keyframes", action="store_true")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (figures are noisy under load)")
    throughput(args.mib, args.repeat)
    memory(args.sizes + ([2048] if args.big else []))
    if not args.skip_keyframes:
        keyframes(args.minutes)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
