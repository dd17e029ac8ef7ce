"""The full agreement run of the two verifiers (issue 11): ≥ 10,000 mutations of real packs (the pack
engineer's generator, ``tests/tamper``, over three packs of a fresh world and the captured two-chain pack), each verified by the Python verifier and by verify.html's core on
Node; every one must get the same reason class from both (and the same file, for the classes that name one),
and every untampered pack must be accepted by both.

Run: .venv/bin/python -m bench.web_agreement [flips per file, default 140]
Prints counts per reason class, every disagreement, and the time per verification on each side (the
Node figure includes reading each pack from disk; the machine is shared, so figures are noisy).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.verify_html_kit import node_reasons, python_reason
from tests.tamper.packs import PATH_CLASSES, mutations
from tests.tamper.sources import build_real_packs


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """GmSSL prints a C trace on fd 2 for every SM2 signature that does not verify; the figures say enough."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(flips_per_file: int = 140) -> int:
    """Run every mutation through both verifiers; return 0 when they agree on all and accept the real packs."""
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        real = build_real_packs(scratch / "world", keyframes=3, chain=True)
        trust = scratch / "trust-root.json"
        trust.write_text(real.trust_root_json, encoding="utf-8")
        files, wants, classes = [], [], Counter[str]()
        python_seconds = 0.0
        for source in real.sources:
            files.append(scratch / f"valid-{source.name}.zip")
            files[-1].write_bytes(source.data)
            wants.append((f"valid/{source.name}", None, None))
        for n, mutation in enumerate(mutations(real.sources, flips_per_file=flips_per_file)):
            files.append(scratch / f"{n:05d}.zip")
            files[-1].write_bytes(mutation.data)
            start = time.perf_counter()
            with _quiet_stderr():
                reason, path = python_reason(mutation.data, real.trust_root)
            python_seconds += time.perf_counter() - start
            wants.append((mutation.name, reason, path if reason in PATH_CLASSES else None))
            classes[mutation.reason] += 1
            if reason != mutation.reason:
                print(f"PYTHON DIFFERS FROM THE GENERATOR {mutation.name}: want {mutation.reason}, got {reason}")
        start = time.perf_counter()
        got = node_reasons(files, trust)
        node_seconds = time.perf_counter() - start
    differ = [f"{name}: python {reason} {path}, node {g['reason']} {g['path']}"
              for (name, reason, path), g in zip(wants, got, strict=True)
              if (g["reason"], g["path"] if reason in PATH_CLASSES else None) != (reason, path)]
    total = len(wants) - len(real.sources)
    print(f"untampered packs: {len(real.sources)} ({', '.join(s.name for s in real.sources)})")
    print(f"mutations: {total}; both verifiers agree on {len(wants) - len(differ)} of {len(wants)} packs; "
          f"disagreements: {len(differ)}")
    print("by reason class: " + ", ".join(f"{k} {v}" for k, v in sorted(classes.items())))
    print(f"python: {1000 * python_seconds / total:.2f} ms per pack; node (verify.html core, one process, "
          f"reading files): {1000 * node_seconds / len(wants):.2f} ms per pack; node/python "
          f"{(node_seconds / len(wants)) / (python_seconds / total):.2f} (shared 2-core machine: noisy)")
    for line in differ[:50]:
        print("DISAGREE", line)
    return 0 if not differ else 1


if __name__ == "__main__":
    raise SystemExit(main(*(int(a) for a in sys.argv[1:2])))
