"""``tiezheng evm deploy`` on a real anvil: the contract goes on chain and the printed trust-root entry is
one the verifier reads; a bad key file or an unreachable node is a clear exit 2 or 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from eth_account import Account

from evidence_api.evm_cli import deploy_command
from ledger.evm import Artifact, Registry
from tests.evm_support import operator_key_file
from verifier.trust import TrustRoot

pytestmark = pytest.mark.evm


@pytest.fixture
def key_file(tmp_path: Path, evm_url: str) -> Path:
    return operator_key_file(tmp_path, evm_url)[0]


def _artifact(tmp_path: Path, registry_artifact: Artifact) -> Path:
    path = tmp_path / "EvidenceRegistry.json"
    path.write_text(json.dumps({"abi": registry_artifact.abi, "bytecode": registry_artifact.bytecode,
                                "compiler": registry_artifact.compiler, "evm_version": registry_artifact.evm_version}))
    return path


def test_evm_deploy_prints_address_trust_root_entry_and_settings(
        evm_url: str, key_file: Path, tmp_path: Path, registry_artifact: Artifact,
        capsys: pytest.CaptureFixture[str]) -> None:
    extra = "0x" + "ab" * 20
    code = deploy_command(rpc=evm_url, operator_key=key_file, operators=[Account.from_key(
        key_file.read_text().strip()).address, extra], artifact=_artifact(tmp_path, registry_artifact), timeout=10)

    out = capsys.readouterr().out
    assert code == 0, out
    contract = re.search(r"registry deployed at (0x[0-9a-f]{40}) on chain 31337", out)
    assert contract is not None
    snippet = json.loads(out.split("trust-root.json:\n", 1)[1].split("\n\nservice:", 1)[0])
    root = TrustRoot.from_bytes(json.dumps({"v": 1, "type": "tiezheng.trust-root/v1", "logs": [], **snippet}).encode())
    (chain,) = root.regulator_chains
    assert chain.contract == contract.group(1) and extra in chain.operators and len(chain.operators) == 2
    assert Registry(evm_url, chain.contract).operators() == list(chain.operators)
    assert "TIEZHENG_ANCHOR_BACKENDS=local,evm" in out and f"TIEZHENG_EVM_CONTRACT={chain.contract}" in out


def test_evm_deploy_refuses_a_readable_key_file(evm_url: str, key_file: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    key_file.chmod(0o644)
    assert deploy_command(rpc=evm_url, operator_key=key_file, operators=[], artifact=None, timeout=10) == 2
    assert f"operator key {key_file} is readable by others (mode 644); chmod 600" in capsys.readouterr().out


def test_evm_deploy_missing_artifact_says_how_to_build_it(evm_url: str, key_file: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = deploy_command(rpc=evm_url, operator_key=key_file, operators=[], artifact=tmp_path / "none.json",
                          timeout=10)
    assert code == 2 and "build it with `bash contracts/install.sh`" in capsys.readouterr().out


def test_evm_deploy_unreachable_node_is_exit_1(key_file: Path, tmp_path: Path, registry_artifact: Artifact,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    code = deploy_command(rpc="http://127.0.0.1:9", operator_key=key_file, operators=[],
                          artifact=_artifact(tmp_path, registry_artifact), timeout=2)
    assert code == 1 and "FAILED: the EVM node does not answer" in capsys.readouterr().out
