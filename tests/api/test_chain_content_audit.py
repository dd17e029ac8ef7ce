"""The content audit on a service anchoring on the local journal, the shared Fabric network and a real anvil
registry: every digest served (with its Fabric and EVM receipts and its registry record) holds only hashes,
sizes, dates, counts and signatures, and everything written to the EVM chain — each transaction to the
registry and each event it emitted, read back with ``Registry.audit_trail`` — is a hash, size, date or count
the log or a served digest accounts for. Planted personal fields (a name, an id number, coordinates) are
caught in a digest and in calldata."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from ledger.evm import Registry, origin_hash, tenant_hash
from tests.api.chain_audit import audit_chain
from tests.api.chain_digest_support import NEXT, ChainRun, chain_run
from tests.api.digest_support import DAY, digests
from tests.api.support import TENANT
from tests.api.test_content_audit import audit
from tests.helpers import wait_until
from tests.integration.fabric_cli import network_cli

pytestmark = [pytest.mark.fabric, pytest.mark.evm]
__all__ = ["chain_run", "cli"]  # fixtures


@pytest.fixture(scope="module")
def cli(pytestconfig: pytest.Config) -> Any:
    """The running Fabric network (see ``fabric_cli.network_cli``)."""
    yield from network_cli(pytestconfig)


def served(run: ChainRun) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = digests(run.api, **{"from": "2026-11-28", "to": NEXT}).json()["digests"]
    return found


def accounted(run: ChainRun, views: list[dict[str, Any]]) -> dict[str, Any]:
    log = run.api.client.app.state.services.log  # type: ignore[attr-defined]
    return {"origin": log.origin, "tree_size": log.tree_size, "root_at": log.root_at,
            "digests": {(v["digest"]["tenant"], v["digest"]["date"]): v["digest_hash"] for v in views}}


def test_every_digest_served_with_chain_receipts_holds_only_opaque_values(chain_run: ChainRun) -> None:
    views = served(chain_run)

    assert [v["digest"]["date"] for v in views] == [DAY, NEXT]
    assert {a["backend"] for v in views for a in v["anchors"] if a["status"] == "anchored"} == {"local", "fabric", "evm"}
    assert all(v["registry"]["status"] == "recorded" for v in views)
    origin = views[0]["digest"]["log"]["origin"]
    assert [bad for v in views for bad in audit(v, origins=(origin,))] == []


def test_everything_written_to_the_evm_chain_is_a_hash_size_date_or_count_of_the_log(chain_run: ChainRun) -> None:
    views = served(chain_run)

    trail = chain_run.registry.audit_trail(from_block=chain_run.from_block)

    functions = sorted({e["function"] for e in trail if "function" in e})
    events = sorted({e["event"] for e in trail if "event" in e})
    assert functions == ["anchorCheckpoint", "recordDigest"] and events == ["CheckpointAnchored", "DigestRecorded"]
    assert sum(1 for e in trail if e.get("event") == "DigestRecorded") == 2
    assert audit_chain(trail, **accounted(chain_run, views)) == []


@pytest.mark.parametrize(("where", "value", "caught"), [
    ("counts.guardian", "刘洋", "$.digest.counts.guardian: '刘洋'"),
    ("counts.id_card", "330102199001011234", "$.digest.counts.id_card: '330102199001011234'"),
    ("counts.site", {"lat": 30.2741, "lon": 120.1551}, "$.digest.counts.site.lat: 30.2741"),
])
def test_audit_catches_a_personal_field_planted_in_a_chain_digest(chain_run: ChainRun, where: str, value: Any,
                                                                  caught: str) -> None:
    view = copy.deepcopy(served(chain_run)[0])
    origin = view["digest"]["log"]["origin"]
    target = view["digest"]
    *parents, last = where.split(".")
    for name in parents:
        target = target[name]
    target[last] = value

    assert caught in audit(view, origins=(origin,))


def _word(text: str) -> bytes:
    return text.encode().ljust(32, b"\0")


def test_audit_catches_personal_fields_planted_in_calldata(chain_run: ChainRun, registry: Registry,
                                                           operator: Any) -> None:
    """On a fresh registry: the real DAY digest record passes; a name as tenant hash, an id number as digest
    and coordinates as a checkpoint root and size are each caught."""
    views = served(chain_run)
    log = chain_run.api.client.app.state.services.log  # type: ignore[attr-defined]
    day = date.fromisoformat(DAY)
    real = bytes.fromhex(views[0]["digest_hash"])
    writes = [("digest", tenant_hash(TENANT), day, real),
              ("digest", _word("zhang.wei 张伟"), day, real),
              ("digest", tenant_hash(TENANT), date.fromisoformat(NEXT), _word("330102199001011234")),
              ("anchor", origin_hash(log.origin), 30274100, _word("30.2741N,120.1551E"))]
    for kind, key, when, value in writes:
        nonce = registry.nonce(operator.address)
        tx = (registry.sign_digest(operator, key, when, value, nonce=nonce) if kind == "digest" else
              registry.sign_anchor(operator, key, when, value, nonce=nonce))
        registry.send(tx)
        wait_until(lambda t=tx: registry.receipt(t.tx_hash), timeout=30)

    found = audit_chain(registry.audit_trail(), **accounted(chain_run, views))

    assert any("tenantHash" in b and "is text ('zhang.wei 张伟')" in b for b in found), found
    assert any("digest" in b and "is text ('330102199001011234')" in b for b in found), found
    assert any("root" in b and "is text ('30.2741N,120.1551E')" in b for b in found), found
    assert any("size 30274100 is not a size of this log" in b for b in found), found
    assert not any(f"'0x{tenant_hash(TENANT).hex()}' is text" in b for b in found)
    assert not any(b.startswith("trail[0] ") for b in found), found  # the genuine record is accounted for
