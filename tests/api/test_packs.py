"""``/v1/evidence-packs``: a permit's pack built, self-verified and downloaded; a big scope in the background
with progress; the refusals (unknown scope, empty scope, other tenant, not ready) with their problems."""

from __future__ import annotations

from typing import Any

from evidence_api.config import Settings
from evidence_api.services.pack_viewer import PLACEHOLDER_MARK, VIEWER_MODULE
from ingest.signing import new_item, sign_item
from tests.api.permit_support import seed_plant, to_approved
from tests.api.support import Api, assert_problem, bearer
from tests.helpers import TENANT, signed_item, wait_until
from verifier.pack import verify_pack
from verifier.pack_zip import read_pack_zip


def _log_permit(api: Api, permit: str, count: int) -> None:
    for start in range(0, count, 8):
        body = {"events": [signed_item(api.guardian, permit=permit, payload={"n": n})
                           for n in range(start, min(count, start + 8))]}
        assert api.post_events(body).status_code == 201
    api.checkpoint(api.tree_size)


def _post(api: Api, scope: dict[str, Any], token: str = "reader") -> Any:
    return api.client.post("/v1/evidence-packs", json={"scope": scope}, headers=bearer(getattr(api, token)))


def test_permit_pack_built_verified_and_downloaded(api: Api) -> None:
    _log_permit(api, "P-7", 5)
    resp = _post(api, {"kind": "permit", "permit": "P-7"})
    assert resp.status_code == 201, resp.text
    status = resp.json()
    assert (status["status"], status["stage"], status["assurance"]) == ("ready", "done", "signed")
    assert status["download"] == f"/v1/evidence-packs/{status['id']}/zip"
    again = api.client.get(f"/v1/evidence-packs/{status['id']}", headers=bearer(api.admin)).json()
    assert again == status
    zipped = api.client.get(status["download"], headers=bearer(api.reader))
    assert zipped.status_code == 200 and zipped.headers["content-type"] == "application/zip"
    report = verify_pack(zipped.content, trust_root=api.trust_root())
    assert report.counts["events"] == 5 and report.pack_id == status["id"]
    assert report.evidence_digest == status["evidence_digest"] and report.pack_sm3 == status["sm3"]
    names = {e.path for e in read_pack_zip(zipped.content)}
    assert {"report.pdf", "report.html", "verify.html", "payloads/0.json"} <= names


def test_big_pack_builds_in_the_background_with_progress(api: Api, settings: Settings) -> None:
    services = api.client.app.state.services  # type: ignore[attr-defined]
    services.packs._sync_limit = 3  # the threshold is 2,000 events; lowered to exercise the same code path
    _log_permit(api, "P-8", 6)
    resp = _post(api, {"kind": "permit", "permit": "P-8"}, token="admin")
    assert resp.status_code == 202 and resp.json()["status"] == "building"
    url = f"/v1/evidence-packs/{resp.json()['id']}"

    def ready() -> dict[str, Any] | None:
        body: dict[str, Any] = api.client.get(url, headers=bearer(api.reader)).json()
        return body if body["status"] != "building" else None

    status = wait_until(ready, timeout=60)
    assert status["status"] == "ready" and status["total"] == 6 and status["done"] == 6
    assert (settings.data_dir / "packs" / "acme-chem" / f"{status['id']}.zip").is_file()


def test_pack_refusals(api: Api) -> None:
    _log_permit(api, "P-9", 1)
    assert_problem(_post(api, {"kind": "permit", "permit": "NOPE"}), 404, "not-found", "no logged event")
    assert _post(api, {"kind": "galaxy", "permit": "P-9"}).status_code == 422
    assert _post(api, {"kind": "permit", "permit": "P-9", "extra": 1}).status_code == 422
    assert _post(api, {"kind": "permit", "permit": "P-9"}, token="ingest").status_code == 403
    made = _post(api, {"kind": "permit", "permit": "P-9"}).json()
    other = api.client.get(f"/v1/evidence-packs/{made['id']}", headers=bearer(api.other_reader))
    assert_problem(other, 404, "not-found", "does not exist for tenant")


def test_area_and_worker_scopes(api: Api) -> None:
    plant = seed_plant(api)
    to_approved(plant, permit="HW-1")
    actor = api.guardian
    item = sign_item(actor, new_item(actor, tenant=TENANT, kind="certificate.reviewed", payload={"ok": True},
                                     occurred_at="2026-11-23T08:00:00Z", subject={"worker": "welder"}))
    assert api.post_events({"events": [item]}).status_code == 201
    api.checkpoint(api.tree_size)
    area = _post(api, {"kind": "area", "area": "unit-3", "from": "2020-01-01T00:00:00Z", "to": "2099-01-01T00:00:00Z"})
    assert area.status_code == 201, area.text
    assert area.json()["scope"]["permits"] == ["HW-1"] and area.json()["status"] == "ready"
    data = api.client.get(area.json()["download"], headers=bearer(api.reader)).content
    assert verify_pack(data, trust_root=api.trust_root()).counts["events"] >= 3
    worker = _post(api, {"kind": "worker", "worker": "welder"}).json()
    data = api.client.get(worker["download"], headers=bearer(api.reader)).content
    report = verify_pack(data, trust_root=api.trust_root())
    assert report.counts["events"] >= 1 and any("not chained" in n for n in report.notes)
    empty = _post(api, {"kind": "area", "area": "unit-4", "from": "2020-01-01T00:00:00Z", "to": "2021-01-01T00:00:00Z"})
    assert_problem(empty, 404, "not-found", "no logged event")


def test_verify_html_hook(api: Api) -> None:
    """verify.html is the browser verifier's build once ``verifier.web.build`` is on main (placeholder before)."""
    import importlib.util

    _log_permit(api, "P-11", 1)
    status = _post(api, {"kind": "permit", "permit": "P-11"}).json()
    data = api.client.get(status["download"], headers=bearer(api.reader)).content
    page = next(e.data for e in read_pack_zip(data) if e.path == "verify.html")
    builder_landed = importlib.util.find_spec("verifier.web") is not None and \
        importlib.util.find_spec(VIEWER_MODULE) is not None
    assert (PLACEHOLDER_MARK in page) is (not builder_landed), "verify.html must be the browser verifier's build"
