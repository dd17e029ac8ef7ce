#!/usr/bin/env python3
"""Render the channel's configtx.yaml from the configtx.yaml that ships in Fabric's sampleconfig.

    render_configtx.py SAMPLE_CONFIGTX CRYPTO_DIR OUTPUT

Keeps the sample's defaults (capabilities, ACLs, policies, batch sizes, Raft options) and replaces what
names the topology: the organisations (from the sample's SampleOrg, renamed, with MSP dirs from cryptogen's
output), the Raft consenter, the endpoints, and one profile, "TiezhengChannel". Ports and the batch timeout
come from the environment that network/config/network.config sets. Needs PyYAML (Debian: python3-yaml).
"""

import copy
import os
import sys

import yaml


def _org(sample: dict, msp_id: str, msp_dir: str, endorser: bool) -> dict:
    """The sample organisation renamed to msp_id; peer organisations endorse as peers."""
    org = copy.deepcopy(sample)
    org.update(Name=msp_id, ID=msp_id, MSPDir=msp_dir)
    org.pop("OrdererEndpoints", None)
    for policy in org["Policies"].values():
        policy["Rule"] = policy["Rule"].replace("SampleOrg", msp_id)
    if endorser:
        org["Policies"]["Endorsement"]["Rule"] = f"OR('{msp_id}.peer')"
    return org


def render(sample: dict, crypto: str, env: os._Environ) -> dict:
    """The configtx document for one orderer org (Raft, one node) and two peer orgs."""
    host = env.get("FABRIC_HOST", "127.0.0.1")
    base = sample["Organizations"][0]
    orderer_org = _org(base, "OrdererMSP", f"{crypto}/ordererOrganizations/example.com/msp", False)
    orderer_org["OrdererEndpoints"] = [f"{host}:{env['ORDERER_PORT']}"]
    peer_orgs = []
    for n in (1, 2):
        org = _org(base, f"Org{n}MSP", f"{crypto}/peerOrganizations/org{n}.example.com/msp", True)
        org["AnchorPeers"] = [{"Host": host, "Port": int(env[f"PEER{n}_PORT"])}]
        peer_orgs.append(org)

    orderer = copy.deepcopy(sample["Orderer"])
    orderer.pop("ConsenterMapping", None)  # BFT only
    orderer["OrdererType"] = "etcdraft"
    orderer["BatchTimeout"] = env.get("FABRIC_BATCH_TIMEOUT", orderer["BatchTimeout"])
    tls = f"{crypto}/ordererOrganizations/example.com/orderers/orderer.example.com/tls/server.crt"
    orderer["EtcdRaft"]["Consenters"] = [
        {"Host": host, "Port": int(env["ORDERER_CLUSTER_PORT"]), "ClientTLSCert": tls, "ServerTLSCert": tls}
    ]
    orderer["Organizations"] = [orderer_org]
    application = copy.deepcopy(sample["Application"])
    application["Organizations"] = peer_orgs

    profile = copy.deepcopy(sample["Channel"])
    profile.update(Orderer=orderer, Application=application)
    return {
        "Organizations": [orderer_org, *peer_orgs],
        "Capabilities": sample["Capabilities"],
        "Application": application,
        "Orderer": orderer,
        "Channel": sample["Channel"],
        "Profiles": {"TiezhengChannel": profile},
    }


def main() -> None:
    sample_path, crypto, output = sys.argv[1:4]
    with open(sample_path, encoding="utf-8") as f:
        sample = yaml.safe_load(f)
    doc = render(sample, crypto, os.environ)
    with open(output, "w", encoding="utf-8") as f:
        f.write("# Rendered by network/fabric/render_configtx.py from Fabric's sampleconfig; do not edit.\n")
        yaml.safe_dump(doc, f, sort_keys=False)


if __name__ == "__main__":
    main()
