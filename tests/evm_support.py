"""The regulator chain in tests: a real anvil started with ``network/nodes/anvil.sh`` on a free port, the
registry compiled by ``contracts/build.mjs`` at test time, fresh operator accounts funded on the node.

Fixtures (``tests/conftest.py``): ``evm_url`` (session: ``TIEZHENG_TEST_EVM_URL``, or an anvil of the
session's own), ``registry_artifact`` (session), ``operator`` (a fresh funded key), ``registry`` (a fresh
deployment whose only operator is ``operator``).
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

from eth_account import Account
from web3 import Web3

from ledger.evm import Artifact, OperatorKey
from ledger.evm.registry import connect

ROOT = Path(__file__).resolve().parent.parent
ANVIL_SCRIPT = ROOT / "network" / "nodes" / "anvil.sh"
ANVIL_BIN = ROOT / "contracts" / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
SOLC_JS = ROOT / "contracts" / "node_modules" / "solc"
EVM_ENV = "TIEZHENG_TEST_EVM_URL"
INSTALL_HINT = "install the pinned npm tools with: bash contracts/install.sh"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class AnvilNode:
    """One anvil of the project's script, with its own state folder and port (stopped with ``down``)."""

    def __init__(self, state: Path, port: int | None = None) -> None:
        self.state, self.port = state, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def _script(self, action: str) -> str:
        env = {**os.environ, "TIEZHENG_STATE": str(self.state), "ANVIL_PORT": str(self.port)}
        done = subprocess.run(["bash", str(ANVIL_SCRIPT), action], env=env, capture_output=True, text=True,
                              timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"anvil.sh {action} failed: {done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def up(self) -> AnvilNode:
        self._script("up")
        return self

    def down(self) -> None:
        self._script("down")


def compile_registry(out: Path) -> Artifact:
    """Compile contracts/EvidenceRegistry.sol with the pinned solc-js into ``out``, and load it."""
    subprocess.run(["node", str(ROOT / "contracts" / "build.mjs"), str(out)], check=True, capture_output=True,
                   timeout=300)
    return Artifact.load(out / "EvidenceRegistry.json")


def funded_operator(url: str) -> OperatorKey:
    """A fresh secp256k1 key whose account anvil credits with 1000 ether (``anvil_setBalance``)."""
    account = Account.create()
    w3 = connect(url)
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    assert w3.eth.get_balance(Web3.to_checksum_address(account.address)) == 10**21
    return OperatorKey.from_hex(account.key.hex())


def operator_key_file(folder: Path, url: str) -> tuple[Path, OperatorKey]:
    """A fresh funded operator key saved as `tiezheng evm deploy` and the service take it (``operator.key``
    in ``folder``, mode 0600), and the key."""
    account = Account.create()
    connect(url).provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    path = folder / "operator.key"
    path.touch(mode=0o600)
    path.write_text(account.key.hex() + "\n")
    return path, OperatorKey.from_file(path)


def set_automine(url: str, enabled: bool) -> None:
    """Switch anvil's mining of each transaction on arrival on or off."""
    connect(url).provider.make_request("evm_setAutomine", [enabled])  # type: ignore[arg-type]


def mine(url: str, blocks: int = 1) -> None:
    """Mine ``blocks`` blocks now (anvil_mine)."""
    connect(url).provider.make_request("anvil_mine", [hex(blocks)])  # type: ignore[arg-type]
