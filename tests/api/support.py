"""What the API tests share: the seeded service handle and the problem-details assertion.

Seeding goes through the one API client (``ingest.client``, ``ingest.seed``) over the in-process
``TestClient``; the raw ``client`` stays for tests of the HTTP surface itself (status codes, headers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from ingest.client import ApiClient
from ingest.seed import open_tenant
from ingest.signing import Actor
from ledger.clock import ManualClock
from tests.helpers import TENANT, make_actor, wait_until
from verifier.trust import TrustRoot

ADMIN_TOKEN = "test-admin-token-123"
OTHER_TENANT = "other-co"
MAX_BATCH = 8
MAX_BODY_BYTES = 64 * 1024
PROBLEM_BASE = "https://tiezheng.dev/problems/"

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
"""Run an API test on SQLite and on the real PostgreSQL server (the default is SQLite only)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Api:
    """A running service with two tenants, their tokens and registered actor keys."""

    client: TestClient
    admin: str          # admin token of TENANT
    ingest: str         # ingest token of TENANT
    reader: str         # reader token of TENANT
    other_ingest: str   # ingest token of OTHER_TENANT
    other_reader: str   # reader token of OTHER_TENANT
    guardian: Actor     # user guardian-1, registered in TENANT
    deputy: Actor       # user guardian-2, registered in TENANT
    detector: Actor     # device gas-7, registered in TENANT

    def typed(self, token: str = "admin") -> ApiClient:
        """The typed client as the token named (an attribute of this object) or a literal token."""
        return ApiClient(self.client, token=getattr(self, token, token))

    def post_events(self, body: Any, token: str | None = "ingest") -> httpx.Response:
        """POST /v1/events with the token named (an attribute of this object), a literal token, or none."""
        headers = bearer(getattr(self, token, token)) if token else {}
        resp: httpx.Response = self.client.post("/v1/events", json=body, headers=headers)
        return resp

    @property
    def tree_size(self) -> int:
        """The committed tree size, read from the running log."""
        size: int = self.client.app.state.services.log.tree_size  # type: ignore[attr-defined]
        return size

    def checkpoint(self, size: int) -> dict[str, Any]:
        """GET /v1/log/checkpoint once it covers exactly ``size`` leaves."""
        def probe() -> dict[str, Any] | None:
            resp = self.client.get("/v1/log/checkpoint")
            return resp.json() if resp.status_code == 200 and resp.json()["tree_size"] == size else None

        found: dict[str, Any] = wait_until(probe)
        return found

    def set_plant_day(self, day: str) -> None:
        """Make ``day`` (ISO) today for the service: its clock stops at noon of that day, plant time."""
        services = self.client.app.state.services  # type: ignore[attr-defined]
        services.clock = ManualClock(datetime.fromisoformat(f"{day}T12:00:00+08:00"))

    def log_key_pem(self) -> str:
        """The log's public key (PEM)."""
        return ApiClient(self.client).public_key().public_key_pem

    def trust_root(self) -> TrustRoot:
        """What a relying party writes once from the log's published key (``tiezheng trust-root init``)."""
        published = ApiClient(self.client).public_key()
        return TrustRoot.for_log(published.origin, published.public_key_pem)


def assert_problem(resp: httpx.Response, status: int, slug: str, detail: str) -> dict[str, Any]:
    """An RFC 9457 problem with ``status``, type ``.../<slug>`` and a detail matching the regex ``detail``."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = resp.json()
    assert body["type"] == PROBLEM_BASE + slug
    assert body["status"] == status
    assert re.search(detail, body["detail"]), f"detail {body['detail']!r} does not match {detail!r}"
    return body


def _tenant(client: TestClient, tenant: str) -> dict[str, str]:
    """Create ``tenant`` with the bootstrap token; its admin token, then its ingest and reader tokens."""
    return dict(open_tenant(ApiClient(client, token=ADMIN_TOKEN), tenant, f"{tenant} Ltd.").tokens)


def key_body(actor: Actor, tenant: str = TENANT) -> dict[str, str]:
    """The ``POST /v1/keys`` body registering ``actor``'s public key."""
    return {"tenant": tenant, "key_id": actor.key_id, "actor_type": actor.type, "actor_id": actor.id,
            "public_key_pem": actor.signer.public.to_pem()}


def seed(client: TestClient) -> Api:
    """Two tenants with tokens, and three actors of TENANT registered by its admin."""
    ours, theirs = _tenant(client, TENANT), _tenant(client, OTHER_TENANT)
    guardian, deputy = make_actor("guardian-1"), make_actor("guardian-2")
    detector = make_actor("gas-7", kind="device")
    admin = ApiClient(client, token=ours["admin"])
    for actor in (guardian, deputy, detector):
        admin.register_key(TENANT, actor)
    return Api(client=client, admin=ours["admin"], ingest=ours["ingest"], reader=ours["reader"],
               other_ingest=theirs["ingest"], other_reader=theirs["reader"],
               guardian=guardian, deputy=deputy, detector=detector)
