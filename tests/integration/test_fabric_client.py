"""``ledger.fabric.FabricClient`` against the real Fabric 2.1.1 network: submit with both orgs' endorsements
and read back, one org's endorsement only (committed ENDORSEMENT_POLICY_FAILURE), a chaincode refusal at
endorsement, orderer fail-over, no orderer at all, and one of the three orderers stopped. The network is found as in test_fabric_network.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.clock import Clock
from ledger.fabric import (
    Endpoint,
    FabricClient,
    FabricCommitError,
    FabricEndorseError,
    FabricSubmitError,
    Identity,
)
from ledger.sm import SM2PrivateKey
from tests.helpers import wait_until
from tests.integration.fabric_cli import NetworkControl, PeerCLI, SignedLog, leaves, network_cli

pytestmark = pytest.mark.fabric


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Iterator[PeerCLI]:
    """The running network (its description and CLI)."""
    yield from network_cli(pytestconfig)


def _client(cli: PeerCLI, *, orderers: list[Endpoint] | None = None) -> FabricClient:
    net = cli.network
    org1 = net["organizations"][0]
    peers = [Endpoint(o["peer_endpoint"], Path(o["tls_ca_cert"]).read_bytes(), o["peer_host_name"])
             for o in net["organizations"]]
    ca = Path(net["orderer"]["tls_ca_cert"]).read_bytes()
    real = [Endpoint(address, ca) for address in net["orderer"]["endpoints"]]
    return FabricClient(identity=Identity.from_msp_dir(org1["msp_id"], Path(org1["user_msp"])),
                        channel=net["channel"], chaincode=net["chaincode"], endorsers=peers,
                        orderers=real if orderers is None else orderers, clock=Clock(), submit_timeout=3.0)


def _caught_up(cli: PeerCLI, block_number: int) -> None:
    """Wait until both peers hold block ``block_number``: ``submit`` learns the validation code from the first
    endorser's block stream, and the other peer may commit the block a moment later (after an orderer
    outage, once its block delivery has reconnected)."""
    wait_until(lambda: min(cli.height(1), cli.height(2)) > block_number, timeout=60, interval=0.2)


@pytest.fixture
def client(cli: PeerCLI) -> Iterator[FabricClient]:
    """A client as User1 of Org1MSP, endorsing at both orgs' peers."""
    c = _client(cli)
    yield c
    c.close()


@pytest.fixture
def log(cli: PeerCLI, client: FabricClient) -> SignedLog:
    """A log under a fresh origin, its key registered through the client (on both peers)."""
    key = SM2PrivateKey.generate()
    origin = f"tiezheng.client/{uuid.uuid4().hex[:12]}"
    _caught_up(cli, client.submit("RegisterLogKey", origin, key.public.to_pem()).block_number)
    return SignedLog(origin, key, leaves(8))


def _latest_size(client: FabricClient, origin: str, peer: int) -> int:
    return int(json.loads(client.evaluate("GetLatest", origin, peer=peer))["tree_size"])


def test_submit_endorsed_by_both_orgs_commits_and_evaluate_reads_it(cli: PeerCLI, client: FabricClient,
                                                                     log: SignedLog) -> None:
    text, root = log.checkpoint(5)

    committed = client.submit("AnchorCheckpoint", text, "[]")

    stored = json.loads(committed.result)
    assert (stored["tx_id"], stored["tree_size"], stored["root_hash"]) == (committed.tx_id, 5, root.hex())
    assert committed.block_number > 0
    _caught_up(cli, committed.block_number)
    for peer in (0, 1):
        latest = json.loads(client.evaluate("GetLatest", log.origin, peer=peer))
        assert (latest["tx_id"], latest["checkpoint"]) == (committed.tx_id, text)


def test_submit_endorsed_by_one_org_is_committed_invalid(cli: PeerCLI, client: FabricClient, log: SignedLog) -> None:
    text, _ = log.checkpoint(3)
    client.submit("AnchorCheckpoint", text, "[]")
    later, _ = log.checkpoint(6)

    with pytest.raises(FabricCommitError, match="ENDORSEMENT_POLICY_FAILURE") as failed:
        client.submit_endorsed_by([0], "AnchorCheckpoint", later, log.proof(3, 6))

    assert failed.value.code == "ENDORSEMENT_POLICY_FAILURE" and failed.value.tx_id in str(failed.value)
    assert failed.value.block_number > 0
    _caught_up(cli, failed.value.block_number)
    assert (_latest_size(client, log.origin, 0), _latest_size(client, log.origin, 1)) == (3, 3)


def test_chaincode_refusal_raises_endorse_error_with_reason(cli: PeerCLI, client: FabricClient,
                                                            log: SignedLog) -> None:
    text, _ = log.checkpoint(4)
    _caught_up(cli, client.submit("AnchorCheckpoint", text, "[]").block_number)
    fork = SignedLog(log.origin, log.key, leaves(4, tag="other"))

    with pytest.raises(FabricEndorseError, match=r"^endorse: 2 of 2 peers refused.*fork") as refused:
        client.submit("AnchorCheckpoint", fork.checkpoint(4)[0], "[]")

    assert len(refused.value.details) == 2 and refused.value.tx_id in str(refused.value)
    assert _latest_size(client, log.origin, 0) == 4


def test_submit_fails_over_to_the_next_orderer(cli: PeerCLI, log: SignedLog) -> None:
    net = cli.network
    ca = Path(net["orderer"]["tls_ca_cert"]).read_bytes()
    dead = Endpoint("127.0.0.1:1", ca)
    client = _client(cli, orderers=[dead, Endpoint(net["orderer"]["endpoints"][1], ca)])
    try:
        committed = client.submit("AnchorCheckpoint", log.checkpoint(2)[0], "[]")
        assert json.loads(committed.result)["tree_size"] == 2
        _caught_up(cli, committed.block_number)

        only_dead = _client(cli, orderers=[dead])
        with pytest.raises(FabricSubmitError, match=r"^submit: no orderer accepted the transaction: 127.0.0.1:1"):
            only_dead.submit("AnchorCheckpoint", log.checkpoint(7)[0], log.proof(2, 7))
        only_dead.close()
        assert _latest_size(client, log.origin, 0) == 2
    finally:
        client.close()


def test_submit_commits_with_one_orderer_stopped(cli: PeerCLI, log: SignedLog) -> None:
    with NetworkControl(cli.network).locked() as control:
        control.stop("orderer0")
        # The two orderers left elect a leader among themselves (if orderer0 led) before they order again.
        leader = wait_until(lambda: (now := control.status().get("raft_leader")) in ("orderer1", "orderer2") and now,
                            timeout=60, interval=0.5)
        client = _client(cli)
        committed = client.submit("AnchorCheckpoint", log.checkpoint(3)[0], "[]")
        client.close()

        assert leader in ("orderer1", "orderer2")
        assert json.loads(committed.result)["tree_size"] == 3
