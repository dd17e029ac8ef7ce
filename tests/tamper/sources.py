"""Real packs to tamper with: one world, three scopes (a permit pinned to an older checkpoint with a later
anchor, a permit at its anchored checkpoint, a worker's history), optionally the captured two-chain pack
(Fabric and EVM receipts), and the keys the mutations need."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.sm import Signer, SM2PrivateKey
from tests.tamper.chain import chain_source, merged_trust_root
from tests.tamper.packs import PackSource
from tests.vectors.pack_world import ORIGIN, TENANT, World, open_world, permit_story
from verifier.trust import TrustRoot

__all__ = ["RealPacks", "build_real_packs"]


@dataclass(frozen=True)
class RealPacks:
    """The sources, the trust root that accepts them (as JSON text) and the parsed trust root."""

    sources: list[PackSource]
    trust_root_json: str

    @property
    def trust_root(self) -> TrustRoot:
        """The parsed trust root naming the world's log key."""
        return TrustRoot.from_bytes(self.trust_root_json.encode())


def _worker_story(world: World) -> None:
    world.log_events([world.item("svc-certs", kind, {"n": n, "category": "焊接与热切割作业"}, worker="w-zhang",
                                 certificate=f"T-{n}") for n, kind in enumerate(
        ["certificate.issued", "certificate.reviewed", "certificate.warning", "certificate.renewed"])])


def build_real_packs(root: Path, *, keyframes: int = 2, pdf: bool = False, small_viewer: bool = False,
                     chain: bool = False) -> RealPacks:
    """Build the three packs in a fresh world under ``root`` (``small_viewer``: a placeholder verify.html);
    ``chain`` adds the captured two-chain pack (Fabric and EVM receipts) and its chains to the trust root."""
    with open_world(root, pdf=pdf, small_viewer=small_viewer) as world:
        world.log_events([world.item("liu.yang", "permit.drafted", {"step": "draft"}, permit="HW-0001")])
        world.checkpoint()
        older = world.log.latest_checkpoint()
        assert older is not None
        permit_story(world, "HW-0001", keyframes=keyframes)
        world.checkpoint()
        pinned = world.log.latest_checkpoint()
        assert pinned is not None
        permit_story(world, "HW-0002", keyframes=1, deleted=False)
        _worker_story(world)
        world.settle()
        packs = [world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0001"},
                                     tree_size=pinned.checkpoint.tree_size),
                 world.builder.build(TENANT, {"kind": "permit", "permit": "HW-0002"}),
                 world.builder.build(TENANT, {"kind": "worker", "worker": "w-zhang"})]
        stranger = Signer.from_private_key(SM2PrivateKey.generate())
        signer = world.log.signer
        sources = [PackSource(name, pack.data, signer, stranger, (older.checkpoint.tree_size, older.text))
                   for name, pack in zip(("permit-pinned", "permit", "worker"), packs, strict=True)]
        trust_root = TrustRoot.for_log(ORIGIN, signer.public.to_pem()).to_json()
        if chain:
            two_chain, chain_root = chain_source()
            sources.append(two_chain)
            trust_root = merged_trust_root(trust_root, chain_root)
        return RealPacks(sources, trust_root)
