"""The whole service with trusted time and witnesses configured: the ``tsa`` backend timestamps checkpoints
at the real test TSA, the collector gets cosignatures from two real witness processes, and an exported bundle
verifies offline at ``signed+tsa+witnessed`` only against a trust root that names the TSA root and enough
witnesses."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings, WitnessSetting
from evidence_api.main import create_app
from ledger.keystore import load_or_create_log_key
from tests.api.support import Api, bearer, seed
from tests.conftest import TsaServer, WitnessProcess
from tests.helpers import signed_item, wait_until
from verifier.bundle import Bundle, verify_bundle
from verifier.errors import VerificationFailed
from verifier.trust import TrustRoot

pytestmark = [pytest.mark.tsa, pytest.mark.witness]
ORIGIN = "tiezheng.local/log"


@pytest.fixture
def witnesses(settings: Settings, start_witness: Callable[..., WitnessProcess]) -> list[WitnessProcess]:
    """Two witnesses of the service's log (its key created before the service, as a deployment would)."""
    pem = load_or_create_log_key(settings.data_dir / "keys" / "log-key.pem").public.to_pem()
    return [start_witness(f"witness-{n}.test/w1", origin=ORIGIN, log_key_pem=pem) for n in "ab"]


@pytest.fixture
def trusted_api(settings: Settings, tsa: TsaServer, witnesses: list[WitnessProcess], tmp_path: Path) -> Iterator[Api]:
    (tmp_path / "tsa-roots.pem").write_text(tsa.root_pem)
    configured = Settings(**{**settings.model_dump(), "tsa_url": tsa.url, "tsa_name": "test-tsa",
                             "tsa_roots": tmp_path / "tsa-roots.pem",
                             "witnesses": [WitnessSetting(name=w.name, url=w.url, public_key=w.public_key_pem)
                                           for w in witnesses]})
    with TestClient(create_app(configured)) as client:
        yield seed(client)


def _bundle(api: Api, event_id: str) -> dict[str, Any]:
    """The event's bundle once it carries a timestamp and both witnesses' cosignatures."""
    def probe() -> dict[str, Any] | None:
        resp = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(api.reader))
        kinds = [a.get("kind") for a in resp.json().get("anchors", [])] if resp.status_code == 200 else []
        return resp.json() if kinds.count("rfc3161") == 1 and kinds.count("cosignature/v1") == 2 else None

    found: dict[str, Any] = wait_until(probe, timeout=20)
    return found


def _root(api: Api, tsa: TsaServer | None, witnesses: list[WitnessProcess], quorum: int) -> TrustRoot:
    published = api.client.get("/v1/log/public-key").json()
    obj: dict[str, Any] = {"v": 1, "type": "tiezheng.trust-root/v1",
                           "logs": [{"origin": published["origin"], "public_key": published["public_key_pem"]}]}
    if tsa is not None:
        obj["timestamp_authorities"] = [{"name": "test-tsa", "certificates": [tsa.root_pem]}]
    if witnesses:
        obj["witnesses"] = {"quorum": quorum,
                            "keys": [{"name": w.name, "public_key": w.public_key_pem} for w in witnesses]}
    return TrustRoot.from_bytes(json.dumps(obj).encode())


def test_bundle_with_timestamp_and_cosignatures_verifies_at_full_assurance(
        trusted_api: Api, tsa: TsaServer, witnesses: list[WitnessProcess]) -> None:
    item = signed_item(trusted_api.guardian, payload={"gas_ppm": 3})
    assert trusted_api.post_events({"events": [item]}).status_code == 201
    data = json.dumps(_bundle(trusted_api, item["event"]["event_id"])).encode()

    report = verify_bundle(Bundle.from_bytes(data), trust_root=_root(trusted_api, tsa, witnesses, quorum=2))
    assert report.assurance == "signed+tsa+witnessed"
    assert report.cosigners == tuple(w.name for w in witnesses)
    assert len(report.timestamps) == 1 and report.timestamps[0].startswith("test-tsa 20")
    assert [s.name for s in report.steps][-1] == "witness quorum"

    no_tsa = verify_bundle(Bundle.from_bytes(data), trust_root=_root(trusted_api, None, witnesses, quorum=1))
    assert no_tsa.assurance == "signed+witnessed"
    assert any(s.status == "skipped" and "names no timestamp authority" in s.detail for s in no_tsa.steps)

    one_known = verify_bundle(Bundle.from_bytes(data), trust_root=_root(trusted_api, tsa, witnesses[:1], quorum=1))
    assert one_known.assurance == "signed+tsa+witnessed" and one_known.cosigners == (witnesses[0].name,)

    plain = verify_bundle(Bundle.from_bytes(data), trust_root=_root(trusted_api, None, [], quorum=0))
    assert plain.assurance == "signed"


def test_bundle_short_of_the_quorum_is_valid_without_witnessed(
        trusted_api: Api, tsa: TsaServer, witnesses: list[WitnessProcess], settings: Settings,
        start_witness: Callable[..., WitnessProcess]) -> None:
    item = signed_item(trusted_api.guardian, payload={"gas_ppm": 4})
    trusted_api.post_events({"events": [item]})
    data = json.dumps(_bundle(trusted_api, item["event"]["event_id"])).encode()
    log_key_pem = load_or_create_log_key(settings.data_dir / "keys" / "log-key.pem").public.to_pem()
    # a third witness the log never asks: the trust root names it, but it cosigned nothing
    stranger = start_witness("witness-c.test/w1", origin=ORIGIN, log_key_pem=log_key_pem)
    root = _root(trusted_api, tsa, [witnesses[0], stranger], quorum=2)

    report = verify_bundle(Bundle.from_bytes(data), trust_root=root)
    assert report.valid and report.assurance == "signed+tsa"
    assert report.steps[-1].status == "skipped" and "only 1 of the 2" in report.steps[-1].detail


def test_bundle_with_tampered_token_fails_with_reason(trusted_api: Api, tsa: TsaServer,
                                                      witnesses: list[WitnessProcess]) -> None:
    item = signed_item(trusted_api.guardian, payload={"gas_ppm": 5})
    trusted_api.post_events({"events": [item]})
    bundle = _bundle(trusted_api, item["event"]["event_id"])
    stamp = next(a for a in bundle["anchors"] if a.get("kind") == "rfc3161")
    other = next(a for a in bundle["anchors"] if a.get("kind") == "cosignature/v1")
    stamp["checkpoint"] = other["checkpoint"]  # the token of one checkpoint, shown with another note
    stamp["tree_size"], stamp["root_hash"] = other["tree_size"], other["root_hash"]
    with pytest.raises(VerificationFailed) as caught:
        verify_bundle(Bundle.from_bytes(json.dumps(bundle).encode()), trust_root=_root(trusted_api, tsa, witnesses, 2))
    assert caught.value.step == 7 and "imprint" in caught.value.message
