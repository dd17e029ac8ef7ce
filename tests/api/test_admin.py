"""``/v1/tenants``, ``/v1/tokens``, ``/v1/keys`` and the bootstrap admin token: who may do what, and the
problem details of each refusal (a refused request changes nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import func, select

from evidence_api import db
from evidence_api.config import Settings
from ledger.sm import SM2PublicKey
from tests.api.support import ADMIN_TOKEN, BOTH_DATABASES, OTHER_TENANT, Api, assert_problem, bearer, key_body
from tests.helpers import TENANT, make_actor, signed_item
from verifier.sm import PublicKey

ROOT = bearer(ADMIN_TOKEN)


# -- tenants -----------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_create_tenant_with_bootstrap_token_returns_201(client: TestClient) -> None:
    resp = client.post("/v1/tenants", json={"id": "acme-chem", "name": "Acme Chemical Co."}, headers=ROOT)

    assert resp.status_code == 201, resp.text
    assert resp.json() == {"id": "acme-chem", "name": "Acme Chemical Co."}


def test_create_tenant_twice_returns_409(client: TestClient) -> None:
    client.post("/v1/tenants", json={"id": "acme-chem", "name": "Acme"}, headers=ROOT)

    resp = client.post("/v1/tenants", json={"id": "acme-chem", "name": "Acme again"}, headers=ROOT)

    assert_problem(resp, 409, "conflict", "tenant 'acme-chem' already exists")


def test_create_tenant_with_tenant_admin_token_returns_403(api: Api) -> None:
    resp = api.client.post("/v1/tenants", json={"id": "rogue", "name": "Rogue"}, headers=bearer(api.admin))

    assert_problem(resp, 403, "forbidden", r"role 'admin' may not do this; needs one of \['platform-admin'\]")
    body = {"tenant": "rogue", "role": "reader", "label": "x"}
    assert_problem(api.client.post("/v1/tokens", json=body, headers=ROOT), 404, "not-found",
                   "tenant 'rogue' does not exist")


def test_create_tenant_without_token_returns_401(client: TestClient) -> None:
    resp = client.post("/v1/tenants", json={"id": "acme-chem", "name": "Acme"})

    assert_problem(resp, 401, "unauthorized", "send 'Authorization: Bearer <token>'")
    assert resp.headers["www-authenticate"] == "Bearer"


def test_create_tenant_with_wrong_bootstrap_token_returns_401(client: TestClient) -> None:
    resp = client.post("/v1/tenants", json={"id": "acme-chem", "name": "Acme"}, headers=bearer(ADMIN_TOKEN + "x"))

    assert_problem(resp, 401, "unauthorized", "unknown bearer token")


@pytest.mark.parametrize(("body", "detail"), [
    ({"id": "has space", "name": "X"}, "body.id: String should match pattern"),
    ({"id": "x", "name": ""}, "body.name: String should have at least 1 character"),
    ({"name": "X"}, "body.id: Field required"),
])
def test_create_tenant_with_invalid_body_returns_422(client: TestClient, body: dict[str, str], detail: str) -> None:
    assert_problem(client.post("/v1/tenants", json=body, headers=ROOT), 422, "malformed-input", detail)


# -- tokens ------------------------------------------------------------------------------------------
def test_issue_token_for_unknown_tenant_returns_404(client: TestClient) -> None:
    resp = client.post("/v1/tokens", json={"tenant": "nope", "role": "reader", "label": "x"}, headers=ROOT)

    assert_problem(resp, 404, "not-found", "tenant 'nope' does not exist; create it with POST /v1/tenants")


def test_issue_token_with_unknown_role_returns_422(api: Api) -> None:
    resp = api.client.post("/v1/tokens", json={"tenant": TENANT, "role": "owner", "label": "x"}, headers=ROOT)

    assert_problem(resp, 422, "malformed-input", "body.role: Input should be 'admin', 'ingest', 'reader', 'regulator' or 'insurer'")


def test_issue_token_by_tenant_admin_for_own_tenant_gives_working_token(api: Api) -> None:
    resp = api.client.post("/v1/tokens", json={"tenant": TENANT, "role": "ingest", "label": "unit 3"},
                           headers=bearer(api.admin))

    assert resp.status_code == 201, resp.text
    issued = resp.json()
    assert (issued["tenant"], issued["role"]) == (TENANT, "ingest")
    assert api.post_events({"events": [signed_item(api.guardian)]}, token=issued["token"]).status_code == 201


def test_issue_token_by_tenant_admin_for_other_tenant_returns_403(api: Api) -> None:
    resp = api.client.post("/v1/tokens", json={"tenant": OTHER_TENANT, "role": "admin", "label": "x"},
                           headers=bearer(api.admin))

    assert_problem(resp, 403, "forbidden", f"token of tenant '{TENANT}' may not act for tenant '{OTHER_TENANT}'")


@pytest.mark.parametrize("role", ["ingest", "reader"])
def test_issue_token_with_non_admin_token_returns_403(api: Api, role: str) -> None:
    resp = api.client.post("/v1/tokens", json={"tenant": TENANT, "role": "admin", "label": "x"},
                           headers=bearer(getattr(api, role)))

    assert_problem(resp, 403, "forbidden", rf"role '{role}' may not do this; needs one of \['admin'\]")


# -- keys --------------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_register_key_returns_201_with_fingerprint(api: Api) -> None:
    actor = make_actor("guardian-9")

    resp = api.client.post("/v1/keys", json=key_body(actor), headers=bearer(api.admin))

    assert resp.status_code == 201, resp.text
    fingerprint = PublicKey.from_pem(actor.signer.public.to_pem()).fingerprint()
    assert resp.json() == {"tenant": TENANT, "key_id": "guardian-9#1", "actor_type": "user", "actor_id": "guardian-9",
                           "fingerprint": fingerprint}
    assert api.post_events({"events": [signed_item(actor)]}).status_code == 201


def test_register_key_with_taken_key_id_returns_409_and_keeps_old_key(api: Api) -> None:
    usurper = make_actor("guardian-1")

    resp = api.client.post("/v1/keys", json=key_body(usurper), headers=bearer(api.admin))

    assert_problem(resp, 409, "conflict", f"key id 'guardian-1#1' is already registered for tenant '{TENANT}'; "
                                          "keys are immutable")
    assert api.post_events({"events": [signed_item(api.guardian)]}).status_code == 201
    assert_problem(api.post_events({"events": [signed_item(usurper)]}), 422, "invalid-signature",
                   "sm2 signature does not verify")


def test_register_key_not_pem_returns_422(api: Api) -> None:
    ghost = make_actor("ghost")
    body = {**key_body(ghost), "public_key_pem": "not a key"}

    resp = api.client.post("/v1/keys", json=body, headers=bearer(api.admin))

    assert_problem(resp, 422, "bad-key", "expected a PEM block '-----BEGIN PUBLIC KEY-----'")
    assert_problem(api.post_events({"events": [signed_item(ghost)]}), 422, "unknown-key",
                   "key id 'ghost#1' is not registered")


def test_register_key_on_another_curve_returns_422(api: Api) -> None:
    p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    body = {**key_body(make_actor("ghost")), "public_key_pem": p256}

    resp = api.client.post("/v1/keys", json=body, headers=bearer(api.admin))

    assert_problem(resp, 422, "bad-key", "public key is not an uncompressed SM2 point")


def _off_curve_pem() -> str:
    """An SM2 SubjectPublicKeyInfo whose point (X, Y + 1) is not on the curve."""
    point = bytearray(make_actor("x").signer.public.point)
    point[-1] ^= 1
    return SM2PublicKey(bytes(point)).to_pem()


def _key_rows(api: Api) -> int:
    engine = api.client.app.state.services.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        counted: int = conn.execute(select(func.count()).select_from(db.actor_keys)).scalar_one()
    return counted


@pytest.mark.parametrize(("pem", "detail"), [
    (_off_curve_pem(), "public key point is not on the SM2 curve"),
    (rsa.generate_private_key(65537, 1024).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(),
     "public key is 'rsa', not an SM2 \\(elliptic-curve\\) key"),
])
def test_register_key_not_an_sm2_point_returns_422_nothing_stored(api: Api, pem: str, detail: str) -> None:
    keys = _key_rows(api)
    ghost = make_actor("ghost")
    resp = api.client.post("/v1/keys", json={**key_body(ghost), "public_key_pem": pem}, headers=bearer(api.admin))
    assert_problem(resp, 422, "bad-key", detail)
    user = {"id": "ghost", "name": "鬼", "roles": ["guardian"], "key_id": "ghost#1", "public_key_pem": pem}
    assert_problem(api.client.post("/v1/users", json=user, headers=bearer(api.admin)), 422, "bad-key", detail)
    device = {"id": "gas-9", "kind": "detector", "key_id": "gas-9#1", "public_key_pem": pem}
    assert_problem(api.client.post("/v1/devices", json=device, headers=bearer(api.admin)), 422, "bad-key", detail)
    assert _key_rows(api) == keys
    assert api.client.get("/v1/users", headers=bearer(api.admin)).json() == []


@pytest.mark.parametrize(("field", "value"), [
    ("key_id", "k/1"), ("key_id", "k\u200b1"), ("actor_id", "guardian\u20121"), ("actor_id", "ghost\n"),
    ("actor_id", "ＧＨＯＳＴ"), ("key_id", "x" * 65), ("tenant", "acme-chem\u202e"),
])
def test_register_key_with_non_id_returns_422_nothing_stored(api: Api, field: str, value: str) -> None:
    keys = _key_rows(api)
    resp = api.client.post("/v1/keys", json={**key_body(make_actor("ghost")), field: value}, headers=bearer(api.admin))
    assert_problem(resp, 422, "malformed-input", f"body.{field}: String should match pattern")
    assert _key_rows(api) == keys


def test_register_key_for_other_tenant_returns_403(api: Api) -> None:
    resp = api.client.post("/v1/keys", json=key_body(make_actor("x"), tenant=OTHER_TENANT), headers=bearer(api.admin))

    assert_problem(resp, 403, "forbidden", f"token of tenant '{TENANT}' may not act for tenant '{OTHER_TENANT}'")


def test_register_key_with_ingest_token_returns_403(api: Api) -> None:
    resp = api.client.post("/v1/keys", json=key_body(make_actor("x")), headers=bearer(api.ingest))

    assert_problem(resp, 403, "forbidden", r"role 'ingest' may not do this; needs one of \['admin'\]")


def test_register_key_with_unknown_actor_type_returns_422(api: Api) -> None:
    body = {**key_body(make_actor("x")), "actor_type": "robot"}

    resp = api.client.post("/v1/keys", json=body, headers=bearer(api.admin))

    assert_problem(resp, 422, "malformed-input", "body.actor_type: Input should be 'user', 'device' or 'service'")


# -- the bootstrap admin token -----------------------------------------------------------------------
def test_settings_with_short_admin_token_raises(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="TIEZHENG_ADMIN_TOKEN must be at least 12 characters"):
        Settings(data_dir=tmp_path, admin_token="short")


@pytest.mark.parametrize("token", [None, "changethis"])
def test_settings_outside_dev_without_real_admin_token_raises(tmp_path: Path, token: str | None) -> None:
    with pytest.raises(ValidationError, match="TIEZHENG_ADMIN_TOKEN must be set to a real secret outside dev"):
        Settings(environment="production", data_dir=tmp_path, admin_token=token)
