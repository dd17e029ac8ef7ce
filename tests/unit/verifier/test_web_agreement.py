"""Both verifiers agree (issue 11, "Two verifiers that must agree"): the pack engineer's mutation generator
(``tests/tamper``) over real packs, a bounded sample; the Node core of verify.html gives every mutation the
reason class the Python verifier gives (and the file, for the classes that name one), and accepts every
untampered pack, the two-chain pack's Fabric and EVM receipts included. The packs of the fresh world carry
trusted time (the real test TSA and two real witnesses), so the browser's RFC 3161 and cosignature checks are
held to the command line's verdicts too, assurance included. The full run (≥ 10,000 mutations) is
``bench/web_agreement.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.verify_html_kit import node_reasons, node_verdict, python_verdict
from tests.tamper.packs import ACCEPTED, mutations
from tests.tamper.sources import RealPacks, build_real_packs

pytestmark = [pytest.mark.tsa, pytest.mark.witness]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealPacks:
    """Three real packs with trusted time (permit pinned to an older checkpoint, permit, worker), the captured
    two-chain pack (Fabric and EVM receipts) and their trust root."""
    return build_real_packs(tmp_path_factory.mktemp("world"), timed=True, chain=True)


def test_web_accepts_the_untampered_packs(real: RealPacks, tmp_path: Path) -> None:
    trust = tmp_path / "trust-root.json"
    trust.write_text(real.trust_root_json, encoding="utf-8")
    files = []
    for source in real.sources:
        files.append(tmp_path / f"{source.name}.zip")
        files[-1].write_bytes(source.data)
    got = node_reasons(files, trust)
    assert [(g["valid"], g["reason"], g["assurance"]) for g in got] == [(True, None, a) for a in real.assurances]


def test_web_and_python_agree_on_a_sample_of_mutations(real: RealPacks, tmp_path: Path) -> None:
    trust = tmp_path / "trust-root.json"
    trust.write_text(real.trust_root_json, encoding="utf-8")
    files, wants = [], []
    for n, mutation in enumerate(mutations(real.sources, flips_per_file=3, seed=20261201)):
        files.append(tmp_path / f"{n:05d}.zip")
        files[-1].write_bytes(mutation.data)
        want = python_verdict(mutation.data, real.trust_root)
        assert (want[0] or ACCEPTED) == mutation.reason, f"python verifier: {mutation.name} gave {want}"
        wants.append((mutation.name, want))
    got = node_reasons(files, trust)
    differ = [(name, want, node_verdict(g)) for (name, want), g in zip(wants, got, strict=True) if node_verdict(g) != want]
    assert len(got) == len(wants) > 300
    assert {"anchor-local", "anchor-fabric", "anchor-evm", "anchor-rfc3161", "anchor-witness", None} <= \
        {want[0] for _, want in wants}
    assert not differ, f"{len(differ)} of {len(wants)} differ (name, python, node): {differ[:5]}"
