"""The full tamper suite (issue 11): ≥ 10,000 mutations of real packs with trusted time (the real test TSA and
two real witnesses, started here), each must be refused with its expected reason class (and, for file
classes, the file) or, for an absence of trust, accepted at its lower assurance; every untampered pack must
be accepted. ``bench/web_agreement.py`` runs the same mutations through verify.html's core as well.

Run: .venv/bin/python -m bench.tamper_packs [flips per file]   (the test suite runs a bounded sample)
Prints the mutations per reason class and family, every disagreement, and the time per verification.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from tests.tamper.packs import ACCEPTED, PATH_CLASSES, mutations
from tests.tamper.sources import build_real_packs
from verifier.pack import verify_pack
from verifier.pack_errors import PackInvalid, PackUnusable


def _family(name: str) -> str:
    part = name.split("/", 1)[1]
    return part.split("-")[0] if not part.startswith("flip-") else "-".join(part.split("-")[:2])


def _silence_native_stderr() -> None:
    """GmSSL prints a C-level trace to fd 2 for every signature that does not verify: thousands here."""
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 2)


def main(flips_per_file: int = 140) -> int:
    """Run every mutation; return 0 when all were refused as expected and the real packs accepted."""
    _silence_native_stderr()
    with tempfile.TemporaryDirectory() as folder:
        real = build_real_packs(Path(folder), keyframes=3, timed=True, chain=True)
    root = real.trust_root
    accepted = sum(verify_pack(s.data, trust_root=root).assurance == a for s, a in zip(real.sources, real.assurances,
                                                                                        strict=True))
    reasons: Counter[str] = Counter()
    families: Counter[str] = Counter()
    wrong: list[str] = []
    start = time.perf_counter()
    for mutation in mutations(real.sources, flips_per_file=flips_per_file):
        try:
            got, path = ACCEPTED, verify_pack(mutation.data, trust_root=root).assurance
        except (PackInvalid, PackUnusable) as exc:
            got, path = exc.reason, exc.path
        reasons[mutation.reason] += 1
        families[_family(mutation.name)] += 1
        want = mutation.assurance if mutation.reason == ACCEPTED else mutation.path
        if got != mutation.reason or ((mutation.reason in PATH_CLASSES or mutation.reason == ACCEPTED) and path != want):
            wrong.append(f"{mutation.name}: want {mutation.reason} {want}, got {got} {path}")
    elapsed = time.perf_counter() - start
    total = sum(reasons.values())
    print(f"real packs accepted at {', '.join(sorted(set(real.assurances)))}: {accepted}/{len(real.sources)} "
          f"({', '.join(s.name for s in real.sources)})")
    print(f"mutations: {total}, refused with the expected reason: {total - len(wrong)}, disagreements: {len(wrong)}")
    print("by reason class: " + ", ".join(f"{k} {v}" for k, v in sorted(reasons.items())))
    print("by family: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())))
    print(f"{elapsed:.1f} s, {1000 * elapsed / total:.2f} ms per verification (shared 2-core machine: noisy)")
    for line in wrong[:50]:
        print("DISAGREE", line)
    return 0 if not wrong and accepted == len(real.sources) else 1


if __name__ == "__main__":
    raise SystemExit(main(*(int(a) for a in sys.argv[1:2])))
