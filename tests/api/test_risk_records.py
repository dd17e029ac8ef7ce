"""Insurer risk records: figures backed by proven leaves, the insurer role and its grants, and the offline
check (``tiezheng risk verify``) catching every tampering with its reason."""

from __future__ import annotations

import contextlib
import io
import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.clock import ManualClock
from tests.api.digest_support import DAY, JUNK, clock, day_api, day_client, paths, worked_day
from tests.api.support import ADMIN_TOKEN, BOTH_DATABASES, Api, assert_problem, bearer
from tests.helpers import TENANT
from verifier.digest_cli import risk_verify_command

__all__ = ["clock", "day_api", "day_client"]  # fixtures

INSURER = "pingan-insure"


def _insurer(api: Api) -> str:
    admin = bearer(ADMIN_TOKEN)
    assert api.client.post("/v1/tenants", json={"id": INSURER, "name": "保险"}, headers=admin).status_code == 201
    token: str = api.client.post("/v1/tokens", json={"tenant": INSURER, "role": "insurer", "label": "u"},
                                 headers=admin).json()["token"]
    return token


def _record(api: Api, token: str, **params: str) -> Any:
    return api.client.get("/v1/risk-records", params={"from": DAY, "to": DAY} | params, headers=bearer(token))


@pytest.fixture
def served(day_api: Api, clock: ManualClock) -> tuple[Api, str]:
    worked_day(day_api, clock)
    clock.set(datetime.fromisoformat("2026-12-01T03:00:00+08:00"))
    return day_api, _insurer(day_api)


@BOTH_DATABASES
def test_risk_record_figures(served: tuple[Api, str]) -> None:
    api, _ = served

    resp = _record(api, api.reader)

    assert resp.status_code == 200, resp.text
    record = resp.json()["record"]
    figures = record["figures"]
    assert figures["high_risk_permits"] == [{"type": "hot_work", "level": "1", "count": 1}]
    assert figures["closed_permits"] == {"closed": 1, "full_evidence": 1}
    assert figures["gas_alarms"]["count"] == 1 and figures["gas_alarms"]["answered"] == 1
    assert figures["suspensions"] == 1 and figures["accidents"] == 0
    assert all(set(e) == {"leaf_index", "leaf_hash", "figure", "type", "level", "cls", "at", "answered_by",
                          "inclusion_proof"} for e in record["events"])
    assert "welder" not in json.dumps(record) and "guard-1" not in json.dumps(record)


def test_risk_record_insurer_needs_a_grant(served: tuple[Api, str]) -> None:
    api, insurer = served
    assert_problem(_record(api, insurer, tenant=TENANT), 403, "forbidden", "has not granted")
    assert_problem(_record(api, insurer), 403, "forbidden", "must name the tenant")
    grant = api.client.post("/v1/risk-grants", json={"insurer": INSURER}, headers=bearer(api.admin))
    assert grant.status_code == 201, grant.text

    assert _record(api, insurer, tenant=TENANT).status_code == 200
    assert api.client.get("/v1/permits", headers=bearer(insurer)).status_code == 403
    assert api.client.delete(f"/v1/risk-grants/{INSURER}", headers=bearer(api.admin)).status_code == 200
    assert _record(api, insurer, tenant=TENANT).status_code == 403


def test_risk_record_of_another_tenant_is_forbidden(served: tuple[Api, str]) -> None:
    api, _ = served
    assert_problem(_record(api, api.other_reader, tenant=TENANT), 403, "forbidden", "may not read")


@pytest.mark.parametrize(("params", "detail"), [
    ({"from": "2026-12-02", "to": "2026-11-30"}, "is after"),
    ({"to": "2026-12-01"}, "has not ended"),
    ({"from": "2026-01-01"}, "at most 92 days"),
    ({"to": "2026-02-30"}, "date"),
    ({"from": "0001-01-01", "to": "0001-01-01"}, "outside 1970-01-02"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "outside 1970-01-02"),
])
def test_risk_record_bad_period_is_422(served: tuple[Api, str], params: dict[str, str], detail: str) -> None:
    api, _ = served
    assert_problem(_record(api, api.reader, **params), 422, "malformed-input", detail)


def test_risk_record_unknown_site_is_404(served: tuple[Api, str]) -> None:
    api, _ = served
    assert _record(api, api.reader, site="nowhere").status_code == 404
    assert _record(api, api.reader, site="plant-1").json()["record"]["figures"]["suspensions"] == 1


def _verify(path: Path, root: Path | None) -> tuple[int, dict[str, Any]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = risk_verify_command(str(path), trust_root=str(root) if root else None, json_output=True,
                                   verbose=False)
    return code, json.loads(out.getvalue())


@pytest.fixture
def files(served: tuple[Api, str], tmp_path: Path) -> tuple[Path, Path]:
    api, _ = served
    path, root = tmp_path / "record.json", tmp_path / "trust-root.json"
    path.write_text(_record(api, api.reader).text)
    root.write_text(api.trust_root().to_json())
    return path, root


def test_risk_verify_valid(files: tuple[Path, Path]) -> None:
    code, report = _verify(*files)
    assert code == 0, report
    assert report["events_proven"] >= 4 and report["figures"]["suspensions"] == 1


def _figure(body: dict[str, Any]) -> None:
    body["record"]["figures"]["suspensions"] = 0


def _leaf(body: dict[str, Any]) -> None:
    body["record"]["events"][0]["leaf_hash"] = "00" * 32


def _extra(body: dict[str, Any]) -> None:
    body["record"]["events"][0]["worker"] = "张三"


@pytest.mark.parametrize(("change", "code", "reason"), [
    (_figure, 1, "risk record signature does not verify"),
    (_leaf, 1, "risk record signature does not verify"),
    (_extra, 2, "unknown field 'worker'"),
])
def test_risk_verify_tampered(files: tuple[Path, Path], change: Any, code: int, reason: str) -> None:
    path, root = files
    body = json.loads(path.read_text())
    change(body)
    path.write_text(json.dumps(body))

    got, report = _verify(path, root)

    assert got == code and re.search(reason, report["failure"]), report


def test_risk_verify_without_trust_root(files: tuple[Path, Path]) -> None:
    code, report = _verify(files[0], None)
    assert code == 2 and "no trust root" in report["failure"]


@pytest.mark.parametrize(("change", "reason"), [
    (_figure, "the figures do not match the recount of the proven events"),
    (_leaf, "root mismatch|does not match|calculated"),
    (lambda b: b["record"]["events"].append(dict(b["record"]["events"][0])), "leaf .* is counted twice"),
    (lambda b: b["record"].update(from_tree_size=b["record"]["log"]["tree_size"]), "outside the period's leaves"),
])
def test_risk_verify_signed_lies_are_caught(served: tuple[Api, str], files: tuple[Path, Path], change: Any,
                                            reason: str) -> None:
    """A record the log key signed but whose figures or leaves are false (a lying or buggy service)."""
    from ledger.canonical import canonical as server_canonical

    api, _ = served
    path, root = files
    body = json.loads(path.read_text())
    change(body)
    record = {k: v for k, v in body["record"].items() if k != "signature"}
    record["signature"] = api.client.app.state.services.log.signer.sign_b64(server_canonical(record))  # type: ignore[attr-defined]
    path.write_text(json.dumps({"record": record}))

    code, report = _verify(path, root)

    assert code == 1 and re.search(reason, report["failure"]), report


def test_risk_verify_never_crashes_on_a_mangled_record(files: tuple[Path, Path]) -> None:
    """Every field of a served record replaced by junk: refused (1 or 2) every time, never a crash."""
    from verifier.errors import VerifierError
    from verifier.risk import verify_risk_record
    from verifier.trust import TrustRoot

    path, root_path = files
    root = TrustRoot.from_file(root_path)
    original = json.loads(path.read_text())
    accepted = []
    for where in paths(original)[2:]:
        for junk in JUNK:
            data = json.loads(path.read_text())
            target = data
            for key in where[:-1]:
                target = target[key]
            if target[where[-1]] == junk:
                continue
            target[where[-1]] = junk
            try:
                verify_risk_record(json.dumps(data).encode(), trust_root=root)
                accepted.append(where)
            except VerifierError:
                pass
    assert accepted == []
