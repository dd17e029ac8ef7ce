"""A bounded sample of the tamper suite (bench/tamper_packs.py runs it in full): real packs with trusted time
(the real test TSA and two real witnesses), every family of mutation, each refused with its expected reason
class or, for an absence of trust (a cosignature that does not count), accepted at the lower assurance; the
untampered packs accepted at ``signed+tsa+witnessed`` (and the captured two-chain pack at ``dual-chain``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tests.tamper.packs import ACCEPTED, PATH_CLASSES, mutations
from tests.tamper.sources import RealPacks, build_real_packs
from verifier.pack import verify_pack
from verifier.pack_errors import REASON_CLASSES, PackInvalid, PackUnusable

pytestmark = [pytest.mark.tsa, pytest.mark.witness]


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory) -> RealPacks:
    return build_real_packs(Path(tmp_path_factory.mktemp("packs")), timed=True, chain=True)


def test_untampered_packs_are_accepted(real: RealPacks) -> None:
    for source, assurance in zip(real.sources, real.assurances, strict=True):
        report = verify_pack(source.data, trust_root=real.trust_root)
        assert report.valid and report.assurance == assurance
    assert set(real.assurances) == {"signed+tsa+witnessed", "dual-chain"}


def test_pack_mutations_sample_each_refused_with_its_reason(real: RealPacks) -> None:
    root = real.trust_root
    seen: Counter[str] = Counter()
    wrong = []
    for mutation in mutations(real.sources, flips_per_file=3, seed=5):
        try:
            got: tuple[str, str | None] = (ACCEPTED, verify_pack(mutation.data, trust_root=root).assurance)
        except (PackInvalid, PackUnusable) as exc:
            got = (exc.reason, exc.path)
        seen[mutation.reason] += 1
        if got[0] != mutation.reason or (mutation.reason in PATH_CLASSES and got[1] != mutation.path) or \
                (mutation.reason == ACCEPTED and got[1] != mutation.assurance):
            wrong.append((mutation.name, mutation.reason, mutation.path, got))
    assert not wrong, wrong[:10]
    assert sum(seen.values()) > 500
    assert set(REASON_CLASSES) - {"unreadable", "untrusted-log"} <= set(seen) | {"unreadable"}
    assert {"anchor-local", "anchor-fabric", "anchor-evm", "anchor-rfc3161", "anchor-witness", ACCEPTED} <= set(seen)
