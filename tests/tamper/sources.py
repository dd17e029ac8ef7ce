"""Real packs to tamper with: one world, three scopes (a permit pinned to an older checkpoint with a later
anchor, a permit at its anchored checkpoint, a worker's history), optionally the captured two-chain pack
(Fabric and EVM receipts), and the keys the mutations need. With ``timed``, the world also timestamps its
checkpoints at the real test TSA and has them cosigned by two real witnesses, so every pack of the world carries
``rfc3161`` and ``witness`` receipts (assurance ``signed+tsa+witnessed``)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ledger.sm import Signer, SM2PrivateKey
from ledger.witnesses import WitnessCollector
from tests.tamper.chain import chain_source, merged_trust_root
from tests.tamper.packs import PackSource, TimedExtras
from tests.tamper.timed import TSA_NAME, TimedServices, start_timed_services, untrusted_token
from tests.vectors.pack_world import ORIGIN, TENANT, World, open_world, permit_story
from verifier.trust import TrustRoot

__all__ = ["RealPacks", "build_real_packs"]


@dataclass(frozen=True)
class RealPacks:
    """The sources, the trust root that accepts them (as JSON text), and the assurance each verifies at."""

    sources: list[PackSource]
    trust_root_json: str
    assurances: tuple[str, ...]

    @property
    def trust_root(self) -> TrustRoot:
        """The parsed trust root naming the world's log key (and, for timed packs, the TSA and witnesses)."""
        return TrustRoot.from_bytes(self.trust_root_json.encode())


def _worker_story(world: World) -> None:
    world.log_events([world.item("svc-certs", kind, {"n": n, "category": "焊接与热切割作业"}, worker="w-zhang",
                                 certificate=f"T-{n}") for n, kind in enumerate(
        ["certificate.issued", "certificate.reviewed", "certificate.warning", "certificate.renewed"])])


@contextmanager
def _services(root: Path, signer: Signer, timed: bool) -> Iterator[TimedServices | None]:
    if not timed:
        yield None
        return
    with start_timed_services(root / "services", origin=ORIGIN, log_key_pem=signer.public.to_pem()) as services:
        yield services


def build_real_packs(root: Path, *, keyframes: int = 2, pdf: bool = False, small_viewer: bool = False,
                     timed: bool = False, chain: bool = False) -> RealPacks:
    """Build the three packs in a fresh world under ``root`` (``small_viewer``: a placeholder verify.html;
    ``timed``: with a real TSA and two real witnesses, started here and stopped before returning); ``chain``
    adds the captured two-chain pack (Fabric and EVM receipts) and its chains to the trust root."""
    key = SM2PrivateKey.generate()
    signer = Signer.from_private_key(key)
    with ExitStack() as stack:
        services = stack.enter_context(_services(root, signer, timed))
        world = stack.enter_context(open_world(root / "world", log_key=key, pdf=pdf, small_viewer=small_viewer,
                                               anchors=[services.tsa] if services else []))
        collector = WitnessCollector(world.log, services.witnesses if services else [])
        world.log_events([world.item("liu.yang", "permit.drafted", {"step": "draft"}, permit="HW-0001")])
        world.checkpoint()
        older = world.log.latest_checkpoint()
        assert older is not None
        if services:
            world.anchorer.run_once()
            collector.run_once()
        permit_story(world, "HW-0001", keyframes=keyframes)
        world.checkpoint()
        pinned = world.log.latest_checkpoint()
        assert pinned is not None
        permit_story(world, "HW-0002", keyframes=1, deleted=False)
        _worker_story(world)
        world.settle()
        extras = _extras(world, services, collector, older.checkpoint.tree_size) if services else None
        packs = [world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0001"},
                                     tree_size=pinned.checkpoint.tree_size),
                 world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0002"}),
                 world.builder.build(TENANT, {"kind": "worker", "worker": "w-zhang"})]
        stranger = Signer.from_private_key(SM2PrivateKey.generate())
        sources = [PackSource(name, pack.data, signer, stranger, (older.checkpoint.tree_size, older.text), extras)
                   for name, pack in zip(("permit-pinned", "permit", "worker"), packs, strict=True)]
    trust_root, level = TrustRoot.for_log(ORIGIN, signer.public.to_pem()).to_json(), "signed"
    if services is not None:
        trust_root, level = _timed_root(signer, services), "signed+tsa+witnessed"
    assurances = tuple(level for _ in sources)
    if chain:
        two_chain, chain_root = chain_source()
        sources.append(two_chain)
        trust_root, assurances = merged_trust_root(trust_root, chain_root), (*assurances, "dual-chain")
    return RealPacks(sources, trust_root, assurances)


def _timed_root(signer: Signer, services: TimedServices) -> str:
    """The trust root naming the log key, the TSA's root and both witnesses (quorum 2)."""
    return TrustRoot.for_log(ORIGIN, signer.public.to_pem(), timestamp_authorities=[(TSA_NAME, [services.tsa_root_pem])],
                             witnesses=[(w.name, pem) for w, pem in zip(services.witnesses, services.witness_pems,
                                                                        strict=True)],
                             quorum=len(services.witnesses)).to_json()


def _extras(world: World, services: TimedServices, collector: WitnessCollector, older: int) -> TimedExtras:
    """Cosign the newest checkpoint, check every receipt is there, and gather what the mutations need."""
    cosigned = collector.run_once()
    latest = world.log.latest_checkpoint()
    assert latest is not None
    size = latest.checkpoint.tree_size
    assert set(cosigned.values()) == {size}, f"the witnesses cosigned {cosigned}, want size {size}"
    old = [r for r in world.log.anchor_receipts_covering(older) if r["backend"] in ("rfc3161", "witness")]
    assert {(r["backend"], r["tree_size"]) for r in old} == {("rfc3161", older), ("witness", older)}, old
    text = world.log.checkpoint_at(older)
    assert text is not None
    token = base64.b64encode(untrusted_token(services.scratch / "other-tsa", latest.text.encode())).decode()
    return TimedExtras(older_token=next(r["token"] for r in old if r["backend"] == "rfc3161"),
                       older_lines=tuple(r["checkpoint"][len(text.text):] for r in old if r["backend"] == "witness"),
                       untrusted_token=token, stranger=services.stranger)
