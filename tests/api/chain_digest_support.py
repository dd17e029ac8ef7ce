"""Digests of a service anchoring on all three backends: the local journal, the shared Fabric network and a
real anvil registry (``TIEZHENG_ANCHOR_BACKENDS=local,fabric,evm``), on a ``ManualClock``.

``chain_run`` (module scope: one service, two worked days) yields the served digest files of DAY and NEXT,
the trust root naming the log key, the Fabric orgs and the registry, and the service itself, so tests can
read the chain back (``Registry.audit_trail``) or tamper with copies of the files.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings
from evidence_api.main import create_app
from ledger.clock import ManualClock
from ledger.evm import OperatorKey, Registry
from tests.api.digest_support import DAY, digests, worked_day
from tests.api.support import ADMIN_TOKEN, MAX_BATCH, MAX_BODY_BYTES, Api, seed
from tests.evm_support import operator_key_file
from tests.helpers import signed_item, wait_until
from tests.integration.fabric_cli import network_json_path
from verifier.fabric_profile import fabric_section

NEXT = "2026-12-01"
CHAIN_TIMEOUT = 180.0  # seconds: Fabric cuts a block every couple of seconds; a loaded machine takes longer


@dataclass
class ChainRun:
    """A service's digests of two days, each anchored on local, fabric and evm (and recorded on the registry)."""

    api: Api
    clock: ManualClock
    registry: Registry
    operator: OperatorKey    # the registry's one operator, the service's key
    from_block: int
    files: dict[str, Path]   # day → served digest file
    trust_root: Path         # log key, Fabric orgs, the registry
    folder: Path


def chain_settings(data: Path, *, evm_url: str, registry: Registry, key_file: Path, fabric: bool = True,
                   **extra: Any) -> Settings:
    """A dev service on SQLite under ``data`` anchoring on local, the shared Fabric network (unless not
    ``fabric``) and ``registry``."""
    chains: dict[str, Any] = {"anchor_backends": "local,fabric,evm", "fabric_profile": network_json_path()} \
        if fabric else {"anchor_backends": "local,evm"}
    return Settings(environment="dev", data_dir=data, database_url=f"sqlite:///{data / 'tiezheng.db'}",
                    admin_token=ADMIN_TOKEN, intake_workers=0, checkpoint_interval=0.05, anchor_interval=0.1,
                    max_batch=MAX_BATCH, max_body_bytes=MAX_BODY_BYTES, watchdog_interval=3600,
                    # the chaincode keeps one log key per origin: every run is a log of its own
                    log_origin=f"tiezheng.test/digests-{uuid.uuid4().hex[:12]}",
                    evm_rpc_url=evm_url, evm_contract=registry.contract, evm_operator_key=key_file,
                    **chains, **extra)


def settled(api: Api, day: str, *, registry: bool) -> dict[str, Any]:
    """The served digest of ``day`` once every backend anchored it (and, with ``registry``, it is recorded)."""
    def probe() -> dict[str, Any] | None:
        view: dict[str, Any] = digests(api, date=day).json()["digests"][0]
        anchored = all(a["status"] == "anchored" for a in view["anchors"])
        return view if anchored and (not registry or view["registry"]["status"] == "recorded") else None

    found: dict[str, Any] = wait_until(probe, timeout=CHAIN_TIMEOUT, interval=0.2)
    return found


def trust_root_file(api: Api, registry_entry: dict[str, Any], out: Path) -> Path:
    """The trust root a regulator writes: the log key, the Fabric network's orgs and the registry."""
    root = json.loads(api.trust_root().to_json())
    root["fabric"] = fabric_section(network_json_path())
    root["regulator_chains"] = [registry_entry]
    out.write_text(json.dumps(root, indent=2))
    return out


def run_two_days(folder: Path, evm_url: str, registry_artifact: Any, *, registry_record: bool) -> Iterator[ChainRun]:
    """Body of a module fixture: the service, DAY worked (a permit, a gas alarm, a suspension), one event on
    NEXT, the clock at 03:00 after NEXT; both days' digests served once anchored everywhere."""
    key_file, key = operator_key_file(folder, evm_url)
    registry, deployment = Registry.deploy(evm_url, key, bytecode=registry_artifact.bytecode)
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    settings = chain_settings(folder / "data", evm_url=evm_url, registry=registry, key_file=key_file)
    with TestClient(create_app(settings, clock=clock)) as client:
        api = seed(client)
        worked_day(api, clock)
        clock.set(datetime.fromisoformat(f"{NEXT}T10:00:00+08:00"))
        api.post_events({"events": [signed_item(api.guardian, permit=None, kind="guardian.checkin")]})
        api.checkpoint(api.tree_size)
        clock.set(datetime.fromisoformat("2026-12-02T03:00:00+08:00"))
        files = {}
        for day in (DAY, NEXT):
            files[day] = folder / f"digest-{day}.json"
            files[day].write_text(json.dumps(settled(api, day, registry=registry_record)))
        root = trust_root_file(api, deployment.trust_root_entry(), folder / "trust-root.json")
        yield ChainRun(api, clock, registry, key, deployment.block_number, files, root, folder)


@pytest.fixture(scope="module")
def chain_run(cli: Any, evm_url: str, registry_artifact: Any,
              tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChainRun]:
    """One service anchoring on local, fabric and evm, and its two days' digests (see ``run_two_days``)."""
    yield from run_two_days(tmp_path_factory.mktemp("chain-digests"), evm_url, registry_artifact,
                            registry_record=True)
