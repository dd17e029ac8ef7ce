"""Benchmark media uploads (ingest.media.segments): hash + encrypt throughput against raw SM4-GCM, and memory.

1. Throughput: one random buffer (``--mib``, default 64 MiB) encrypted by raw SM4-GCM in one call, by the
   segment encryptor alone, and by ``encrypt_upload`` (SM3 + segments, the real upload path); best of
   ``--repeat``, in wall-clock and in process CPU time (which a loaded machine distorts less; the upload's SM3
   runs on a helper thread, so its CPU time counts both). Target: upload ≥ 0.8× raw.
2. Memory: an upload of ``--stream-mib`` (default 256 MiB; ``--big`` = 2 GiB) generated on the fly into a
   sink that discards, with tracemalloc's peak and the process's peak RSS before and after.

Run: .venv/bin/python -m bench.segments [--big]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ingest.media import DEFAULT_SEGMENT_SIZE, Header, encrypt_stream, encrypt_upload
from ledger.keystore import LocalKeyWrapper

MIB = 1 << 20
_WRAPPER = LocalKeyWrapper(os.urandom(32))


class _Discard:
    """A sink that counts and drops what it is given."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> None:
        self.size += len(data)

    def commit(self) -> None:
        pass

    def abort(self) -> None:
        pass


def best(fn: Callable[[], object], repeat: int) -> tuple[float, float]:
    """Best wall-clock and best process CPU seconds of ``repeat`` runs (CPU time sums both threads)."""
    walls, cpus = [], []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def _chunks(buf: bytes, width: int = DEFAULT_SEGMENT_SIZE) -> Iterator[bytes]:
    view = memoryview(buf)
    for i in range(0, len(buf), width):
        yield view[i : i + width].tobytes()


def raw_sm4_gcm(buf: bytes) -> None:
    """The baseline: ``buf`` encrypted by SM4-GCM in one call, under a random key and nonce."""
    encryptor = Cipher(algorithms.SM4(os.urandom(16)), modes.GCM(os.urandom(12))).encryptor()
    encryptor.update(buf)
    encryptor.finalize()


def _segments_only(buf: bytes) -> None:
    header = Header(uuid.uuid4(), uuid.uuid4(), DEFAULT_SEGMENT_SIZE, os.urandom(7))
    for _ in encrypt_stream(os.urandom(16), header, _chunks(buf)):
        pass


def _upload(chunks: Iterator[bytes], sm3: bytes) -> None:
    from ingest.media import DigestMismatch

    try:
        encrypt_upload(chunks, _Discard(), tenant="bench", wrapper=_WRAPPER, object_id=uuid.uuid4(), expected_sm3=sm3)
    except DigestMismatch:
        pass  # the memory run does not know its digest in advance; the work is done before the check


def throughput(mib: int, repeat: int) -> None:
    """Print MB/s of raw SM4-GCM, segments only, and the upload path, and the upload/raw ratio."""
    buf = os.urandom(mib * MIB)
    digest = hashes.Hash(hashes.SM3())
    digest.update(buf)
    sm3 = digest.finalize()
    rows = {"raw sm4-gcm, one buffer": best(lambda: raw_sm4_gcm(buf), repeat),
            "segments (sm4-gcm only)": best(lambda: _segments_only(buf), repeat),
            "upload (sm3 + segments)": best(lambda: _upload(_chunks(buf), sm3), repeat)}
    print(f"{'':26s} {'wall MB/s':>10s} {'cpu MB/s':>10s}")
    for name, (wall, cpu) in rows.items():
        print(f"{name:26s} {mib * MIB / wall / 1e6:10.1f} {mib * MIB / cpu / 1e6:10.1f}")
    for clock in (0, 1):
        raw = rows["raw sm4-gcm, one buffer"][clock]
        print(f"{('wall', 'cpu')[clock]:4s}: segments / raw {raw / rows['segments (sm4-gcm only)'][clock]:.2f}x, "
              f"upload / raw {raw / rows['upload (sm3 + segments)'][clock]:.2f}x (target >= 0.80x)")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def _generated(total: int) -> Iterator[bytes]:
    block = os.urandom(MIB)
    for _ in range(total // MIB):
        yield block


def memory(stream_mib: int) -> None:
    """Upload ``stream_mib`` MiB generated on the fly; print tracemalloc's peak and the peak RSS."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    start = time.perf_counter()
    _upload(_generated(stream_mib * MIB), b"\x00" * 32)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"upload of {stream_mib} MiB in {seconds:.1f} s: tracemalloc peak {peak / MIB:.2f} MiB, "
          f"peak rss {rss_before / 1024:.1f} -> {rss_after / 1024:.1f} MiB")


def main() -> None:
    """Parse the options and run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=64, help="buffer size for the throughput run")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stream-mib", type=int, default=256, help="size of the generated upload")
    parser.add_argument("--big", action="store_true", help="a 2 GiB generated upload")
    args = parser.parse_args()
    memory(2048 if args.big else args.stream_mib)
    throughput(args.mib, args.repeat)


if __name__ == "__main__":
    main()
