"""``tiezheng digest verify`` on digests of a service anchoring on the local journal, the shared Fabric network
and a real anvil registry: ``dual-chain`` when both chain receipts verify for the digest's tree; every
tampered receipt, a Fabric receipt of another tree, an EVM receipt of another log and an untrusted registry
refused with the exact reason; ``--evm`` and ``--fabric`` confirm the blocks on live nodes."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.chain_digest_support import NEXT, ChainRun, chain_run
from tests.api.digest_support import DAY
from tests.integration.fabric_cli import PeerCLI, network_cli, network_json_path
from verifier.digest_cli import digest_verify_command

pytestmark = [pytest.mark.fabric, pytest.mark.evm]
__all__ = ["chain_run", "cli"]  # fixtures


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Any:
    """The running Fabric network (see ``fabric_cli.network_cli``)."""
    yield from network_cli(pytestconfig)


def run(path: Path, root: Path, *, previous: Path | None = None, **online: str) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = digest_verify_command(str(path), trust_root=str(root), previous=str(previous) if previous else None,
                                     json_output=True, verbose=False, **online)
    return code, json.loads(out.getvalue())


def changed(run_: ChainRun, day: str, change: Callable[[dict[str, Any]], None], name: str = "changed") -> Path:
    data = json.loads(run_.files[day].read_text())
    change(data)
    out = run_.folder / f"{name}.json"
    out.write_text(json.dumps(data))
    return out


def receipt(data: dict[str, Any], backend: str) -> dict[str, Any]:
    found: dict[str, Any] = next(a for a in data["anchors"] if a["backend"] == backend)["receipt"]
    return found


def root_without(run_: ChainRun, section: str, value: Any) -> Path:
    root = json.loads(run_.trust_root.read_text())
    root[section] = value
    out = run_.folder / f"root-without-{section}.json"
    out.write_text(json.dumps(root))
    return out


def test_digest_of_both_chains_verifies_dual_chain(chain_run: ChainRun) -> None:
    code, report = run(chain_run.files[NEXT], chain_run.trust_root, previous=chain_run.files[DAY])

    assert code == 0, report
    assert report["assurance"] == "dual-chain" and report["previous_checked"]
    assert report["anchors"] == {"local": "verified", "fabric": "verified", "evm": "verified"}
    assert "endorsed by Org1MSP, Org2MSP" in report["details"]["fabric"]
    assert "not checked offline: that the block is on the regulator chain" in report["details"]["evm"]
    assert report["registry"] == "verified" and "recordDigest tx 0x" in report["details"]["registry"]


def test_digest_is_fabric_or_signed_when_the_trust_root_names_one_chain(chain_run: ChainRun) -> None:
    code, fabric_only = run(chain_run.files[DAY], root_without(chain_run, "regulator_chains", []))
    assert code == 0 and fabric_only["assurance"] == "fabric" and fabric_only["anchors"]["evm"] == "unchecked"
    assert "evm: the trust root names no regulator chain; its receipt was not relied on" in fabric_only["notes"]

    code, evm_only = run(chain_run.files[DAY], root_without(chain_run, "fabric", None))
    assert code == 0 and evm_only["assurance"] == "signed" and evm_only["anchors"]["evm"] == "verified"


def _flip_block_byte(data: dict[str, Any]) -> None:
    fabric = receipt(data, "fabric")
    block = bytearray(base64.b64decode(fabric["block"]))
    block[len(block) // 2] ^= 0x01
    fabric["block"] = base64.b64encode(bytes(block)).decode()


def _validation(data: dict[str, Any]) -> None:
    receipt(data, "fabric")["validation_code"] = "MVCC_READ_CONFLICT"


def _tx_id(data: dict[str, Any]) -> None:
    receipt(data, "fabric")["tx_id"] = "ab" * 32


def _header(data: dict[str, Any]) -> None:
    header = receipt(data, "evm")["block_header"]
    header["gasUsed"] = hex(int(header["gasUsed"], 16) + 1)


def _receipts(data: dict[str, Any]) -> None:
    block = receipt(data, "evm")["receipts"][0]
    block["cumulativeGasUsed"] = hex(int(block["cumulativeGasUsed"], 16) + 1)


def _log(data: dict[str, Any]) -> None:
    log = receipt(data, "evm")["log"]
    log["data"] = log["data"][:-2] + ("00" if log["data"][-2:] != "00" else "01")


def _transactions(data: dict[str, Any]) -> None:
    evm = receipt(data, "evm")
    tx = evm["transactions"][evm["transaction_index"]]
    evm["transactions"][evm["transaction_index"]] = tx[:-2] + ("00" if tx[-2:] != "00" else "01")


def _sender(data: dict[str, Any]) -> None:
    receipt(data, "evm")["from"] = "0x" + "11" * 20


def _origin(data: dict[str, Any]) -> None:
    receipt(data, "evm")["origin"] = "tiezheng.test/another-log"


def _origin_hash(data: dict[str, Any]) -> None:
    receipt(data, "evm")["origin_hash"] = "33" * 32


@pytest.mark.parametrize(("change", "reason"), [
    (_flip_block_byte, r"fabric block \d+ data hash mismatch: calculated [0-9a-f]{64}, header has"),
    (_validation, r"fabric transaction .* is not valid: block validation code 0, receipt says 'MVCC_READ_CONFLICT'"),
    (_tx_id, r"fabric transaction 0 of block \d+ is not the receipt's"),
    (_header, r"evm block header hashes to [0-9a-f]{64}, not the block hash"),
    (_receipts, r"evm block receipts rebuild receiptsRoot [0-9a-f]{64}, the header says"),
    (_log, r"evm log differs from log \d+ of the block's receipts"),
    (_transactions, r"evm block transactions rebuild transactionsRoot"),
    (_sender, r"evm transaction sender 0x1111111111111111111111111111111111111111 is not an operator"),
    (_origin, r"evm anchor origin mismatch: got 'tiezheng.test/another-log'"),
    (_origin_hash, r"evm anchor origin_hash mismatch: got 3333"),
])
def test_digest_with_a_tampered_chain_receipt_is_refused(chain_run: ChainRun, change: Callable[[dict[str, Any]], None],
                                                         reason: str) -> None:
    code, report = run(changed(chain_run, DAY, change), chain_run.trust_root)

    assert code == 1, report
    assert re.search(reason, report["failure"]), report["failure"]


def test_digest_with_a_fabric_receipt_of_another_tree_is_refused(chain_run: ChainRun) -> None:
    other = receipt(json.loads(chain_run.files[NEXT].read_text()), "fabric")

    def swap(data: dict[str, Any]) -> None:
        next(a for a in data["anchors"] if a["backend"] == "fabric")["receipt"] = dict(other)

    code, report = run(changed(chain_run, DAY, swap), chain_run.trust_root)
    assert code == 1 and re.search(r"fabric receipt is of tree size \d+ root [0-9a-f]{64}, not the digest's",
                                   report["failure"]), report

    def relabel(data: dict[str, Any]) -> None:
        swap(data)
        tree = data["digest"]["log"]
        receipt(data, "fabric").update(tree_size=tree["tree_size"], root_hash=tree["root_hash"])

    code, report = run(changed(chain_run, DAY, relabel), chain_run.trust_root)
    assert code == 1 and "fabric write set does not store the receipt's checkpoint" in report["failure"], report


def test_digest_with_an_evm_receipt_of_another_log_is_refused(chain_run: ChainRun) -> None:
    """A real registry write of the digest's very (size, root), but under another log's origin hash."""
    from ledger.evm import origin_hash
    from tests.helpers import wait_until

    data = json.loads(chain_run.files[DAY].read_text())
    tree, registry = data["digest"]["log"], chain_run.registry
    other = tree["origin"] + "/another"
    tx = registry.sign_anchor(chain_run.operator, origin_hash(other), tree["tree_size"],
                              bytes.fromhex(tree["root_hash"]), nonce=registry.nonce(chain_run.operator.address))
    registry.send(tx)
    mined = wait_until(lambda: registry.receipt(tx.tx_hash), timeout=30)
    log_index = int(mined["logs"][0]["logIndex"])
    foreign = {"backend": "evm", "tree_size": tree["tree_size"], "root_hash": tree["root_hash"], "origin": other,
               "origin_hash": origin_hash(other).hex(), **registry.evidence(mined, log_index)}

    def swap(value: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
        def change(digest: dict[str, Any]) -> None:
            next(a for a in digest["anchors"] if a["backend"] == "evm")["receipt"] = value
        return change

    code, report = run(changed(chain_run, DAY, swap(foreign)), chain_run.trust_root)
    assert code == 1 and f"evm anchor origin mismatch: got '{other}'" in report["failure"], report
    relabelled = {**foreign, "origin": tree["origin"], "origin_hash": origin_hash(tree["origin"]).hex()}
    code, report = run(changed(chain_run, DAY, swap(relabelled)), chain_run.trust_root)
    assert code == 1 and "evm log topics mismatch" in report["failure"], report


def test_digest_with_a_registry_record_of_another_digest_is_refused(chain_run: ChainRun) -> None:
    other = json.loads(chain_run.files[DAY].read_text())["registry"]

    def swap(data: dict[str, Any]) -> None:
        data["registry"] = other

    code, report = run(changed(chain_run, NEXT, swap), chain_run.trust_root)
    assert code == 1 and re.search(r"evm digest receipt is for tenant [0-9a-f]{64} on 2026-11-30 digest [0-9a-f]{64}, "
                                   r"want [0-9a-f]{64} on 2026-12-01 digest", report["failure"]), report

    def relabel(data: dict[str, Any]) -> None:
        data["registry"] = json.loads(json.dumps(other))
        data["registry"]["receipt"].update(date=NEXT, digest=data["digest_hash"])

    code, report = run(changed(chain_run, NEXT, relabel), chain_run.trust_root)
    assert code == 1 and "evm log date and digest mismatch: got 20261130" in report["failure"], report


def _registry_header(data: dict[str, Any]) -> None:
    header = data["registry"]["receipt"]["block_header"]
    header["timestamp"] = hex(int(header["timestamp"], 16) + 1)


def _registry_sender(data: dict[str, Any]) -> None:
    data["registry"]["receipt"]["from"] = "0x" + "44" * 20


@pytest.mark.parametrize(("change", "reason"), [
    (_registry_header, r"evm block header hashes to [0-9a-f]{64}, not the block hash"),
    (_registry_sender, r"evm transaction sender 0x4444444444444444444444444444444444444444 is not an operator"),
])
def test_digest_with_a_tampered_registry_record_is_refused(chain_run: ChainRun, change: Callable[[dict[str, Any]], None],
                                                           reason: str) -> None:
    code, report = run(changed(chain_run, DAY, change), chain_run.trust_root)

    assert code == 1 and re.search(reason, report["failure"]), report


def test_digest_of_an_untrusted_registry_is_refused(chain_run: ChainRun) -> None:
    root = json.loads(chain_run.trust_root.read_text())
    root["regulator_chains"][0]["contract"] = "0x" + "22" * 20
    path = chain_run.folder / "other-registry.json"
    path.write_text(json.dumps(root))

    code, report = run(chain_run.files[DAY], path)

    assert code == 1 and "the trust root names no registry 0x" in report["failure"], report


def test_digest_verify_confirms_the_blocks_on_live_nodes(chain_run: ChainRun, evm_url: str) -> None:
    peer = json.loads(network_json_path().read_text())["organizations"][0]["peer_endpoint"]

    code, report = run(chain_run.files[DAY], chain_run.trust_root, evm=evm_url, fabric=peer,
                       fabric_profile=str(network_json_path()))

    assert code == 0, report
    assert any(c.startswith(f"evm anchor: confirmed at {evm_url}: block") for c in report["confirmed"])
    assert any(c.startswith(f"registry record: confirmed at {evm_url}: block") for c in report["confirmed"])
    assert any(c.startswith(f"fabric anchor: peer {peer}") for c in report["confirmed"])
    code, report = run(chain_run.files[DAY], chain_run.trust_root, evm="http://127.0.0.1:1")
    assert code == 2, report
    code, report = run(chain_run.files[DAY], chain_run.trust_root, fabric=peer)
    assert code == 2 and "--fabric needs --fabric-profile" in report["failure"]


def test_cli_digest_verify_prints_dual_chain(chain_run: ChainRun, cli: PeerCLI) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "evidence_api.cli", "digest", "verify", str(chain_run.files[NEXT]),
                           "--trust-root", str(chain_run.trust_root), "--previous", str(chain_run.files[DAY])],
                          check=False, capture_output=True, text=True)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "assurance: dual-chain" in done.stdout and "anchor fabric: verified (fabric tx" in done.stdout


def test_digest_verify_never_crashes_on_mangled_chain_receipts(chain_run: ChainRun) -> None:
    """Every field of the chain receipts and the registry record replaced by junk: a verdict, never a crash."""
    from tests.api.digest_support import paths
    from verifier.digest import DigestFile, verify_digest
    from verifier.errors import VerifierError
    from verifier.trust import TrustRoot

    root = TrustRoot.from_file(chain_run.trust_root)
    original = json.loads(chain_run.files[DAY].read_text())
    chain = [p for p in paths(original) if p[:1] == ("registry",) or (p[:1] == ("anchors",) and len(p) > 3
             and original["anchors"][p[1]]["backend"] in ("fabric", "evm"))]
    assert len(chain) > 100
    accepted = set()
    for path in chain:
        for junk in (None, -1, "x" * 300, {}, [0]):
            data = json.loads(json.dumps(original))
            target = data
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = junk
            try:
                verify_digest(DigestFile.from_bytes(json.dumps(data).encode()), trust_root=root)
                accepted.add(path)
            except VerifierError:
                pass
    # by design: a node without raw transactions serves null (then reported not checked), and the registry
    # record is unsigned (dropping it only lowers what the report shows)
    evm = next(i for i, a in enumerate(original["anchors"]) if a["backend"] == "evm")
    assert accepted == {("anchors", evm, "receipt", "transactions"), ("registry", "receipt", "transactions"),
                        ("registry",)}
