"""Write the evidence-pack golden vectors under tests/vectors/packs/ (run: python -m tests.vectors.generate_packs).

Real packs from ``tests.tamper.sources`` (a real log, intake, journal and builder) and a selection of their
mutations: a few of every family, at least one per reason class. Each case is
``tests/vectors/packs/<case>.json`` = ``{"desc", "want_error", "want_reason", "want_path", "want_exit",
"trust_root", "pack": "<base64 zip>"}``; ``trust_root`` names the trust-root file of the folder the case is
checked against (``trust-root.json`` but for the ``untrusted-log`` case). SM2
signatures are randomised, so a fresh generation differs byte for byte: ``tests/unit/verifier/
test_pack_vectors.py`` checks that every committed case gives its expected outcome instead.
"""

from __future__ import annotations

import base64
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

from ledger.sm import Signer, SM2PrivateKey
from tests.tamper.packs import PATH_CLASSES, Mutation, mutations
from tests.tamper.sources import build_real_packs
from verifier.pack_errors import exit_code_of
from verifier.trust import TrustRoot

HERE = Path(__file__).parent / "packs"
_PER_FAMILY = 1


def _family(mutation: Mutation) -> str:
    """Coarse families (one vector each per reason class), the lying service's changes one by one."""
    name = mutation.name.split("/", 1)[1]
    if name.startswith(("flip-", "resigned-", "manifest-")):
        return name.split("@")[0] if not name.startswith("flip-") else "-".join(name.split("-")[:2])
    return name.split("-")[0]


def _case(desc: str, data: bytes, reason: str | None, path: str | None,
          trust_root: str = "trust-root.json") -> dict[str, object]:
    return {"desc": desc, "trust_root": trust_root, "want_error": reason is not None, "want_reason": reason,
            "want_path": path if reason in PATH_CLASSES else None,
            "want_exit": 0 if reason is None else exit_code_of(reason), "pack": base64.b64encode(data).decode()}


def generate(out: Path = HERE) -> list[Path]:
    """Regenerate every case under ``out`` (the folder is replaced); returns the paths written."""
    with tempfile.TemporaryDirectory() as scratch:
        real = build_real_packs(Path(scratch), keyframes=1, small_viewer=True)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    (out / "trust-root.json").write_text(real.trust_root_json, encoding="utf-8")
    stranger = Signer.from_private_key(SM2PrivateKey.generate()).public.to_pem()
    (out / "trust-root-other-log.json").write_text(TrustRoot.for_log("other.tiezheng/log", stranger).to_json())
    cases = {f"valid-{s.name}": _case(f"untampered pack ({s.name})", s.data, None, None) for s in real.sources}
    cases["untrusted-log--valid-pack-other-trust-root"] = _case(
        "untampered pack checked against a trust root that names only another log", real.sources[0].data,
        "untrusted-log", None, "trust-root-other-log.json")
    taken: Counter[tuple[str, str]] = Counter()
    for mutation in mutations(real.sources[:1], flips_per_file=1, seed=7):
        key = (mutation.reason, _family(mutation))
        if taken[key] < _PER_FAMILY:
            taken[key] += 1
            safe = mutation.name.replace("/", "--").replace("@", "-at-")
            cases[f"{mutation.reason}--{safe}"[:150]] = _case(mutation.name, mutation.data, mutation.reason,
                                                             mutation.path)
    written = []
    for name, case in sorted(cases.items()):
        path = out / f"{''.join(c if c.isalnum() or c in '-._' else '_' for c in name)}.json"
        path.write_text(json.dumps(case, indent=1) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    print(f"wrote {len(generate())} pack vectors to {HERE}")
