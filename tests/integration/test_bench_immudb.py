"""The immudb side of the intake benchmark works: network/nodes/immudb.sh builds and starts a real immudb,
the Go driver writes and verifies through immudb's own client, and ``bench.intake --against immudb``
prints every figure of issue 12 (with tiny sizes: this checks the harness, never a speed)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.immudb import SCRIPT, ImmudbNode, ImmudbUnavailable
from tests.conftest import ROOT, _missing_service

pytestmark = pytest.mark.immudb


@pytest.fixture(scope="session")
def immudb_node(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ImmudbNode]:
    """An immudb of this session's own (built into .tools/ if needed, ≈80 s cold) on a free port."""
    if shutil.which("go") is None:
        _missing_service(pytestconfig, "go is not installed: network/nodes/immudb.sh builds immudb from source")
    node = ImmudbNode.fresh(tmp_path_factory.mktemp("immudb-state"))
    try:
        node.up()
    except ImmudbUnavailable as exc:
        _missing_service(pytestconfig, f"immudb could not be built or started with {SCRIPT}: {exc}")
    yield node
    node.down()


def test_driver_writes_and_verifies_every_transaction(immudb_node: ImmudbNode) -> None:
    figures = immudb_node.write("harness1", entries=1_050, batch=100, clients=3, value_size=700)

    assert figures["entries"] == 1_050 and figures["value_size"] == 700
    assert figures["verified"] is True
    assert figures["verified_txs"] == math.ceil(1_050 / 100)  # one VerifiedTxByID per SetAll transaction
    assert figures["entries_per_s"] > 0
    assert figures["bytes_on_disk"] >= 1_050 * 700  # the values are random: nothing compresses them away


def test_driver_refuses_an_existing_database_with_the_reason(immudb_node: ImmudbNode) -> None:
    immudb_node.write("harness2", entries=10, batch=10, clients=1, value_size=10, verify=False)

    with pytest.raises(ImmudbUnavailable, match="create database harness2"):
        immudb_node.write("harness2", entries=10, batch=10, clients=1, value_size=10)


def test_driver_names_the_port_when_immudb_is_not_there(immudb_node: ImmudbNode, tmp_path: Path) -> None:
    nobody = ImmudbNode.fresh(tmp_path)  # a free port with no server behind it

    with pytest.raises(ImmudbUnavailable, match=f"port {nobody.port}"):
        nobody.write("none", entries=10, batch=10, clients=1, value_size=10)


@pytest.mark.slow
def test_against_immudb_prints_every_figure_of_issue_12(immudb_node: ImmudbNode, tmp_path: Path) -> None:
    command = [sys.executable, "-m", "bench.intake", "--against", "immudb", "--quick", "--rounds", "1",
               "--batch-events", "1000", "--batch-size", "250", "--clients", "2", "--single-events", "60",
               "--single-batch", "20", "--proof-leaves", "3000", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1200, check=False,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})

    assert done.returncode == 0, done.stderr[-3000:]
    assert "== issue 12 figures: 1 paired rounds of 1,000 events" in done.stdout
    assert "[load " in done.stdout
    summary = json.loads((tmp_path / "intake-immudb.json").read_text())
    names = [row[0] for row in summary["rows"]]
    assert names[0] == "batch-signed ÷ immudb SetAll+VerifiedTxByID (paired)"
    assert any(name.startswith("single-signed ÷ SM2-verify bound") for name in names)
    assert any(name.startswith("intake at 3,000 leaves ÷ empty log") for name in names)
    assert any(name.startswith("permit action p50") for name in names)
    (verified,) = summary["immudb_verified"]
    assert verified["entries"] == 1000 and verified["verified_txs"] == 4
    assert verified["value_size"] == summary["value_size"] > 300  # one of our stored events, not a guess
    (ours,) = summary["ours"]
    assert ours["rate"] > 0 and ours["lag"] and ours["bytes_per_event"] > 0
