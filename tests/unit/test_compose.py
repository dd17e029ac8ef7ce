"""docker-compose.yml (the production shape) parses, uses Fabric 2.5 LTS images, builds from Dockerfiles that
exist, and publishes exactly the services and host ports the README's table names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    return loaded


def _readme_table() -> dict[str, set[int]]:
    """Service name → host ports, from the README's "Production shape" table (rows list services and ports
    in the same order: one port per service in each comma-separated group)."""
    section = (ROOT / "README.md").read_text(encoding="utf-8").split("## Production shape", 1)[1].split("\n## ", 1)[0]
    table: dict[str, set[int]] = {}
    for row in re.findall(r"^\| (`.+?) \| (.+?) \|$", section, flags=re.MULTILINE):
        names = re.findall(r"`([a-z0-9-]+)`", row[0])
        for group in row[1].split(";"):
            ports = [int(p) for p in re.findall(r"\d{2,5}", group)]
            assert len(ports) == len(names), f"README row {row}: {len(ports)} ports for {len(names)} services"
            for name, port in zip(names, ports, strict=True):
                table.setdefault(name, set()).add(port)
    return table


def _published(service: dict[str, Any]) -> set[int]:
    return {int(str(p).split(":")[0]) for p in service.get("ports", [])}


def test_compose_publishes_what_the_readme_names() -> None:
    services, table = _compose()["services"], _readme_table()

    assert set(services) == set(table)
    for name, service in services.items():
        assert _published(service) == table[name], name


def test_compose_runs_fabric_2_5_lts_with_three_orderers_and_two_peers() -> None:
    services = _compose()["services"]
    orderers = [n for n, s in services.items() if s.get("image") == "hyperledger/fabric-orderer:2.5"]
    peers = [n for n, s in services.items() if s.get("image") == "hyperledger/fabric-peer:2.5"]
    assert (len(orderers), len(peers)) == (3, 2)
    assert {services[p]["environment"]["CORE_PEER_LOCALMSPID"] for p in peers} == {"Org1MSP", "Org2MSP"}


def test_compose_builds_from_dockerfiles_of_the_repository() -> None:
    for name, service in _compose()["services"].items():
        if "build" in service:
            assert (ROOT / service["build"] / "Dockerfile").is_file(), name


def test_compose_service_anchors_to_fabric_with_a_client_profile() -> None:
    env = _compose()["services"]["tiezheng"]["environment"]
    assert env["TIEZHENG_ANCHOR_BACKENDS"] == "local,fabric"
    assert env["TIEZHENG_FABRIC_PROFILE"].endswith("network.json")
