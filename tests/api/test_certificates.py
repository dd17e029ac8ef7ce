"""The certificates API: registration against the catalog, computed states, filters and summary, the daily
warning job (each warning an event, idempotent), and registry verification recorded as events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from evidence_api import db
from evidence_api.services.registry import HttpRegistry
from tests.api.support import Api, assert_problem, bearer

CERT = {"worker": "w1", "category": "1", "sub_type": "1.1", "number": "T-0001", "holder_name": "王五",
        "issued_on": "2023-01-10", "authority": "杭州市应急管理局"}


def _services(api: Api) -> Any:
    return api.client.app.state.services  # type: ignore[attr-defined]


def _worker(api: Api, worker_id: str = "w1", team: str = "维修一班") -> None:
    resp = api.client.post("/v1/workers", json={"id": worker_id, "name": "王五", "team": team}, headers=bearer(api.admin))
    assert resp.status_code == 201, resp.text


def _register(api: Api, **changes: Any) -> httpx.Response:
    resp: httpx.Response = api.client.post("/v1/certificates", json=CERT | changes, headers=bearer(api.admin))
    return resp


def _list(api: Api, query: str = "") -> list[dict[str, Any]]:
    resp = api.client.get(f"/v1/certificates{query}", headers=bearer(api.reader))
    assert resp.status_code == 200, resp.text
    body: list[dict[str, Any]] = resp.json()
    return body


def test_catalog_lists_categories_and_sub_types(api: Api) -> None:
    body = api.client.get("/v1/certificates/catalog", headers=bearer(api.reader)).json()
    electric = body["categories"][0]
    assert electric["code"] == "1" and electric["sub_types"]["1.1"] == "高压电工作业"
    assert (body["valid_years"], body["review_years"]) == (6, 3)


def test_register_defaults_dates_and_logs_event(api: Api) -> None:
    _worker(api)
    size = api.tree_size
    resp = _register(api)
    assert resp.status_code == 201, resp.text
    cert = resp.json()
    assert (cert["expires_on"], cert["review_due_on"]) == ("2029-01-10", "2026-01-10")
    assert cert["sub_type_name"] == "高压电工作业"
    assert api.tree_size == size + 1
    got = api.client.get(f"/v1/certificates/{cert['id']}?on=2025-06-01", headers=bearer(api.reader)).json()
    assert got["state"] == "valid"
    got = api.client.get(f"/v1/certificates/{cert['id']}?on=2026-06-01", headers=bearer(api.reader)).json()
    assert got["state"] == "review_overdue"


def test_register_unknown_sub_type_refused_nothing_stored(api: Api) -> None:
    _worker(api)
    size = api.tree_size
    assert_problem(_register(api, sub_type="1.9"), 422, "malformed-input", "^sub_type: unknown sub-type '1.9'")
    assert_problem(_register(api, category="12"), 422, "malformed-input", "^category: unknown category '12'")
    assert _list(api) == [] and api.tree_size == size


def test_register_sub_type_of_other_category_refused(api: Api) -> None:
    _worker(api)
    resp = _register(api, category="2")
    assert_problem(resp, 422, "malformed-input", r"sub_type: sub-type '1.1' \(高压电工作业\) belongs to category '1', not '2'")
    assert _list(api) == []


def test_register_bad_dates_refused(api: Api) -> None:
    _worker(api)
    assert_problem(_register(api, expires_on="2022-01-01"), 422, "malformed-input", "^expires_on: 2022-01-01 is not after")
    assert_problem(_register(api, review_due_on="2030-01-01"), 422, "malformed-input", "^review_due_on: 2030-01-01 must")
    assert_problem(_register(api, issued_on="2999-01-01"), 422, "malformed-input", "^issued_on: 2999-01-01 is in the future")
    assert _list(api) == []


def test_register_unknown_worker_or_duplicate_number_refused(api: Api) -> None:
    assert_problem(_register(api), 404, "not-found", "^worker: no worker 'w1'")
    _worker(api)
    first = _register(api).json()
    size = api.tree_size
    assert_problem(_register(api), 409, "conflict", f"^number: certificate number 'T-0001' is already registered as '{first['id']}'")
    assert [c["id"] for c in _list(api)] == [first["id"]] and api.tree_size == size


def test_register_other_tenant_cannot_see_or_reader_register(api: Api) -> None:
    _worker(api)
    cert = _register(api).json()
    resp = api.client.get(f"/v1/certificates/{cert['id']}", headers=bearer(api.other_reader))
    assert_problem(resp, 404, "not-found", f"certificate '{cert['id']}' does not exist for tenant 'other-co'")
    resp = api.client.post("/v1/certificates", json=CERT | {"number": "X"}, headers=bearer(api.reader))
    assert_problem(resp, 403, "forbidden", "role 'reader'")


def test_state_expired_and_overdue_on_given_day(api: Api) -> None:
    _worker(api)
    _register(api, number="A", issued_on="2018-01-01", id="c-old")          # expires 2024-01-01
    _register(api, number="B", issued_on="2022-01-01", id="c-review")       # review 2025-01-01
    _register(api, number="C", issued_on="2024-06-01", id="c-ok")
    states = {c["id"]: c["state"] for c in _list(api, "?on=2025-03-01")}
    assert states == {"c-old": "expired", "c-review": "review_overdue", "c-ok": "valid"}
    assert [c["id"] for c in _list(api, "?on=2025-03-01&state=expired")] == ["c-old"]
    resp = api.client.get("/v1/certificates?state=lost", headers=bearer(api.reader))
    assert_problem(resp, 422, "malformed-input", "state")


def test_filters_team_category_work_type_and_summary(api: Api) -> None:
    _worker(api, "w1", "维修一班")
    _worker(api, "w2", "电仪班")
    _register(api, number="A", id="c-weld", category="2", sub_type="2.1", issued_on="2024-01-01")
    _register(api, number="B", id="c-hv", worker="w2", issued_on="2024-01-01")
    _register(api, number="C", id="c-old", worker="w2", issued_on="2018-01-01")
    assert [c["id"] for c in _list(api, "?team=电仪班")] == ["c-hv", "c-old"]
    assert [c["id"] for c in _list(api, "?category=2")] == ["c-weld"]
    assert [c["id"] for c in _list(api, "?work_type=hot_work")] == ["c-weld"]
    assert [c["id"] for c in _list(api, "?work_type=temp_power&state=valid&on=2025-01-01")] == ["c-hv"]
    resp = api.client.get("/v1/certificates?work_type=juggling", headers=bearer(api.reader))
    assert_problem(resp, 422, "malformed-input", "unknown work type 'juggling'")
    body = api.client.get("/v1/certificates/summary?on=2025-01-01", headers=bearer(api.reader)).json()
    assert body["total"] == 3 and body["by_state"]["valid"] == 2 and body["by_state"]["expired"] == 1
    assert body["by_team"]["电仪班"] == {"total": 2, "valid": 1, "expired": 1, "review_overdue": 0,
                                             "suspended": 0, "revoked": 0, "void": 0}
    assert body["by_category"]["2"]["name"] == "焊接与热切割作业" and body["by_category"]["2"]["valid"] == 1


def _warnings(api: Api, on: str, token: str | None = None) -> dict[str, Any]:
    """The warning job run on the day ``on``, which is today for the service."""
    api.set_plant_day(on)
    resp = api.client.post(f"/v1/jobs/certificate-warnings?on={on}", headers=bearer(token or api.admin))
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _count(api: Api, table: Any) -> int:
    with _services(api).engine.connect() as conn:
        counted: int = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return counted


def test_warnings_at_90_30_7_idempotent_each_an_event(api: Api) -> None:
    _worker(api)
    # issued 2021-03-01 with an extended review: both due 2027-03-01, so only the expiry is warned
    _register(api, id="c1", issued_on="2021-03-01", review_due_on="2027-03-01")
    for on, days in (("2026-12-01", 90), ("2027-01-30", 30), ("2027-02-22", 7)):
        size = api.tree_size
        body = _warnings(api, on)
        assert [(w["certificate"], w["due_kind"], w["days_before"]) for w in body["warnings"]] == [("c1", "expiry", days)]
        assert api.tree_size == size + 1
        assert _warnings(api, on)["made"] == 0 and api.tree_size == size + 1
    assert _count(api, db.certificate_warnings) == 3
    with _services(api).engine.connect() as conn:
        topics = list(conn.execute(select(db.notifications.c.topic)).scalars())
    assert topics == ["certificate.expiry_warning"] * 3


def test_warnings_review_and_expiry_separately_only_nearest_threshold(api: Api) -> None:
    _worker(api)
    _register(api, id="c1", issued_on="2021-03-01")  # review 2024-03-01 passed; expiry 2027-03-01
    _register(api, id="c2", number="T-2", issued_on="2024-01-20")  # review 2027-01-20
    size = api.tree_size
    body = _warnings(api, "2027-01-15")
    assert sorted((w["certificate"], w["due_kind"], w["days_before"]) for w in body["warnings"]) == [
        ("c1", "expiry", 90), ("c2", "review", 7)]
    assert api.tree_size == size + 2 and _count(api, db.certificate_warnings) == 2
    resp = api.client.post("/v1/jobs/certificate-warnings", headers=bearer(api.reader))
    assert_problem(resp, 403, "forbidden", "role 'reader'")


def test_warnings_for_a_future_day_refused_real_warnings_still_go_out(api: Api) -> None:
    _worker(api)
    _register(api, id="c1", issued_on="2021-03-01", review_due_on="2027-03-01")  # expires 2027-03-01
    api.set_plant_day("2026-11-20")  # 101 days before
    size = api.tree_size
    for on in ("2027-01-30", "2027-02-26", "2026-11-21"):  # would use up the 30-day, the 7-day, then nothing
        resp = api.client.post(f"/v1/jobs/certificate-warnings?on={on}", headers=bearer(api.admin))
        assert_problem(resp, 422, "malformed-input", f"on={on} is after today \\(2026-11-20, plant time\\)")
    assert api.tree_size == size and _count(api, db.certificate_warnings) == 0
    for on, days in (("2026-12-01", 90), ("2027-01-30", 30), ("2027-02-26", 7)):  # the real days
        assert [w["days_before"] for w in _warnings(api, on)["warnings"]] == [days]
    assert _count(api, db.certificate_warnings) == 3


def test_warnings_rerun_for_a_missed_past_day(api: Api) -> None:
    _worker(api)
    _register(api, id="c1", issued_on="2021-03-01", review_due_on="2027-03-01")
    api.set_plant_day("2027-02-05")  # the server was down on 2027-01-30
    resp = api.client.post("/v1/jobs/certificate-warnings?on=2027-01-30", headers=bearer(api.admin))
    assert resp.status_code == 200 and [w["days_before"] for w in resp.json()["warnings"]] == [30]
    assert resp.json()["on"] == "2027-01-30"


class _Registry(BaseHTTPRequestHandler):
    """Answers GET /certs?no=..: T-0001 as 王五 1.1, T-0002 as someone else, 404 for anything else."""

    def do_GET(self) -> None:
        answers = {"T-0001": {"holder_name": "王五", "sub_type": "1.1", "status": "valid"},
                   "T-0002": {"holder_name": "赵六", "sub_type": "1.1"}}
        number = self.path.split("no=")[1].split("&")[0]
        body = json.dumps(answers[number]).encode() if number in answers else b"{}"
        self.send_response(200 if number in answers else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def registry_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/certs?no={{number}}&name={{holder_name}}"
    server.shutdown()
    server.server_close()


def _verify(api: Api, cert_id: str) -> dict[str, Any]:
    size = api.tree_size
    resp = api.client.post(f"/v1/certificates/{cert_id}/verify", headers=bearer(api.admin))
    assert resp.status_code == 200, resp.text
    assert api.tree_size == size + 1
    body: dict[str, Any] = resp.json()
    return body


def test_verify_not_configured_records_unavailable(api: Api) -> None:
    _worker(api)
    _register(api, id="c1")
    body = _verify(api, "c1")
    assert (body["kind"], body["reason"]) == ("certificate.verification_unavailable",
                                              "no certificate registry is configured")
    resp = api.client.post("/v1/certificates/ghost/verify", headers=bearer(api.admin))
    assert_problem(resp, 404, "not-found", "certificate 'ghost' does not exist")


def test_verify_registry_confirms_disagrees_or_unreachable(api: Api, registry_url: str) -> None:
    _worker(api)
    _register(api, id="c1")
    _register(api, id="c2", number="T-0002")
    _register(api, id="c3", number="T-0003")
    _services(api).certificates.registry = HttpRegistry(registry_url)
    verified = _verify(api, "c1")
    assert verified["kind"] == "certificate.verified" and verified["registry"]["record"]["holder_name"] == "王五"
    failed = _verify(api, "c2")
    assert failed["kind"] == "certificate.verification_failed"
    assert failed["disagreements"] == ["holder_name: registry has '赵六', we have '王五'"]
    missing = _verify(api, "c3")
    assert missing["disagreements"] == ["number: the registry has no such certificate"]
    _services(api).certificates.registry = HttpRegistry("http://127.0.0.1:9/certs?no={number}", timeout=1)
    down = _verify(api, "c1")
    assert down["kind"] == "certificate.verification_unavailable"
    assert down["reason"].startswith("registry unreachable: ConnectError")
