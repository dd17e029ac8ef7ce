"""Building packs from a real log (tests.vectors.pack_world): scope, checkpoint choice, media, progress,
determinism, and the refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_api.services.errors import NotFound
from evidence_api.services.pack_files import pack_files
from evidence_api.services.pack_report import ReportRenderer
from evidence_api.services.pack_zip import write_pack_zip
from tests.vectors.pack_world import ORIGIN, TENANT, World, open_world, permit_story
from verifier.pack import verify_pack
from verifier.pack_zip import read_pack_zip
from verifier.trust import TrustRoot


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with open_world(tmp_path) as world:
        yield world


def _root(world: World) -> TrustRoot:
    return TrustRoot.for_log(ORIGIN, world.log.signer.public.to_pem())


def test_pack_of_permit_holds_its_chain_media_and_anchor(world: World) -> None:
    permit_story(world, "HW-1", keyframes=2)
    permit_story(world, "HW-2", keyframes=1, deleted=False)
    world.settle()
    stages: list[tuple[str, int, int]] = []
    built = world.builder.build(TENANT, {"kind": "permit", "permit": "HW-1"},
                                progress=lambda *step: stages.append(step))
    report = verify_pack(built.data, trust_root=_root(world))
    assert report.counts == {"events": 13, "payloads": 13, "media present": 2, "media deleted": 1, "actor keys": 4}
    assert [a.kind for a in report.anchors] == ["local"] and report.anchors[0].status == "verified"
    assert stages[0] == ("events", 0, 13) and ("events", 13, 13) in stages and stages[-1] == ("sign", 1, 1)
    names = {e.path for e in read_pack_zip(built.data)}
    assert "media/cam1-hw-1/1.jpg" in names and not any("vid-hw-1" in n for n in names)


def test_pack_pinned_to_older_checkpoint_links_the_later_anchor(world: World) -> None:
    permit_story(world, "HW-1")
    world.checkpoint()
    pinned = world.log.tree_size
    permit_story(world, "HW-2")
    world.settle()
    built = world.builder.build(TENANT, {"kind": "permit", "permit": "HW-1"}, tree_size=pinned)
    names = {e.path for e in read_pack_zip(built.data)}
    assert {f"checkpoints/{pinned}.txt", f"checkpoints/{world.log.tree_size}.txt"} <= names
    assert verify_pack(built.data, trust_root=_root(world)).tree_size == pinned


def test_pack_refusals(world: World) -> None:
    with pytest.raises(NotFound, match="no logged event in scope"):
        world.builder.build(TENANT, {"kind": "permit", "permit": "NOPE"})
    permit_story(world, "HW-1")
    world.settle()
    with pytest.raises(NotFound, match="no checkpoint of tree size 999"):
        world.builder.build(TENANT, {"kind": "permit", "permit": "HW-1"}, tree_size=999)
    world.media.clear()
    with pytest.raises(NotFound, match="is logged but not in the store"):
        world.builder.build(TENANT, {"kind": "permit", "permit": "HW-1"})


def test_pack_files_are_deterministic_for_the_same_inputs(world: World) -> None:
    permit_story(world, "HW-1")
    world.settle()
    inputs = world.builder.build(TENANT, {"kind": "permit", "permit": "HW-1"}).inputs
    render = ReportRenderer(confirm_base="https://tiezheng.example", pdf=False)

    def build() -> bytes:
        files = pack_files(inputs, log_key_fingerprint="ab" * 32, sign=lambda message: "c2lnbmF0dXJl",
                           render=render, verify_html=b"<html></html>")
        return write_pack_zip(files)

    assert build() == build()
