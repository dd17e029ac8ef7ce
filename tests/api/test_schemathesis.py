"""Schemathesis over the served OpenAPI document, against a running service: every operation, with a real
tenant token and without one, schema-valid and schema-breaking requests, every schemathesis check on (no
server error; status, content type, headers and body as documented; invalid data rejected, valid data
accepted ...), and a rejected request changes nothing (the log's size and the organisation's rows).

Bounded and deterministic: derandomized Hypothesis, a fixed number of examples per operation and mode."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from evidence_api import db, media_tables
from evidence_api.config import Settings
from evidence_api.main import create_app
from tests.api.served import served
from tests.api.support import ADMIN_TOKEN

schemathesis.serializer.alias("application/offset+octet-stream", "application/octet-stream")  # tus PATCH bodies

EXAMPLES = {"token": 20, "none": 3}
"""Examples per operation and generation mode (positive, negative), by credentials."""

_ACCEPTED = ["2xx", "401", "403", "404", "409"]
"""What a schema-valid request may answer anywhere: done, or refused for who asks or for what is stored."""
_SEMANTIC = {
    "/v1/events": "signatures, registered keys, payload commitments",
    "/v1/permits": "the signed item and the permit rules",
    "/v1/permits/{permit_id}/actions": "the signed item and the permit rules",
    "/v1/keys": "an SM2 public key on the curve",
    "/v1/users": "an SM2 public key on the curve",
    "/v1/devices": "an SM2 public key on the curve",
    "/v1/certificates": "a sub-type of its category, dates in order; or a configured work type (GET)",
    "/v1/certificates/import": "the file's rows",
    "/v1/settings/rules": "overrides that fit the rules",
    "/v1/jobs/certificate-warnings": "a day not after today",
    "/v1/regulator/digests": "either date or both from and to, days that have ended, a range of at most 31 days",
    "/v1/risk-records": "an ended period of at most 92 days",
    "/v1/risk-grants": "an insurer other than the tenant itself",
    "/v1/media/{media_id}/event": "the signed item and the stored object it describes",
    "/v1/permits/{permit_id}/legal-holds": "the signed item of a legal or safety officer",
    "/v1/permits/{permit_id}/legal-holds/{hold_id}/release": "the signed item of a legal or safety officer",
    "/v1/evidence-packs": "a time range that stays in the calendar once in UTC",
}
"""Operations where a schema-valid request can still be malformed (422) for a reason no JSON Schema states."""
_TUS = {
    "/v1/media": "Upload-Metadata: base64 values, an SM3 and a media type",
    "/v1/media/{media_id}": "the upload's state (Upload-Offset), a Range that fits",
}
"""tus operations: semantic 422s as above, and a wrong ``Tus-Resumable`` is tus's own 412 (Precondition Failed)."""
_NEGATIVE = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]
_STATEFUL = {"/v1/log/proofs/inclusion", "/v1/log/proofs/consistency"}
"""Operations that answer 400 for sizes the log does not (yet) have."""


def _config() -> schemathesis.Config:
    def accepting(paths: Any, *extra: str) -> dict[str, Any]:
        return {"include-path": sorted(paths),
                "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED + list(extra)}}}

    return schemathesis.Config.from_dict({
        "checks": {"positive_data_acceptance": {"expected-statuses": _ACCEPTED}},
        "operations": [accepting(_SEMANTIC, "422"), accepting(_STATEFUL, "400"),
                       {"include-path": sorted(_TUS), "checks": {
                           "positive_data_acceptance": {"expected-statuses": [*_ACCEPTED, "416", "422"]},
                           "negative_data_rejection": {"expected-statuses": [*_NEGATIVE, "412", "413", "416"]}}}],
    })


_WATCHED = (db.tenants, db.api_tokens, db.actor_keys, db.sites, db.areas, db.contractors, db.users, db.workers,
            db.devices, db.violations, db.certificates, db.certificate_warnings, db.permits, db.notifications,
            media_tables.media, media_tables.legal_holds)


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation; the document is built without opening any service."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = create_app(Settings(environment="dev", data_dir=Path(tmp))).openapi()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


@dataclass
class Target:
    """The running service and a real admin token of its tenant."""

    url: str
    app: FastAPI
    token: str
    schema: Any

    def state(self) -> dict[str, Any]:
        """What a rejected request must not change: the log's size, row counts, the tenant settings."""
        services = self.app.state.services
        with services.engine.connect() as conn:
            counts = {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in _WATCHED}
            rules = sorted(tuple(r) for r in conn.execute(select(db.tenant_settings.c.tenant, db.tenant_settings.c.rules,
                                                                 db.tenant_settings.c.webhook_url)))
        return {"tree_size": services.log.tree_size, "rows": counts, "settings": rules}


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("schemathesis")
    cfg = Settings(environment="dev", data_dir=tmp / "data", admin_token=ADMIN_TOKEN, intake_workers=0,
                   checkpoint_interval=0.05, anchor_interval=0.1, watchdog_interval=3600)
    with served(cfg) as (url, app):
        root = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert httpx.post(f"{url}/v1/tenants", json={"id": "acme", "name": "Acme"}, headers=root).status_code == 201
        token = httpx.post(f"{url}/v1/tokens", json={"tenant": "acme", "role": "admin", "label": "schemathesis"},
                           headers=root).json()["token"]
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json", config=_config())
        yield Target(url, app, token, schema)


def _i_json(value: Any) -> bool:
    """Whether ``value`` survives the service's strict JSON (docs/formats.md: I-JSON, RFC 7493): integers within
    +-(2**53 - 1) and no lone UTF-16 surrogate. JSON Schema cannot say so, so valid data must keep to it."""
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= 2**53 - 1
    if isinstance(value, str):  # a surrogate pair joins into one character; a lone one cannot be decoded
        try:
            value.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            return False
    if isinstance(value, dict):
        return all(_i_json(k) and _i_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_i_json(v) for v in value)
    return True


def _strategy(target: Target, method: str, path: str) -> st.SearchStrategy[Any]:
    operation = target.schema[path][method]
    positive = operation.as_strategy(generation_mode=schemathesis.GenerationMode.POSITIVE)
    negative = operation.as_strategy(generation_mode=schemathesis.GenerationMode.NEGATIVE)
    return st.one_of(positive.filter(lambda case: _i_json(case.body)), negative)


@pytest.mark.parametrize("credentials", ["token", "none"])
@pytest.mark.parametrize(("method", "path"), _operations())
def test_schemathesis_operation(target: Target, method: str, path: str, credentials: str) -> None:
    headers = {"Authorization": f"Bearer {target.token}"} if credentials == "token" else {}

    @settings(max_examples=2 * EXAMPLES[credentials], derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(case=_strategy(target, method, path))
    def run(case: Any) -> None:
        before = target.state()
        response = case.call(base_url=target.url, headers=headers)
        case.validate_response(response, headers=headers)
        if response.status_code >= 400:
            assert target.state() == before, f"{method} {path} answered {response.status_code} but changed state"

    run()


def test_state_snapshot_sees_a_write(target: Target) -> None:
    """The guard above would notice: an accepted create changes the snapshot."""
    before = target.state()
    resp = httpx.post(f"{target.url}/v1/sites", json={"id": "snapshot-probe", "name": "P"},
                      headers={"Authorization": f"Bearer {target.token}"})
    assert resp.status_code == 201, resp.text
    after = target.state()
    assert after["rows"]["sites"] == before["rows"]["sites"] + 1
