"""The verifier's keyframe-chain check, on chains the camera helper signs: intact passes; a missing,
inserted, reordered or altered keyframe, another recording's keyframe, a gap over 5 s and a picture that
is not the signed one are each caught with their exact reason. The two implementations of the link agree."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ingest.camera import CameraSession
from ingest.media.keyframe_chain import chain_link
from ingest.media.keyframes import Keyframe
from tests.helpers import TENANT, make_actor
from verifier.errors import MalformedInput
from verifier.keyframes import KeyframeChainBroken, _link, verify_keyframe_chain, verify_keyframe_images


def _chain(count: int = 5, step_ms: int = 5000) -> tuple[list[dict[str, Any]], list[bytes]]:
    session = CameraSession(make_actor("cam-7", kind="device"), TENANT, "rec-2026-11-23-0930")
    frames = [Keyframe(n, n * step_ms, f"jpeg {n}".encode(), "key") for n in range(count)]
    signed = [session.sign(f, captured_at="2026-11-23T09:30:00Z") for f in frames]
    return [s.item["payload"] for s in signed], [f.jpeg for f in frames]


def test_intact_chain_passes() -> None:
    payloads, images = _chain()
    verify_keyframe_chain(payloads)
    verify_keyframe_images(payloads, images)


def test_link_is_the_same_on_both_sides() -> None:
    args = ("rec-1", 3, 15000, bytes(range(32)), bytes(32))
    assert _link(*args) == chain_link(*args)
    assert _link("rec-1", 0, 0, bytes(32), None).hex().startswith("68a63f8dab0902db")  # the docstring vector


def test_missing_keyframe() -> None:
    payloads, _ = _chain()
    del payloads[2]
    with pytest.raises(KeyframeChainBroken, match="keyframe at position 2 has index 3, want 2: a keyframe is missing"):
        verify_keyframe_chain(payloads)


def test_inserted_keyframe() -> None:
    payloads, _ = _chain()
    payloads.insert(3, copy.deepcopy(payloads[2]))
    with pytest.raises(KeyframeChainBroken, match="position 3 has index 2, want 3: a keyframe is inserted or repeated"):
        verify_keyframe_chain(payloads)


def test_forged_insertion_with_renumbered_indexes_breaks_the_links() -> None:
    payloads, _ = _chain()
    forged = copy.deepcopy(payloads[:3])
    for n, p in enumerate(payloads[2:], start=3):
        p = copy.deepcopy(p)
        p["index"] = n
        forged.append(p)
    with pytest.raises(KeyframeChainBroken, match="keyframe 3: prev is .*, want the link of keyframe 2 .*removed, inserted"):
        verify_keyframe_chain(forged)


def test_reordered_keyframes() -> None:
    payloads, _ = _chain()
    payloads[1], payloads[2] = payloads[2], payloads[1]
    with pytest.raises(KeyframeChainBroken, match="keyframe at position 1 has index 2, want 1"):
        verify_keyframe_chain(payloads)


def test_altered_time_or_hash() -> None:
    payloads, _ = _chain()
    payloads[4]["t_ms"] += 1
    with pytest.raises(KeyframeChainBroken, match="keyframe 4: chain link is .*: a field was altered"):
        verify_keyframe_chain(payloads)
    payloads, images = _chain()
    images[1] = b"another picture"
    with pytest.raises(KeyframeChainBroken, match="keyframe 1: the picture's SM3 is [0-9a-f]{64}, the camera signed"):
        verify_keyframe_images(payloads, images)


def test_gap_over_five_seconds() -> None:
    payloads, _ = _chain(step_ms=5001)
    with pytest.raises(KeyframeChainBroken, match=r"keyframes 0 and 1 are 5.001 s apart; want more than 0 and at most 5 s"):
        verify_keyframe_chain(payloads)


def test_another_recordings_keyframe() -> None:
    payloads, _ = _chain()
    payloads[1]["recording"] = "rec-other"
    with pytest.raises(KeyframeChainBroken, match="position 1 is of recording 'rec-other', want 'rec-2026-11-23-0930'"):
        verify_keyframe_chain(payloads)


@pytest.mark.parametrize(("change", "message"), [
    ({"index": "1"}, "index must be a int"), ({"sm3": "XY"}, "sm3 must be 64 lower-case hex"),
    ({"prev": 7}, "prev must be null or 64"), ({"t_ms": -1}, "out of range"), ({"index": True}, "index must be a int"),
])
def test_malformed_payloads_are_refused_not_crashed(change: dict[str, Any], message: str) -> None:
    payloads, _ = _chain(2)
    payloads[1].update(change)
    with pytest.raises(MalformedInput, match=message):
        verify_keyframe_chain(payloads)
    with pytest.raises(MalformedInput, match="no keyframes"):
        verify_keyframe_chain([])
