"""Drive the native Fabric network (network/fabric/up.sh) with the built ``peer`` CLI, as one org or another.

A small test helper, not a client: each call runs ``peer`` with the CLI environment of one organisation
(its MSP ID, an identity of its MSP, its peer's address and TLS CA), as the Fabric samples do. What it needs
comes from the ``network.json`` that up.sh writes. The Python Fabric client is separate work.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shlex
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import Checkpoint
from ledger.hashing import leaf_hash
from ledger.merkle import Frontier, NodeId, consistency_proof, root_at
from ledger.sm import Signer, SM2PrivateKey

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_NETWORK_JSON = REPO_ROOT / ".tiezheng" / "services" / "fabric" / "network.json"
NETWORK_ENV = "TIEZHENG_TEST_FABRIC_NETWORK"
SESSION_LOCK = "/tmp/tiezheng-fabric-tests.lock"
_held: list[Any] = []  # the lock file while network_cli holds SESSION_LOCK for a network it started
_BROADCAST_ATTEMPTS = 20
_BROADCAST_BACKOFF = 0.5  # seconds between attempts when the orderers have no Raft leader


@dataclass(frozen=True)
class Result:
    """What one CLI call did: its exit status and both output streams."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """True when the CLI exited 0."""
        return self.returncode == 0


class PeerCLI:
    """The ``peer`` CLI against the network described by ``network.json``."""

    def __init__(self, network: dict[str, Any]) -> None:
        self.network = network
        self.channel: str = network["channel"]
        self.chaincode: str = network["chaincode"]
        self._peer = str(Path(network["bin"]) / "peer")
        self._configtxlator = str(Path(network["bin"]) / "configtxlator")

    @classmethod
    def from_file(cls, path: Path) -> PeerCLI:
        """Read the network description up.sh wrote."""
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def _org(self, org: int) -> dict[str, Any]:
        return dict(self.network["organizations"][org - 1])

    def env(self, org: int, *, admin: bool = False) -> dict[str, str]:
        """The CLI environment of organisation ``org`` (1 or 2): its User1, or its Admin."""
        o = self._org(org)
        return {**os.environ, "FABRIC_CFG_PATH": self.network["config_dir"], "FABRIC_LOGGING_SPEC": "info",
                "CORE_PEER_TLS_ENABLED": "true", "CORE_PEER_LOCALMSPID": o["msp_id"],
                "CORE_PEER_MSPCONFIGPATH": o["admin_msp"] if admin else o["user_msp"],
                "CORE_PEER_ADDRESS": o["peer_endpoint"], "CORE_PEER_TLS_ROOTCERT_FILE": o["tls_ca_cert"]}

    def run(self, org: int, *args: str, admin: bool = False) -> Result:
        """Run ``peer ARGS`` as organisation ``org``; never raises on a non-zero exit."""
        done = subprocess.run([self._peer, *args], env=self.env(org, admin=admin), capture_output=True,
                              text=True, timeout=120, check=False)
        return Result(done.returncode, done.stdout, done.stderr)

    def _orderer_args(self) -> list[str]:
        orderer = self.network["orderer"]
        return ["-o", orderer["endpoints"][0], "--tls", "--cafile", orderer["tls_ca_cert"]]

    def invoke(self, function: str, *args: str, endorsers: tuple[int, ...] = (1, 2)) -> Result:
        """Submit a transaction endorsed by the peers of ``endorsers`` and wait for its validation code."""
        peers: list[str] = []
        for org in endorsers:
            o = self._org(org)
            peers += ["--peerAddresses", o["peer_endpoint"], "--tlsRootCertFiles", o["tls_ca_cert"]]
        call = json.dumps({"function": function, "Args": list(args)})
        for _ in range(_BROADCAST_ATTEMPTS):
            result = self.run(endorsers[0], "chaincode", "invoke", *self._orderer_args(), "-C", self.channel,
                              "-n", self.chaincode, *peers, "-c", call, "--waitForEvent")
            # The orderer refused the envelope (a Raft election is under way): nothing was ordered, so the
            # transaction is proposed again, as a client backs off and retries a refused broadcast.
            if "SERVICE_UNAVAILABLE" not in result.stderr:
                break
            time.sleep(_BROADCAST_BACKOFF)
        return result

    def query(self, org: int, function: str, *args: str) -> Result:
        """Evaluate a transaction on organisation ``org``'s peer, without ordering it."""
        call = json.dumps({"function": function, "Args": list(args)})
        return self.run(org, "chaincode", "query", "-C", self.channel, "-n", self.chaincode, "-c", call)

    def height(self, org: int) -> int:
        """Organisation ``org``'s peer's height of the channel."""
        out = self.run(org, "channel", "getinfo", "-c", self.channel)
        if not out.ok:
            raise RuntimeError(f"peer channel getinfo failed: {out.stderr}")
        return int(json.loads(out.stdout.split("Blockchain info:", 1)[1])["height"])

    def committed_definition(self, org: int) -> dict[str, Any]:
        """The chaincode definition committed on the channel, as organisation ``org``'s peer reports it."""
        out = self.run(org, "lifecycle", "chaincode", "querycommitted", "-C", self.channel, "-n", self.chaincode,
                       "--output", "json", admin=True)
        if not out.ok:
            raise RuntimeError(f"peer lifecycle chaincode querycommitted failed: {out.stderr}")
        return dict(json.loads(out.stdout))

    def decode(self, message_type: str, data: bytes) -> dict[str, Any]:
        """Decode a Fabric protobuf message with the built configtxlator (e.g. ``protos.ApplicationPolicy``)."""
        with tempfile.NamedTemporaryFile() as f:
            f.write(data)
            f.flush()
            done = subprocess.run([self._configtxlator, "proto_decode", "--type", message_type, "--input", f.name],
                                  capture_output=True, text=True, timeout=60, check=True)
        return dict(json.loads(done.stdout))

    def signature_policy(self, org: int) -> tuple[int, list[tuple[str, str]]]:
        """The committed endorsement policy as (n, [(MSP ID, role), ...]): n of these principals must sign."""
        definition = self.committed_definition(org)
        policy = self.decode("protos.ApplicationPolicy", base64.b64decode(definition["validation_parameter"]))
        envelope = policy["signature_policy"]
        principals = []
        for identity in envelope["identities"]:
            role = self.decode("common.MSPRole", base64.b64decode(identity["principal"]))
            principals.append((role["msp_identifier"], role["role"]))
        rule = envelope["rule"]["n_out_of"]
        signers = [principals[r["signed_by"]] for r in rule["rules"]]
        return rule["n"], signers


def network_json_path() -> Path:
    """The network.json the fixtures use: ``TIEZHENG_TEST_FABRIC_NETWORK``, else this checkout's."""
    return Path(os.environ.get(NETWORK_ENV) or DEFAULT_NETWORK_JSON)


def _running() -> bool:
    status = subprocess.run(["bash", str(REPO_ROOT / "network/fabric/status.sh")], capture_output=True, check=False)
    return status.returncode == 0 and DEFAULT_NETWORK_JSON.exists()


def network_cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The body of a module fixture: the CLI against the network named by ``TIEZHENG_TEST_FABRIC_NETWORK``
    (a network.json), else this checkout's running network, else (with ``--require-services``) a network
    started here with network/fabric/up.sh and stopped afterwards; else the test skips."""
    if os.environ.get(NETWORK_ENV):
        yield PeerCLI.from_file(Path(os.environ[NETWORK_ENV]))
        return
    if _running():
        yield PeerCLI.from_file(DEFAULT_NETWORK_JSON)
        return
    if not pytestconfig.getoption("--require-services"):
        pytest.skip(f"no Fabric network: set {NETWORK_ENV}, or run: bash network/fabric/up.sh")
    # Checkouts on one machine share the network's ports: one test session at a time starts its own.
    with open(SESSION_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _held.append(lock)
        up = subprocess.run(["bash", str(REPO_ROOT / "network/fabric/up.sh")], capture_output=True, text=True,
                            check=False)
        try:
            if up.returncode != 0:
                pytest.fail(f"required service missing: network/fabric/up.sh failed:\n{up.stderr[-3000:]}")
            yield PeerCLI.from_file(DEFAULT_NETWORK_JSON)
        finally:
            subprocess.run(["bash", str(REPO_ROOT / "network/fabric/down.sh")], capture_output=True, check=False)
            _held.remove(lock)


class NetworkControl:
    """Stops and restarts processes of the network described by ``network`` (its network.json)."""

    def __init__(self, network: dict[str, Any]) -> None:
        data = Path(network["data_dir"])
        own = Path(network["bin"]).parents[2]
        self.repo = own if (own / "network/fabric/up.sh").exists() else REPO_ROOT
        self.env = {**os.environ, **_saved_settings(data / "fabric.env"), "TIEZHENG_FABRIC_DATA": str(data)}

    def _script(self, name: str, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", str(self.repo / "network/fabric" / name), *args], env=self.env,
                              capture_output=True, text=True, timeout=600, check=False)

    def status(self) -> dict[str, Any]:
        """What status.sh --json reports."""
        return dict(json.loads(self._script("status.sh", "--json").stdout))

    def stop(self, *names: str) -> None:
        """Stop these processes (down.sh NAME...)."""
        done = self._script("down.sh", *names)
        assert done.returncode == 0, done.stderr

    def restore(self) -> None:
        """Start whatever is stopped, and wait for a Raft leader and both peers at one height."""
        done = self._script("up.sh")
        assert done.returncode == 0, done.stderr[-3000:]

        def settled() -> bool:
            status = self.status()
            heights = set(status.get("height", {}).values())
            return status.get("raft_leader") not in (None, "none") and len(heights) == 1 and None not in heights

        _wait(settled, timeout=120)

    @contextmanager
    def locked(self) -> Iterator[NetworkControl]:
        """This control under the cross-session lock (SESSION_LOCK), the network restored before and
        after, whatever happened in between."""
        with open(SESSION_LOCK, "w") as lock:
            if not _held:  # this session started the network and holds the lock already (flock is per open)
                fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                self.restore()
                yield self
            finally:
                self.restore()


def _saved_settings(path: Path) -> dict[str, str]:
    """The ``export NAME=VALUE`` lines up.sh saved for its network (none for a network started before it did)."""
    if not path.exists():
        return {}
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("export ") and "=" in line:
            name, value = line[len("export "):].split("=", 1)
            found[name] = shlex.split(value)[0] if value else ""
    return found


def _wait(probe: Any, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"the fabric network did not settle within {timeout} s")
        time.sleep(0.5)


class _MemoryNodes:
    """A dict as the merkle module's node store."""

    def __init__(self) -> None:
        self.nodes: dict[NodeId, bytes] = {}

    def get_nodes(self, ids: Any) -> dict[NodeId, bytes]:
        """The stored ones of ``ids``."""
        return {i: self.nodes[i] for i in ids if i in self.nodes}


class SignedLog:
    """A log of numbered leaves under one SM2 key, cutting signed checkpoints at any size."""

    def __init__(self, origin: str, key: SM2PrivateKey, leaves: list[bytes]) -> None:
        self.origin, self.key, self.signer, self.store = origin, key, Signer.from_private_key(key), _MemoryNodes()
        self.store.nodes.update(Frontier().append(leaf_hash(leaf) for leaf in leaves))

    def checkpoint(self, size: int) -> tuple[str, bytes]:
        """The signed checkpoint text at ``size`` and its root."""
        root = root_at(self.store, size)
        return Checkpoint(self.origin, size, root).sign(self.signer).text, root

    def proof(self, first: int, second: int) -> str:
        """The consistency proof from ``first`` to ``second`` as the chaincode takes it (JSON hex list)."""
        return json.dumps([h.hex() for h in consistency_proof(self.store, first, second)] if first else [])


def leaves(n: int, tag: str = "event") -> list[bytes]:
    """``n`` distinct leaves."""
    return [json.dumps({tag: i}).encode() for i in range(n)]
