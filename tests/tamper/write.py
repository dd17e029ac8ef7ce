"""Write mutated real packs and their expected reason classes to a folder, for any verifier to check.

    python -m tests.tamper.write --out DIR [--flips-per-file N] [--timed]

writes ``DIR/trust-root.json``, ``DIR/valid/<name>.zip`` (untampered: must be accepted), ``DIR/<n>.zip``
and ``DIR/expected.jsonl``: one ``{"file", "name", "reason", "path"}`` per mutated pack, ``path`` being
set for ``missing-file``, ``extra-file`` and ``file-hash`` (the file both verifiers must name). With ``--timed``
the packs carry RFC 3161 and witness receipts (the real test TSA and two witnesses are started for it), and a
mutation that must be accepted has ``"reason": "accepted"`` and the ``"assurance"`` it must be accepted at.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from tests.tamper.packs import PATH_CLASSES, mutations
from tests.tamper.sources import build_real_packs


def write(out: Path, *, flips_per_file: int, timed: bool = False) -> int:
    """Build real packs, write them and their mutations under ``out``; returns the number of mutations."""
    (out / "valid").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        real = build_real_packs(Path(scratch), timed=timed)
    (out / "trust-root.json").write_text(real.trust_root_json, encoding="utf-8")
    for source in real.sources:
        (out / "valid" / f"{source.name}.zip").write_bytes(source.data)
    count = 0
    with open(out / "expected.jsonl", "w", encoding="utf-8") as expected:
        for count, mutation in enumerate(mutations(real.sources, flips_per_file=flips_per_file), start=1):
            name = f"{count:05d}.zip"
            (out / name).write_bytes(mutation.data)
            path = mutation.path if mutation.reason in PATH_CLASSES else None
            line = {"file": name, "name": mutation.name, "reason": mutation.reason, "path": path}
            if mutation.assurance is not None:
                line["assurance"] = mutation.assurance
            expected.write(json.dumps(line, ensure_ascii=False) + "\n")
    return count


def main() -> None:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--flips-per-file", type=int, default=40)
    parser.add_argument("--timed", action="store_true", help="packs with RFC 3161 and witness receipts")
    args = parser.parse_args()
    count = write(args.out, flips_per_file=args.flips_per_file, timed=args.timed)
    print(f"wrote {count} mutated packs to {args.out}")


if __name__ == "__main__":
    main()
