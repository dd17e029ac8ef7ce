"""``tiezheng demo --dual-chain``: the demo's day anchored on the Fabric network and on a regulator chain of
its own, and its regulator digest verified ``dual-chain``.

The regulator chain is an anvil started with ``network/nodes/anvil.sh`` on a free port (state under the
demo's data folder), a fresh operator account funded on it, and the registry deployed with ``tiezheng evm
deploy``. After the permit's day the service stops; it is started again with its clock set to 02:05 the
next plant morning (the demo says so), when the daily job has the day's digest: signed, its tree anchored on
both chains, its hash recorded on the registry. It is saved and checked with ``tiezheng digest verify``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from evidence_api.config import Settings
from ledger.clock import Clock
from ledger.dayend import day_end

__all__ = ["DemoChain", "ShiftedClock", "next_morning_digest"]

_ROOT = Path(__file__).resolve().parent.parent
_ANVIL = _ROOT / "network" / "nodes" / "anvil.sh"
_console = Console()
_DEPLOYED = re.compile(r"registry deployed at (0x[0-9a-f]{40}) on chain (\d+) \(block (\d+),")


class ShiftedClock(Clock):
    """The system clock moved by ``offset`` (the demo's "next morning"); ticks as the system clock does."""

    def __init__(self, tz: Any, offset: timedelta) -> None:
        super().__init__(tz)
        self.offset = offset

    def now(self) -> datetime:
        """The system clock's instant plus the offset."""
        return super().now() + self.offset


@dataclass
class DemoChain:
    """The demo's regulator chain: its anvil (``env`` for anvil.sh), the operator key file, the registry."""

    env: dict[str, str]
    url: str
    key_file: Path
    contract: str
    trust_entry: dict[str, Any]
    from_block: int

    @classmethod
    def start(cls, data_dir: Path) -> DemoChain:
        """Start anvil, fund a fresh operator key, deploy the registry; raises ``RuntimeError`` on failure."""
        from evidence_api.demo import _free_port

        port = _free_port()
        env = {**os.environ, "TIEZHENG_STATE": str((data_dir / "services").resolve()), "ANVIL_PORT": str(port)}
        _run(["bash", str(_ANVIL), "up"], env, "anvil.sh up")
        url = f"http://127.0.0.1:{port}"
        key_file = _funded_key(url, data_dir / "keys" / "evm-operator.key")
        deploy = [sys.executable, "-m", "evidence_api.cli", "evm", "deploy", "--rpc", url, "--operator-key", str(key_file)]
        _console.print(f"[bold]Regulator chain[/]: anvil on {url}; deploying the registry: [cyan]tiezheng evm deploy "
                       f"--rpc {url} --operator-key {key_file}[/]")
        found = _DEPLOYED.search(_run(deploy, env, "tiezheng evm deploy", show=True))
        if found is None:
            raise RuntimeError("tiezheng evm deploy printed no contract address")
        contract, chain_id, block = found.group(1), int(found.group(2)), int(found.group(3))
        operator = _address(key_file)
        entry = {"chain_id": chain_id, "contract": contract, "operators": [operator]}
        return cls(env, url, key_file, contract, entry, block)

    def settings(self) -> dict[str, Any]:
        """The service settings that anchor on this chain too (with the Fabric backend)."""
        return {"anchor_backends": "local,fabric,evm", "evm_rpc_url": self.url, "evm_contract": self.contract,
                "evm_operator_key": self.key_file, "evm_from_block": self.from_block}

    def stop(self) -> None:
        """Stop the demo's anvil (its state is kept under the data folder)."""
        subprocess.run(["bash", str(_ANVIL), "down"], env=self.env, capture_output=True, check=False, timeout=60)


def next_morning_digest(settings: Settings, admin_token: str, tenant: str, root_file: Path, chain: DemoChain) -> int:
    """Restart the service at 02:05 the next plant morning, fetch the day's digest once anchored on both
    chains and recorded on the registry, save it and verify it; 0 when it verifies ``dual-chain``."""
    from evidence_api.demo import _Server
    from verifier.digest_cli import digest_verify_command

    tz = Clock(settings.plant_timezone).tz
    day = Clock(tz).today()
    offset = day_end(day, tz) + timedelta(hours=2, minutes=5) - Clock(tz).now()
    _console.print(f"[bold]The next morning[/]: the plant day {day} has ended; the service is started again with its "
                   f"clock set {offset.total_seconds() / 3600:.1f} h ahead, to 02:05 plant time, when the daily job "
                   "builds yesterday's regulator digest")
    server = _Server(settings, clock=ShiftedClock(tz, offset))
    base = server.start()
    try:
        with httpx.Client(base_url=base, timeout=60) as http:
            token = http.post("/v1/tokens", json={"tenant": tenant, "role": "regulator", "label": "regulator"},
                              headers={"Authorization": f"Bearer {admin_token}"}).raise_for_status().json()["token"]
            view = _settled(http, token, day.isoformat())
    finally:
        server.stop()
        chain.stop()
    path = root_file.parent / f"digest-{day.isoformat()}.json"
    path.write_text(json.dumps(view, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    _console.print(f"[bold]Regulator digest[/] of {day} (GET /v1/regulator/digests?date={day}, a regulator token) saved "
                   f"to {path}: counts and hashes only; its tree anchored on Fabric and on the registry, its hash "
                   "recorded there. Verifying it offline:")
    code = digest_verify_command(str(path), trust_root=str(root_file), previous=None, json_output=False, verbose=False)
    _console.print(f"Try it yourself: [cyan]tiezheng digest verify {path} --trust-root {root_file}[/] (add "
                   f"[cyan]--evm URL[/] to confirm the blocks on a node of the regulator chain)")
    return code if code != 0 else _require_dual_chain(path, root_file)


def _settled(http: httpx.Client, token: str, day: str) -> dict[str, Any]:
    """The digest of ``day`` once every anchor backend holds its tree and the registry its hash."""
    deadline = time.monotonic() + 180
    while True:
        resp = http.get("/v1/regulator/digests", params={"date": day}, headers={"Authorization": f"Bearer {token}"})
        if resp.status_code == 200:
            view: dict[str, Any] = resp.json()["digests"][0]
            if all(a["status"] == "anchored" for a in view["anchors"]) and view["registry"]["status"] == "recorded":
                return view
        elif resp.status_code != 409:  # 409: the projection is catching up
            resp.raise_for_status()
        if time.monotonic() > deadline:
            raise RuntimeError(f"the digest of {day} was not anchored on both chains and recorded in 180 s; is the "
                               "Fabric network up? (tiezheng network status)")
        time.sleep(0.5)


def _require_dual_chain(path: Path, root_file: Path) -> int:
    from verifier.digest import DigestFile, verify_digest
    from verifier.trust import TrustRoot

    report = verify_digest(DigestFile.from_bytes(path.read_bytes()), trust_root=TrustRoot.from_file(root_file))
    return 0 if report.assurance == "dual-chain" and report.registry == "verified" else 1


def trust_regulator_chain(root_file: Path, entry: dict[str, Any]) -> None:
    """Add the demo registry's ``regulator_chains`` entry to the trust root at ``root_file``."""
    from verifier.trust import TrustRoot

    obj = json.loads(root_file.read_text(encoding="utf-8"))
    obj["regulator_chains"] = [entry]
    root_file.write_text(TrustRoot.from_bytes(json.dumps(obj).encode()).to_json(), encoding="utf-8")


def _funded_key(url: str, path: Path) -> Path:
    """A fresh secp256k1 key in ``path`` (mode 0600), its account credited 10 ether on the dev node."""
    from eth_account import Account

    account = Account.create(secrets.token_hex(16))
    body = {"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance", "params": [account.address, hex(10**19)]}
    httpx.post(url, json=body, timeout=30).raise_for_status()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(account.key.hex() + "\n", encoding="utf-8")
    return path


def _address(key_file: Path) -> str:
    from eth_account import Account

    return str(Account.from_key(key_file.read_text(encoding="utf-8").strip()).address).lower()


def _run(cmd: list[str], env: dict[str, str], what: str, *, show: bool = False) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, timeout=300)
    if show:
        _console.print(done.stdout.strip(), markup=False, highlight=False, soft_wrap=True)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed: {(done.stderr or done.stdout).strip()[-2000:]}")
    return done.stdout
