"""Who may do what: every operation of the OpenAPI document × every caller (no token, a garbage token, the
platform admin, a tenant's admin, ingest and reader tokens, and the same three roles of another tenant),
each asserting the exact status. The operations come from the document, so a new route without an entry
in ``ROUTES`` fails here."""

from __future__ import annotations

import io
import itertools
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings
from evidence_api.main import create_app
from ingest.media import tus
from ingest.signing import Actor
from ledger.clock import Clock
from tests.api.permit_support import Plant, hot_work, seed_plant
from tests.api.support import (
    ADMIN_TOKEN,
    MAX_BATCH,
    MAX_BODY_BYTES,
    OTHER_TENANT,
    Api,
    bearer,
    key_body,
    seed,
)
from tests.helpers import TENANT, make_actor, signed_item

CALLERS = ("none", "garbage", "platform", "admin", "ingest", "reader", "regulator", "insurer", "other-admin",
           "other-ingest", "other-reader", "other-regulator")
READ = frozenset({"admin", "ingest", "reader"})
DIGEST = READ | {"regulator"}
RISK = READ | {"insurer"}
INSURERS = ("insure-co", "insure-two")  # insurer organisations; TENANT granted both access to its risk records
_YESTERDAY = (Clock().today() - timedelta(days=1)).isoformat()
WRITE = frozenset({"admin", "ingest"})
ADMIN = frozenset({"admin"})
PLATFORM_ONLY: frozenset[str] = frozenset()
PACKS = frozenset({"admin", "reader"})  # a pack discloses decrypted payloads: not for device (ingest) tokens


@dataclass
class World:
    """The running service: tenant TENANT with a plant, a logged event and a drafted permit; OTHER_TENANT bare."""

    api: Api
    plant: Plant
    event_id: str
    other_admin: str
    regulators: tuple[str, str]
    insurer: str
    unfinished: str = ""
    stored: tus.Upload | None = None  # type: ignore[assignment]
    counter: Iterator[int] = field(default_factory=itertools.count)
    pack_id: str | None = None
    _camera: Actor | None = None

    def camera(self) -> Actor:
        """TENANT's camera (registered on first use)."""
        if self._camera is None:
            self._camera = make_actor("matrix-cam", kind="device")
            self.api.typed("admin").create_device(self._camera, kind="camera")
        return self._camera

    def fresh(self, prefix: str) -> str:
        """A new id, so that every create in the matrix stands alone."""
        return f"{prefix}-{next(self.counter)}"

    def token(self, caller: str) -> str | None:
        tokens = {"none": None, "garbage": "garbage-token-that-nobody-issued", "platform": ADMIN_TOKEN,
                  "admin": self.api.admin, "ingest": self.api.ingest, "reader": self.api.reader,
                  "other-admin": self.other_admin, "other-ingest": self.api.other_ingest,
                  "other-reader": self.api.other_reader, "regulator": self.regulators[0],
                  "other-regulator": self.regulators[1], "insurer": self.insurer}
        return tokens[caller]

    def pack(self) -> str:
        """The id of an evidence pack of TENANT's permit HW-1 (made once, by TENANT's admin)."""
        if self.pack_id is None:
            resp = self.api.client.post("/v1/evidence-packs", json={"scope": {"kind": "permit", "permit": "HW-1"}},
                                        headers=bearer(self.api.admin))
            assert resp.status_code == 201, resp.text
            self.pack_id = str(resp.json()["id"])
        return self.pack_id

    def drafted(self) -> str:
        """A new permit in state draft (drafted by TENANT's ingest token)."""
        permit = self.fresh("AZ")
        resp = self.plant.send(self.plant.item("applicant", "permit.drafted", hot_work(), permit=permit))
        assert resp.status_code == 201, resp.text
        return permit


Request = tuple[str, dict[str, Any]]  # url, keyword arguments of the client call
Build = Callable[[World], Request]


@dataclass(frozen=True)
class Entry:
    """Who may call an operation and what each caller gets.

    ``roles``: tenant roles allowed (others get 403); ``ok``: the status an allowed caller of the owning
    tenant gets; ``other``: what an allowed role of the other tenant gets (its own data, or 404/403/422 for
    TENANT's); ``platform``: what the platform admin gets (403 where the operation needs a tenant)."""

    build: Build
    roles: frozenset[str]
    ok: int
    other: int
    platform: int = 403
    public: bool = False


def _get(url: str, **params: Any) -> Build:
    return lambda w: (url, {"params": params} if params else {})


def _json(url: str, body: Callable[[World], Any]) -> Build:
    return lambda w: (url, {"json": body(w)})


def _key(w: World) -> dict[str, str]:
    return key_body(make_actor(w.fresh("dev"), kind="device"))


def _user(w: World) -> dict[str, Any]:
    actor = make_actor(w.fresh("u"))
    return {"id": actor.id, "name": "张三", "roles": ["guardian"], "key_id": actor.key_id,
            "public_key_pem": actor.signer.public.to_pem()}


def _device(w: World) -> dict[str, Any]:
    actor = make_actor(w.fresh("d"), kind="device")
    return {"id": actor.id, "kind": "detector", "key_id": actor.key_id, "public_key_pem": actor.signer.public.to_pem()}


def _certificate(w: World) -> dict[str, Any]:
    n = w.fresh("C")
    return {"id": n, "worker": "welder", "category": "2", "sub_type": "2.1", "number": f"T{n}", "holder_name": "welder",
            "issued_on": "2024-03-01", "authority": "上海市应急管理局"}


def _import(w: World) -> Request:
    csv = f"number,holder_name,worker,category,sub_type,issued_on,authority\nT{w.fresh('I')},welder,welder,2,2.1,2024-03-01,局\n"
    return "/v1/certificates/import", {"content": csv.encode(), "headers": {"Content-Type": "text/csv"}}


def _event(w: World) -> dict[str, Any]:
    return {"events": [signed_item(w.api.guardian, permit=None, kind="guardian.checkin")]}


def _cancel(w: World) -> Request:
    permit = w.drafted()
    item = w.plant.item("applicant", "permit.cancelled", {"note": "matrix"}, permit=permit)
    return f"/v1/permits/{permit}/actions", {"json": item}


def _upload(w: World, size: int = 10, token: str | None = None) -> tuple[str, bytes]:
    """A new unfinished upload of TENANT (its URL) and the bytes it expects."""
    data = os.urandom(size)
    resp = w.api.client.post("/v1/media", headers=_tus(token or w.api.admin, Upload_Length=str(size),
                                                       Upload_Metadata=tus.tus_metadata(_meta(data))))
    assert resp.status_code == 201, resp.text
    return resp.headers["Location"], data


def _tus(token: str | None = None, **extra: str) -> dict[str, str]:
    return (bearer(token) if token else {}) | tus.TUS_HEADERS | {k.replace("_", "-"): v for k, v in extra.items()}


def _meta(data: bytes) -> dict[str, str]:
    return {"sm3": tus.file_sm3(io.BytesIO(data))[0], "content_type": "image/jpeg"}


def _stored(w: World) -> tus.Upload:
    return tus.upload(w.api.typed("admin"), io.BytesIO(os.urandom(20)), content_type="image/jpeg")


def _media_event(w: World) -> Request:
    upload = _stored(w)
    item = tus.media_stored_item(w.camera(), tenant=TENANT, media=upload, content_type="image/jpeg",
                                 captured_at=w.plant.clock.stamp())
    return f"/v1/media/{upload.id}/event", {"json": item}


def _patch(w: World) -> Request:
    url, data = _upload(w)
    return url, {"content": data, "headers": _tus(Upload_Offset="0") | {"Content-Type": "application/offset+octet-stream"}}


def _hold(w: World) -> Request:
    return "/v1/permits/HW-1/legal-holds", {"json": w.plant.item("safety", "legal_hold.placed", {"reason": "事故调查"})}


def _release(w: World) -> Request:
    placed = w.api.client.post("/v1/permits/HW-1/legal-holds", json=w.plant.item(
        "safety", "legal_hold.placed", {"reason": "事故调查"}), headers=bearer(w.api.admin))
    assert placed.status_code == 201, placed.text
    hold = placed.json()["id"]
    item = w.plant.item("safety", "legal_hold.released", {"hold": hold, "reason": "调查结束"})
    return f"/v1/permits/HW-1/legal-holds/{hold}/release", {"json": item}


_RULES: dict[str, Any] = {"overrides": {"hot_work_upgrade": {"night_from_hour": None, "rest_days": []}}}
_FENCE = {"circle": {"lat": 31.2, "lon": 121.5, "radius_m": 100}}

ROUTES: dict[tuple[str, str], Entry] = {
    ("POST", "/v1/tenants"): Entry(_json("/v1/tenants", lambda w: {"id": w.fresh("t"), "name": "T"}),
                                   PLATFORM_ONLY, 201, 403, platform=201),
    ("POST", "/v1/tokens"): Entry(_json("/v1/tokens", lambda w: {"tenant": TENANT, "role": "reader", "label": "m"}),
                                  ADMIN, 201, 403, platform=201),
    ("POST", "/v1/keys"): Entry(_json("/v1/keys", _key), ADMIN, 201, 403, platform=201),
    ("GET", "/v1/certificates/catalog"): Entry(_get("/v1/certificates/catalog"), READ, 200, 200, platform=200),
    ("POST", "/v1/certificates"): Entry(_json("/v1/certificates", _certificate), ADMIN, 201, 404),
    ("GET", "/v1/certificates"): Entry(_get("/v1/certificates"), READ, 200, 200),
    ("GET", "/v1/certificates/summary"): Entry(_get("/v1/certificates/summary"), READ, 200, 200),
    ("POST", "/v1/certificates/import"): Entry(_import, ADMIN, 200, 200),
    ("GET", "/v1/certificates/{certificate_id}"): Entry(_get("/v1/certificates/welder-c0"), READ, 200, 404),
    ("POST", "/v1/certificates/{certificate_id}/verify"): Entry(_get("/v1/certificates/welder-c0/verify"), ADMIN, 200,
                                                                404),
    ("POST", "/v1/jobs/certificate-warnings"): Entry(_get("/v1/jobs/certificate-warnings"), ADMIN, 200, 200,
                                                     platform=200),
    ("POST", "/v1/events"): Entry(_json("/v1/events", _event), WRITE, 201, 422),
    ("GET", "/v1/events/{event_id}/bundle"): Entry(lambda w: (f"/v1/events/{w.event_id}/bundle", {}), READ, 200, 404),
    ("POST", "/v1/evidence-packs"): Entry(_json("/v1/evidence-packs", lambda w: {
        "scope": {"kind": "permit", "permit": "HW-1"}}), PACKS, 201, 404),
    ("GET", "/v1/evidence-packs/{pack_id}"): Entry(lambda w: (f"/v1/evidence-packs/{w.pack()}", {}), PACKS, 200, 404),
    ("GET", "/v1/evidence-packs/{pack_id}/zip"): Entry(lambda w: (f"/v1/evidence-packs/{w.pack()}/zip", {}), PACKS,
                                                       200, 404),
    ("GET", "/v1/log/checkpoint"): Entry(_get("/v1/log/checkpoint"), READ, 200, 200, 200, public=True),
    ("GET", "/v1/log/public-key"): Entry(_get("/v1/log/public-key"), READ, 200, 200, 200, public=True),
    ("GET", "/v1/log/proofs/inclusion"): Entry(_get("/v1/log/proofs/inclusion", leaf_index=0, tree_size=1), READ, 200,
                                               200, 200, public=True),
    ("GET", "/v1/log/proofs/consistency"): Entry(_get("/v1/log/proofs/consistency", first=1, second=1), READ, 200,
                                                 200, 200, public=True),
    ("GET", "/v1/log/anchors"): Entry(_get("/v1/log/anchors", tree_size=1), READ, 200, 200, 200, public=True),
    ("GET", "/v1/log/tlog/checkpoint"): Entry(_get("/v1/log/tlog/checkpoint"), READ, 200, 200, 200, public=True),
    ("GET", "/v1/log/tlog/tile/{tile_path}"): Entry(_get("/v1/log/tlog/tile/0/000.p/1"), READ, 200, 200, 200,
                                                     public=True),
    ("GET", "/v1/settings/rules"): Entry(_get("/v1/settings/rules"), READ, 200, 200),
    ("PUT", "/v1/settings/rules"): Entry(_json("/v1/settings/rules", lambda w: _RULES), ADMIN, 200, 200),
    ("GET", "/v1/sites"): Entry(_get("/v1/sites"), READ, 200, 200),
    ("POST", "/v1/sites"): Entry(_json("/v1/sites", lambda w: {"id": w.fresh("s"), "name": "S"}), ADMIN, 201, 201),
    ("POST", "/v1/areas"): Entry(_json("/v1/areas", lambda w: {"id": w.fresh("a"), "site": "plant-1", "name": "A",
                                                               "geofence": _FENCE}), ADMIN, 201, 404),
    ("GET", "/v1/areas"): Entry(_get("/v1/areas"), READ, 200, 200),
    ("POST", "/v1/contractors"): Entry(_json("/v1/contractors", lambda w: {"id": w.fresh("c"), "name": "C"}), ADMIN,
                                       201, 201),
    ("GET", "/v1/users"): Entry(_get("/v1/users"), READ, 200, 200),
    ("POST", "/v1/users"): Entry(_json("/v1/users", _user), ADMIN, 201, 201),
    ("POST", "/v1/devices"): Entry(_json("/v1/devices", _device), ADMIN, 201, 201),
    ("POST", "/v1/workers"): Entry(_json("/v1/workers", lambda w: {"id": w.fresh("w"), "name": "W", "team": "T"}),
                                   ADMIN, 201, 201),
    ("GET", "/v1/workers"): Entry(_get("/v1/workers"), READ, 200, 200),
    ("GET", "/v1/workers/{worker_id}"): Entry(_get("/v1/workers/welder"), READ, 200, 404),
    ("POST", "/v1/workers/{worker_id}/violations"): Entry(
        _json("/v1/workers/welder/violations", lambda w: {"id": w.fresh("v"), "occurred_on": "2020-01-01",
                                                          "description": "old"}), ADMIN, 201, 404),
    ("POST", "/v1/permits"): Entry(lambda w: ("/v1/permits", {"json": w.plant.item(
        "applicant", "permit.drafted", hot_work(), permit=w.fresh("PD"))}), WRITE, 201, 422),
    ("GET", "/v1/permits"): Entry(_get("/v1/permits"), READ, 200, 200),
    ("POST", "/v1/permits/{permit_id}/actions"): Entry(_cancel, WRITE, 200, 422),
    ("GET", "/v1/permits/by-area"): Entry(_get("/v1/permits/by-area"), READ, 200, 200),
    ("GET", "/v1/permits/{permit_id}"): Entry(_get("/v1/permits/HW-1"), READ, 200, 404),
    ("GET", "/v1/permits/{permit_id}/timeline"): Entry(_get("/v1/permits/HW-1/timeline"), READ, 200, 404),
    ("GET", "/v1/regulator/digests"): Entry(_get("/v1/regulator/digests", **{"from": _YESTERDAY, "to": _YESTERDAY}),
                                            DIGEST, 200, 200),
    ("GET", "/v1/risk-records"): Entry(_get("/v1/risk-records", tenant=TENANT, **{"from": _YESTERDAY, "to": _YESTERDAY}),
                                       RISK, 200, 403),
    ("POST", "/v1/risk-grants"): Entry(_json("/v1/risk-grants", lambda w: {"insurer": OTHER_TENANT}), ADMIN, 201, 422),
    ("DELETE", "/v1/risk-grants/{insurer}"): Entry(lambda w: (f"/v1/risk-grants/{INSURERS[1]}", {}), ADMIN, 200, 404),
    ("GET", "/v1/projection"): Entry(_get("/v1/projection"), PLATFORM_ONLY, 200, 403, platform=200),
    ("OPTIONS", "/v1/media"): Entry(_get("/v1/media"), READ, 204, 204, platform=204),
    ("POST", "/v1/media"): Entry(lambda w: ("/v1/media", {"headers": _tus(
        Upload_Length="3", Upload_Metadata=tus.tus_metadata(_meta(b"abc")))}), WRITE, 201, 201),
    ("HEAD", "/v1/media/{media_id}"): Entry(lambda w: (w.unfinished, {"headers": _tus()}), READ, 200, 404),
    ("PATCH", "/v1/media/{media_id}"): Entry(_patch, WRITE, 204, 404),
    ("DELETE", "/v1/media/{media_id}"): Entry(lambda w: (_upload(w)[0], {"headers": _tus()}), WRITE, 204, 404),
    ("GET", "/v1/media/{media_id}"): Entry(lambda w: (f"/v1/media/{w.stored.id}", {}), READ, 200, 404),
    ("GET", "/v1/media/{media_id}/record"): Entry(lambda w: (f"/v1/media/{w.stored.id}/record", {}), READ, 200, 404),
    ("POST", "/v1/media/{media_id}/event"): Entry(_media_event, WRITE, 201, 404),
    ("GET", "/v1/permits/{permit_id}/legal-holds"): Entry(_get("/v1/permits/HW-1/legal-holds"), READ, 200, 404),
    ("POST", "/v1/permits/{permit_id}/legal-holds"): Entry(_hold, WRITE, 201, 422),
    ("POST", "/v1/permits/{permit_id}/legal-holds/{hold_id}/release"): Entry(_release, WRITE, 200, 422),
    ("POST", "/v1/jobs/media-retention"): Entry(_get("/v1/jobs/media-retention"), ADMIN, 200, 200, platform=200),
}


def _document() -> dict[str, Any]:
    """The OpenAPI document, built without opening any service."""
    with tempfile.TemporaryDirectory() as tmp:
        spec: dict[str, Any] = create_app(Settings(environment="dev", data_dir=Path(tmp))).openapi()
    return spec


DOCUMENT = _document()
OPERATIONS = [(method.upper(), path) for path, ops in DOCUMENT["paths"].items() for method in ops]


def expected(entry: Entry, caller: str) -> int:
    """The exact status ``caller`` gets from an operation described by ``entry``."""
    if entry.public:
        return entry.ok
    if caller in ("none", "garbage"):
        return 401
    if caller == "platform":
        return entry.platform
    role = caller.removeprefix("other-")
    if role not in entry.roles:
        return 403
    return entry.other if caller.startswith("other-") else entry.ok


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("matrix")
    settings = Settings(environment="dev", data_dir=tmp / "data", admin_token=ADMIN_TOKEN, intake_workers=0,
                        checkpoint_interval=0.05, anchor_interval=0.1, max_batch=MAX_BATCH,
                        max_body_bytes=MAX_BODY_BYTES, watchdog_interval=3600)
    with TestClient(create_app(settings)) as client:
        api = seed(client)
        plant = seed_plant(api)
        resp = plant.send(plant.item("applicant", "permit.drafted", hot_work()))
        assert resp.status_code == 201, resp.text
        event_id = resp.json()["receipts"][0]["event_id"]
        api.checkpoint(api.tree_size)
        other_admin = client.post("/v1/tokens", json={"tenant": OTHER_TENANT, "role": "admin", "label": "admin"},
                                  headers=bearer(ADMIN_TOKEN)).json()["token"]
        regulators = tuple(client.post("/v1/tokens", json={"tenant": t, "role": "regulator", "label": "regulator"},
                                       headers=bearer(ADMIN_TOKEN)).json()["token"] for t in (TENANT, OTHER_TENANT))
        for insurer in INSURERS:
            client.post("/v1/tenants", json={"id": insurer, "name": insurer}, headers=bearer(ADMIN_TOKEN))
            client.post("/v1/risk-grants", json={"insurer": insurer}, headers=bearer(api.admin))
        insurer_token = client.post("/v1/tokens", json={"tenant": INSURERS[0], "role": "insurer", "label": "i"},
                                    headers=bearer(ADMIN_TOKEN)).json()["token"]
        world = World(api, plant, event_id, other_admin, (regulators[0], regulators[1]), insurer_token)
        world.unfinished = _upload(world, size=100)[0]
        world.stored = _stored(world)
        yield world


def test_matrix_has_an_entry_for_every_documented_operation() -> None:
    assert sorted(set(OPERATIONS) - set(ROUTES)) == [], "add these operations to ROUTES"
    assert sorted(set(ROUTES) - set(OPERATIONS)) == [], "these ROUTES entries name no documented operation"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_authz(world: World, method: str, path: str, caller: str) -> None:
    entry = ROUTES[(method, path)]
    url, kwargs = entry.build(world)
    token = world.token(caller)
    headers = kwargs.pop("headers", {}) | (bearer(token) if token else {})
    resp = world.api.client.request(method, url, headers=headers, **kwargs)
    assert resp.status_code == expected(entry, caller), resp.text
    assert str(resp.status_code) in DOCUMENT["paths"][path][method.lower()]["responses"], "undocumented status"
    if resp.status_code >= 400:
        assert resp.headers["content-type"] == "application/problem+json"
    if resp.status_code == 401:
        assert resp.headers["www-authenticate"] == "Bearer"
