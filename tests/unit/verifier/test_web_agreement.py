"""Both verifiers agree (issue 11, "Two verifiers that must agree"): the pack engineer's mutation generator
(``tests/tamper``) over real packs, a bounded sample; the Node core of verify.html gives every mutation the
reason class the Python verifier gives (and the file, for the classes that name one), and accepts every
untampered pack, the two-chain pack's Fabric and EVM receipts included. The full run (≥ 10,000 mutations) is
``bench/web_agreement.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.verify_html_kit import node_reasons, python_reason
from tests.tamper.packs import PATH_CLASSES, mutations
from tests.tamper.sources import RealPacks, build_real_packs


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealPacks:
    """Three real packs (permit pinned to an older checkpoint, permit, worker), the captured two-chain pack
    (Fabric and EVM receipts) and their trust root."""
    return build_real_packs(tmp_path_factory.mktemp("world"), chain=True)


def test_web_accepts_the_untampered_packs(real: RealPacks, tmp_path: Path) -> None:
    trust = tmp_path / "trust-root.json"
    trust.write_text(real.trust_root_json, encoding="utf-8")
    files = []
    for source in real.sources:
        files.append(tmp_path / f"{source.name}.zip")
        files[-1].write_bytes(source.data)
    got = node_reasons(files, trust)
    assert [(g["valid"], g["reason"]) for g in got] == [(True, None)] * len(real.sources)


def test_web_and_python_agree_on_a_sample_of_mutations(real: RealPacks, tmp_path: Path) -> None:
    trust = tmp_path / "trust-root.json"
    trust.write_text(real.trust_root_json, encoding="utf-8")
    files, wants = [], []
    for n, mutation in enumerate(mutations(real.sources, flips_per_file=3, seed=20261201)):
        files.append(tmp_path / f"{n:05d}.zip")
        files[-1].write_bytes(mutation.data)
        reason, path = python_reason(mutation.data, real.trust_root)
        assert reason == mutation.reason, f"python verifier: {mutation.name} gave {reason}"
        wants.append((mutation.name, reason, path if reason in PATH_CLASSES else None))
    got = node_reasons(files, trust)
    differ = [(name, reason, path, g["reason"], g["path"]) for (name, reason, path), g in zip(wants, got, strict=True)
              if (g["reason"], g["path"] if reason in PATH_CLASSES else None) != (reason, path)]
    assert len(got) == len(wants) > 300
    assert {"anchor-local", "anchor-fabric", "anchor-evm"} <= {reason for _, reason, _ in wants}
    assert not differ, f"{len(differ)} of {len(wants)} differ (name, python, path, node, path): {differ[:5]}"
