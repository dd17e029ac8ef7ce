"""The typed API client (``ingest.client``) against the real app in-process: typed answers for every resource,
one ``ApiError`` with the problem for every refusal (and nothing written), transport failures translated,
and retries only where the server deduplicates."""

from __future__ import annotations

import json
import socket
from datetime import date, timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ingest.client import ApiClient, ApiError, ApiUnreachable
from ingest.records import Receipt
from ingest.seed import AreaPlan, CertificatePlan, PlantPlan, WorkerPlan, new_actor, open_tenant, seed_plant
from ingest.signing import new_item, sign_item
from tests.api.support import ADMIN_TOKEN, Api
from tests.helpers import TENANT, make_actor, signed_item, unsigned_item
from verifier.bundle import Bundle, verify_bundle
from verifier.merkle import verify_consistency, verify_inclusion

POINT = (31.2, 121.5)


def _plan(far: date) -> PlantPlan:
    """A small plant whose welder's certificate expires on ``far``."""
    return PlantPlan("plant-9", "九厂", areas=[AreaPlan("unit-9", "九号装置", *POINT, radius_m=300)],
                     people={"ann": ["applicant"], "bo": ["team_leader", "guardian"]},
                     workers=[WorkerPlan("welder-9", "焊工", [CertificatePlan(
                         "2.1", issued_on=far - timedelta(days=2000), expires_on=far,
                         review_due_on=far - timedelta(days=500))])],
                     devices={"lel-9": ("detector", "unit-9")})


def test_client_seeds_a_tenant_and_plant_with_typed_answers(client: TestClient) -> None:
    root = ApiClient(client, token=ADMIN_TOKEN)
    access = open_tenant(root, "plant-co", "Plant Co.")
    assert set(access.tokens) == {"admin", "ingest", "reader"}
    today = client.app.state.services.clock.today()  # type: ignore[attr-defined]
    plant = seed_plant(access.admin, "plant-co", _plan(today + timedelta(days=900)))
    assert set(plant.people) == {"ann", "bo"} and set(plant.devices) == {"lel-9"} and plant.qr["unit-9"]
    reader = access.clients["reader"]
    assert [s.name for s in reader.sites()] == ["九厂"]
    [area] = reader.areas(site="plant-9")
    assert area.geofence["circle"]["radius_m"] == 300 and area.qr_token is None  # shown only when created
    assert {u.id: u.roles for u in reader.users()} == {"ann": ("applicant",), "bo": ("guardian", "team_leader")}
    assert reader.worker("welder-9").team == "维修一班"
    [certificate] = reader.certificates(sub_type="2.1")
    assert (certificate.worker, certificate.state, certificate.expires_on) == ("welder-9", "valid",
                                                                                today + timedelta(days=900))


def test_client_submits_signed_and_attested_events_idempotently(api: Api) -> None:
    ingest = api.typed("ingest")
    item = signed_item(api.guardian)
    [first] = ingest.submit([item])
    [again] = ingest.submit([item])  # a device retrying after a timeout
    assert isinstance(first, Receipt) and not first.duplicate
    assert (again.leaf_index, again.leaf_hash, again.duplicate) == (first.leaf_index, first.leaf_hash, True)
    readings = [unsigned_item(api.detector, kind="detector.reading", payload={"n": n}) for n in range(3)]
    receipts = ingest.submit_attested(api.detector, TENANT, readings)
    assert [r.leaf_index for r in receipts] == [1, 2, 3]


def test_client_log_answers_are_typed_and_verify(api: Api) -> None:
    ingest = api.typed("ingest")
    receipts = ingest.submit([signed_item(api.guardian, payload={"n": n}) for n in range(5)])
    checkpoint = api.checkpoint(5)
    log = ApiClient(api.client)  # the log routes are public
    head = log.checkpoint()
    assert (head.tree_size, head.root_hash.hex()) == (5, checkpoint["root_hash"])
    proof = log.inclusion_proof(receipts[3].leaf_index, 5)
    verify_inclusion(3, 5, receipts[3].leaf_hash, list(proof.proof), head.root_hash)
    consistency = log.consistency_proof(2, 5)
    verify_consistency(2, 5, consistency.first_root, head.root_hash, list(consistency.proof))
    assert log.public_key().public_key_pem == api.log_key_pem()
    assert log.anchors(5).tree_size == 5


def test_client_permit_actions_timeline_and_bundle(api: Api) -> None:
    from tests.api.permit_support import hot_work
    from tests.api.permit_support import seed_plant as seed_test_plant

    plant = seed_test_plant(api)
    ingest = api.typed("ingest")
    drafted = ingest.send_action(plant.item("applicant", "permit.drafted", hot_work()))
    assert (drafted.permit.id, drafted.permit.state, drafted.permit.version) == ("HW-1", "draft", 1)
    submitted = ingest.act("HW-1", plant.item("applicant", "permit.submitted", {"note": ""}))
    assert submitted.permit.state == "submitted" and submitted.receipts[0].leaf_index > drafted.receipts[0].leaf_index
    reader = api.typed("reader")
    assert [p.id for p in reader.permits(state="submitted")] == ["HW-1"]
    timeline = reader.timeline("HW-1")
    assert [e.kind for e in timeline] == ["permit.drafted", "permit.submitted"]
    assert timeline[1].prev is not None
    api.checkpoint(api.tree_size)  # a bundle exists once a checkpoint covers the event
    bundle = reader.bundle(timeline[1].event_id)
    verify_bundle(Bundle.from_bytes(json.dumps(bundle.document).encode()), trust_root=api.trust_root())


def test_client_refusal_is_one_api_error_with_the_problem_and_writes_nothing(api: Api) -> None:
    admin = api.typed("admin")
    admin.create_site("plant-1", "一厂")
    with pytest.raises(ApiError, match=r"POST /v1/sites answered 409 \(Conflicts with stored state\): .*plant-1") as err:
        admin.create_site("plant-1", "another name")
    assert (err.value.status, err.value.slug, err.value.rule) == (409, "conflict", None)
    assert [s.name for s in admin.sites()] == ["一厂"]

    with pytest.raises(ApiError, match="answered 401") as err:
        ApiClient(api.client, token="not-a-token").sites()
    assert err.value.problem["status"] == 401 and err.value.type.endswith("/unauthorized")


def test_client_rule_refusal_names_the_rule(api: Api) -> None:
    from tests.api.permit_support import hot_work
    from tests.api.permit_support import seed_plant as seed_test_plant

    plant = seed_test_plant(api)
    content = hot_work(workers=[{"worker": "hv-electrician", "operation": "2.1", "hours_per_day": 6}])
    ingest = api.typed("ingest")
    ingest.draft(plant.item("applicant", "permit.drafted", content))
    with pytest.raises(ApiError, match=r"answered 422 .*\[rule certificate\.[a-z_]+\]") as err:
        ingest.act("HW-1", plant.item("applicant", "permit.submitted", {"note": ""}))
    assert err.value.slug == "rule-violation" and err.value.rule
    assert (api.typed("reader").permit("HW-1").state, api.typed("reader").permit("HW-1").version) == ("draft", 1)


def test_client_unreachable_server_is_translated_once() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with ApiClient.connect(f"http://127.0.0.1:{port}", retries=1, backoff=0.01) as client:
        with pytest.raises(ApiUnreachable, match=rf"GET /v1/log/checkpoint: no answer from http://127.0.0.1:{port}"):
            client.checkpoint()
        with pytest.raises(ApiUnreachable, match="is the server running"):
            client.create_tenant("t", "T")


def test_api_error_from_a_response_that_is_not_a_problem() -> None:
    request = httpx.Request("POST", "http://proxy.example/v1/events")
    error = ApiError.from_response(httpx.Response(502, text="<html>Bad Gateway</html>", request=request))
    assert str(error) == "POST /v1/events answered 502 (Bad Gateway): <html>Bad Gateway</html>"


class _Flaky:
    """A real app that answers 503 (a store briefly unavailable) to its first ``failures`` requests."""

    def __init__(self, failures: int) -> None:
        self.failures, self.seen = failures, 0
        self.app = Starlette(routes=[Route("/v1/{path:path}", self._answer, methods=["GET", "POST"])])

    async def _answer(self, request: Request) -> JSONResponse:
        self.seen += 1
        if self.seen <= self.failures:
            return JSONResponse({"type": "https://tiezheng.dev/problems/storage-unavailable", "status": 503,
                                 "title": "The evidence store could not complete the request", "detail": "busy"},
                                status_code=503, media_type="application/problem+json")
        return JSONResponse({"receipts": [], "id": "s", "name": "n"}, status_code=201)


def test_client_retries_event_submission_but_not_a_create() -> None:
    flaky = _Flaky(failures=2)
    with TestClient(flaky.app) as http:
        client = ApiClient(http, retries=3, backoff=0.001)
        assert client.submit_encoded(b'{"events": []}') == ()
        assert flaky.seen == 3  # two 503s, then the answer
        flaky.failures, flaky.seen = 1, 0
        with pytest.raises(ApiError, match="answered 503"):
            client.create_site("s", "n")  # a create is not idempotent: no second attempt
        assert flaky.seen == 1


def test_seed_new_actor_key_id_follows_the_convention() -> None:
    actor = new_actor("lel-9", "device")
    assert (actor.type, actor.id, actor.key_id) == ("device", "lel-9", "lel-9#1")
    item = sign_item(actor, new_item(actor, tenant=TENANT, kind="detector.reading", payload={},
                                     occurred_at="2026-12-01T00:00:00.000Z"))
    assert item["event"]["actor"]["key_id"] == "lel-9#1"
    assert make_actor("x").key_id == "x#1"
