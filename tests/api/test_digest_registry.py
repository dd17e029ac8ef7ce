"""The digest hash on the EVM registry (``services/digest_registry.py``) on a real anvil: the signed
transaction is kept (tx hash) before it is sent, survives a restart unchanged, is signed anew when the node
drops it, backs off while the node is down without holding up intake or the digest build, and the served
digest's ``registry`` record (``recorded``) verifies offline with ``tiezheng digest verify``."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_api import db
from evidence_api.config import Settings
from evidence_api.main import create_app
from ledger.clock import ManualClock
from ledger.evm import Registry, tenant_hash
from ledger.evm.registry import connect
from tests.api.chain_digest_support import chain_settings, trust_root_file
from tests.api.digest_support import DAY, digests
from tests.api.support import TENANT, Api, seed
from tests.evm_support import AnvilNode, mine, operator_key_file, set_automine
from tests.helpers import signed_item, wait_until
from verifier.digest_cli import digest_verify_command

pytestmark = pytest.mark.evm
_AFTER = datetime.fromisoformat("2026-12-01T03:00:00+08:00")


@pytest.fixture
def world(tmp_path: Path, evm_url: str, registry_artifact: Any) -> tuple[Settings, Registry, dict[str, Any]]:
    """Settings of a local,evm service on a fresh registry, the registry and its trust-root entry."""
    key_file, key = operator_key_file(tmp_path, evm_url)
    registry, deployment = Registry.deploy(evm_url, key, bytecode=registry_artifact.bytecode)
    settings = chain_settings(tmp_path / "data", evm_url=evm_url, registry=registry, key_file=key_file, fabric=False,
                              evm_from_block=deployment.block_number)
    return settings, registry, deployment.trust_root_entry()


def a_day(api: Api, clock: ManualClock) -> None:
    """One event on DAY, then the clock past the day's end, and the day's digest built (by asking for it)."""
    api.post_events({"events": [signed_item(api.guardian, permit=None, kind="guardian.checkin")]})
    api.checkpoint(api.tree_size)
    clock.set(_AFTER)
    served(api)


def row(api: Api) -> dict[str, Any]:
    engine = api.client.app.state.services.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        found = conn.execute(select(db.digests).where(db.digests.c.tenant == TENANT,
                                                      db.digests.c.day == DAY)).first()
    assert found is not None
    return dict(found._mapping)


def served(api: Api) -> dict[str, Any]:
    view: dict[str, Any] = digests(api, date=DAY).json()["digests"][0]
    return view


def recorded(api: Api) -> dict[str, Any]:
    found: dict[str, Any] = wait_until(lambda: (v := served(api))["registry"]["status"] == "recorded" and v,
                                       timeout=30, interval=0.05)
    return found


def verify(view: dict[str, Any], folder: Path, root: Path) -> dict[str, Any]:
    path = folder / "digest.json"
    path.write_text(json.dumps(view))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = digest_verify_command(str(path), trust_root=str(root), previous=None, json_output=True, verbose=False)
    report: dict[str, Any] = json.loads(out.getvalue())
    assert code == 0, report
    return report


def test_digest_hash_is_recorded_and_verifies_offline(world: Any, tmp_path: Path) -> None:
    settings, registry, entry = world
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    with TestClient(create_app(settings, clock=clock)) as client:
        api = seed(client)
        a_day(api, clock)

        view = recorded(api)

        record = view["registry"]["receipt"]
        assert record["digest"] == view["digest_hash"] and record["date"] == DAY
        assert record["tenant_hash"] == view["digest"]["tenant"] == tenant_hash(TENANT).hex()
        assert registry.digest_of(tenant_hash(TENANT), datetime.fromisoformat(DAY).date()).hex() == view["digest_hash"]
        report = verify(view, tmp_path, trust_root_file(api, entry, tmp_path / "root.json"))
        assert report["registry"] == "verified" and "recordDigest tx 0x" in report["details"]["registry"]


def test_pending_transaction_is_kept_before_it_is_mined_and_survives_a_restart(world: Any, evm_url: str) -> None:
    settings, registry, _ = world
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    set_automine(evm_url, False)
    try:
        with TestClient(create_app(settings, clock=clock)) as client:
            api = seed(client)
            a_day(api, clock)
            assert served(api)["registry"] == {"status": "pending"}
            pending = wait_until(lambda: row(api)["registry_pending"], timeout=30)
            tx_hash = json.loads(pending)["tx"]["tx_hash"]
            wait_until(lambda: registry.known(tx_hash), timeout=30)
        # the service is down; the transaction waits in the node's pool
        with TestClient(create_app(settings, clock=clock)) as client:
            api.client = client
            assert json.loads(row(api)["registry_pending"])["tx"]["tx_hash"] == tx_hash
            mine(evm_url)
            view = recorded(api)
            assert view["registry"]["receipt"]["tx_hash"] == tx_hash  # the very transaction signed before
    finally:
        set_automine(evm_url, True)


def test_dropped_transaction_is_signed_anew(world: Any, evm_url: str) -> None:
    settings, registry, _ = world
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    set_automine(evm_url, False)
    try:
        with TestClient(create_app(settings, clock=clock)) as client:
            api = seed(client)
            a_day(api, clock)
            first = json.loads(wait_until(lambda: row(api)["registry_pending"], timeout=30))["tx"]["tx_hash"]
            wait_until(lambda: registry.known(first), timeout=30)
            connect(evm_url).provider.make_request("anvil_dropTransaction", [first])  # type: ignore[arg-type]

            def resigned() -> str | None:
                text = row(api)["registry_pending"]
                tx = json.loads(text)["tx"]["tx_hash"] if text else None
                return tx if tx not in (None, first) and registry.known(tx) else None

            second = wait_until(resigned, timeout=30)
            mine(evm_url)
            assert recorded(api)["registry"]["receipt"]["tx_hash"] == second
    finally:
        set_automine(evm_url, True)


def test_chain_down_backs_off_without_holding_up_intake_or_the_digest_build(tmp_path: Path, registry_artifact: Any) -> None:
    node = AnvilNode(tmp_path / "anvil").up()
    try:
        key_file, key = operator_key_file(tmp_path, node.url)
        registry, _ = Registry.deploy(node.url, key, bytecode=registry_artifact.bytecode)
    finally:
        node.down()
    settings = chain_settings(tmp_path / "data", evm_url=node.url, registry=registry, key_file=key_file, fabric=False)
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    with TestClient(create_app(settings, clock=clock)) as client:
        api = seed(client)
        a_day(api, clock)  # intake and checkpoints go on with the chain down

        view = served(api)

        assert view["registry"] == {"status": "pending"} and view["digest"]["counts"]["events"] >= 1
        assert row(api)["registry_pending"] is None and row(api)["registry_error"] is None


def test_registry_job_backs_off_while_the_node_is_down(tmp_path: Path, registry_artifact: Any,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    from evidence_api.services.digest_registry import DigestRegistry
    from ledger.evm import DigestRecorder, Transactor

    node = AnvilNode(tmp_path / "anvil").up()
    try:
        key_file, key = operator_key_file(tmp_path, node.url)
        registry, _ = Registry.deploy(node.url, key, bytecode=registry_artifact.bytecode)
    finally:
        node.down()
    settings = chain_settings(tmp_path / "data", evm_url=node.url, registry=registry, key_file=key_file, fabric=False)
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    with TestClient(create_app(settings, clock=clock)) as client:
        api = seed(client)
        a_day(api, clock)
        job = DigestRegistry(api.client.app.state.services.engine,  # type: ignore[attr-defined]
                             DigestRecorder(Transactor(registry, key)), backoff=3600.0,
                             max_backoff=7200.0)
        caplog.clear()

        assert job.run_once() == 0 and job.run_once() == 0

        # the service's own job logs too (backing off from 1 s); this job tried once and waits an hour
        tries = [r.getMessage() for r in caplog.records if "retrying in 3600 s" in r.getMessage()
                 or "retrying in 7200 s" in r.getMessage()]
        assert len(tries) == 1 and "the EVM node does not answer" in tries[0] and "3600 s" in tries[0]


def _forget(api: Api, **values: Any) -> None:
    """What a crash between the chain's commit and the row's update leaves: no pending, no receipt."""
    from sqlalchemy import update

    engine = api.client.app.state.services.engine  # type: ignore[attr-defined]
    d = db.digests.c
    with engine.begin() as conn:
        conn.execute(update(db.digests).where(d.tenant == TENANT, d.day == DAY)
                     .values(registry_pending=None, registry_receipt=None, **values))


def test_a_record_the_row_lost_track_of_is_read_back_from_the_chain(world: Any) -> None:
    settings, _, _ = world
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    with TestClient(create_app(settings, clock=clock)) as client:
        api = seed(client)
        a_day(api, clock)
        first = recorded(api)["registry"]["receipt"]

        _forget(api)  # the job signs it again; the registry reverts the duplicate; the chain's record is kept

        again = recorded(api)["registry"]["receipt"]
        assert again == first and row(api)["registry_error"] is None


def test_another_digest_on_the_registry_for_the_day_fails_for_good(world: Any) -> None:
    settings, _, _ = world
    clock = ManualClock(datetime.fromisoformat(f"{DAY}T09:00:00+08:00"))
    with TestClient(create_app(settings, clock=clock)) as client:
        api = seed(client)
        a_day(api, clock)
        held = recorded(api)["digest_hash"]

        _forget(api, digest_hash="ab" * 32)  # as if another writer had recorded `held` for this tenant and day

        wait_until(lambda: row(api)["registry_error"], timeout=30)
        assert served(api)["registry"] == {"status": "failed"}
        assert f"the registry already holds digest {held} for this tenant and date, not {'ab' * 32}" in \
            row(api)["registry_error"]
