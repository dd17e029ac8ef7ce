"""A bounded fuzz of ``tiezheng verify``: mutated bundles and trust roots exit 0, 1 or 2, never a traceback.

Every hostile value replaces every kind of field (hypothesis picks the path), bytes are flipped, cut and
inserted, and the command prints text or JSON. A mutated bundle that still verifies must mean the same
evidence (only its anchors or its payload may have been withheld). The unbounded runs behind this found nothing more.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from verifier_testkit import (
    DELETE,
    HOSTILE,
    BundleParts,
    KeyPair,
    make_bundle,
    replaced,
    trust_root_json,
    value_paths,
)

from verifier.cli import EXIT_INVALID, EXIT_UNUSABLE, EXIT_VALID, verify_command
from verifier.errors import MalformedInput
from verifier.trust import TrustRoot

_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def bundles(log_key: KeyPair, actor_key: KeyPair) -> list[BundleParts]:
    return [make_bundle(log_key, actor_key), make_bundle(log_key, actor_key, batch=True, key_id="det-1#1")]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, log_key: KeyPair) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "root.json").write_bytes(trust_root_json(log_key))
    return folder / "root.json", folder / "bundle.json"


def _run(files: tuple[Path, Path], data: bytes, *, json_output: bool) -> int:
    root, path = files
    path.write_bytes(data)
    return verify_command(str(path), trust_root=str(root), json_output=json_output, verbose=False)


def _same_evidence(data: bytes, original: dict[str, Any]) -> bool:
    withheld = {"anchors": [], "payload": None}
    return bool({**json.loads(data), **withheld} == {**original, **withheld})


@_SETTINGS
@given(st.data())
def test_verify_mutated_field_exits_0_1_or_2(
    bundles: list[BundleParts], files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(bundles)).bundle
    path = data.draw(st.sampled_from(value_paths(original)), label="path")
    new = data.draw(st.sampled_from([*HOSTILE, DELETE]), label="value")
    mutated = json.dumps(replaced(original, path, new)).encode()
    code = _run(files, mutated, json_output=data.draw(st.booleans()))
    capsys.readouterr()
    assert code in (EXIT_INVALID, EXIT_UNUSABLE) or (code == EXIT_VALID and _same_evidence(mutated, original))


@_SETTINGS
@given(st.data())
def test_verify_mutated_bytes_exits_0_1_or_2(
    bundles: list[BundleParts], files: tuple[Path, Path], capsys: pytest.CaptureFixture[str], data: st.DataObject
) -> None:
    original = data.draw(st.sampled_from(bundles)).bundle
    changed = bytearray(json.dumps(original).encode())
    at = data.draw(st.integers(0, len(changed) - 1), label="at")
    cut = data.draw(st.integers(0, 40), label="cut")
    changed[at : at + cut] = data.draw(st.binary(max_size=8), label="insert")
    code = _run(files, bytes(changed), json_output=data.draw(st.booleans()))
    capsys.readouterr()
    assert code in (EXIT_INVALID, EXIT_UNUSABLE) or (code == EXIT_VALID and _same_evidence(bytes(changed), original))


@_SETTINGS
@given(st.data())
def test_trust_root_mutated_is_refused_cleanly(log_key: KeyPair, data: st.DataObject) -> None:
    original = json.loads(
        trust_root_json(
            log_key,
            regulator_chains=[{"chain_id": 1, "contract": "0x" + "00" * 20, "operators": ["0x" + "01" * 20]}],
            witnesses={"quorum": 1, "keys": [{"name": "w1", "public_key": log_key.pem}]},
        )
    )
    path = data.draw(st.sampled_from(value_paths(original)), label="path")
    mutated = replaced(original, path, data.draw(st.sampled_from([*HOSTILE, DELETE]), label="value"))
    try:
        TrustRoot.from_bytes(json.dumps(mutated).encode())
    except MalformedInput:
        return
