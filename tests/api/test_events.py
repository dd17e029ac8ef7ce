"""``POST /v1/events`` and ``GET /v1/events/{id}/bundle``: receipts, idempotency, signed batches, and every
refusal with its problem details, checking that a refused request leaves the log as it was."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from evidence_api.config import Settings
from evidence_api.main import create_app
from ingest.signing import Actor, attest_batch, sign_item
from ledger import storage as db
from ledger.canonical import canonical
from ledger.sm import sm3
from tests.api.support import (
    BOTH_DATABASES,
    MAX_BATCH,
    MAX_BODY_BYTES,
    OTHER_TENANT,
    Api,
    assert_problem,
    bearer,
    seed,
)
from tests.helpers import TENANT, make_actor, signed_item, unsigned_item, wait_until
from verifier.bundle import Bundle, verify_bundle

_JSON = {"Content-Type": "application/json"}


def _body(*items: dict[str, Any], attestation: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"events": list(items)}
    if attestation is not None:
        body["attestation"] = attestation
    return body


def _attested(actor: Actor, count: int) -> dict[str, Any]:
    items = [unsigned_item(actor, kind="gas.reading", payload={"ppm": 10 + n}) for n in range(count)]
    return _body(*items, attestation=attest_batch(actor, TENANT, items))


@pytest.fixture
def seeded(api: Api) -> Api:
    """The service with one event already logged, so "nothing changed" means more than "still empty"."""
    assert api.post_events(_body(signed_item(api.guardian))).status_code == 201
    assert api.tree_size == 1
    return api


# -- accepted ----------------------------------------------------------------------------------------
@BOTH_DATABASES
def test_post_events_individually_signed_returns_201_with_receipts(api: Api) -> None:
    items = [signed_item(api.guardian, payload={"n": n}) for n in range(3)]

    resp = api.post_events(_body(*items))

    assert resp.status_code == 201, resp.text
    receipts = resp.json()["receipts"]
    assert [r["event_id"] for r in receipts] == [i["event"]["event_id"] for i in items]
    assert [r["leaf_index"] for r in receipts] == [0, 1, 2]
    assert not any(r["duplicate"] for r in receipts)
    assert all(len(bytes.fromhex(r["leaf_hash"])) == 32 for r in receipts)
    assert api.tree_size == 3


@BOTH_DATABASES
def test_post_events_retry_returns_200_with_same_receipts_marked_duplicate(api: Api) -> None:
    body = _body(*(signed_item(api.guardian, payload={"n": n}) for n in range(2)))
    first = api.post_events(body).json()["receipts"]

    resp = api.post_events(body)

    assert resp.status_code == 200, resp.text
    retry = resp.json()["receipts"]
    assert all(r["duplicate"] for r in retry)
    assert [{**r, "duplicate": False} for r in retry] == first
    assert api.tree_size == 2


def test_post_events_retry_with_one_new_event_returns_201(api: Api) -> None:
    old, new = signed_item(api.guardian), signed_item(api.guardian)
    api.post_events(_body(old))

    resp = api.post_events(_body(old, new))

    assert resp.status_code == 201, resp.text
    assert [(r["leaf_index"], r["duplicate"]) for r in resp.json()["receipts"]] == [(0, True), (1, False)]
    assert api.tree_size == 2


@BOTH_DATABASES
def test_post_events_batch_signed_with_attestation_returns_201(api: Api) -> None:
    body = _attested(api.detector, 5)

    resp = api.post_events(body)

    assert resp.status_code == 201, resp.text
    assert [r["leaf_index"] for r in resp.json()["receipts"]] == [0, 1, 2, 3, 4]
    digest = sm3(canonical(body["attestation"]))
    with api.client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        stored = conn.execute(select(db.events.c.attestation)).scalars().all()
    assert stored == [digest] * 5


def test_post_events_with_tenant_admin_token_returns_201(api: Api) -> None:
    resp = api.post_events(_body(signed_item(api.guardian)), token="admin")

    assert resp.status_code == 201, resp.text
    assert api.tree_size == 1


@pytest.mark.parametrize(("occurred_at", "flag"), [("2020-01-01T00:00:00Z", "occurred_long_before_receipt"),
                                                    ("2099-01-01T00:00:00+08:00", "occurred_in_future")])
def test_post_events_with_implausible_clock_is_logged_and_flagged(api: Api, occurred_at: str, flag: str) -> None:
    item = signed_item(api.guardian, occurred_at=occurred_at)

    resp = api.post_events(_body(item))

    assert resp.status_code == 201, resp.text
    with api.client.app.state.services.engine.connect() as conn:  # type: ignore[attr-defined]
        flags = conn.execute(select(db.events.c.flags).where(
            db.events.c.event_id == item["event"]["event_id"])).scalar_one()
    assert db.decode_flags(flags) == (flag,) and len(flags) == 1  # stored as its one-character code (0011)


# -- refused: request shape --------------------------------------------------------------------------
def test_post_events_malformed_json_returns_422(seeded: Api) -> None:
    resp = seeded.client.post("/v1/events", content=b'{"events": [', headers=bearer(seeded.ingest) | _JSON)

    assert_problem(resp, 422, "malformed-input", "body is not strict JSON: Expecting value")
    assert seeded.tree_size == 1


@pytest.mark.parametrize(("body", "detail"), [
    ([], r"body must be an object \{\"events\""),
    ({"events": []}, "events must not be empty"),
    ({"events": [], "extra": 1}, "body must be an object"),
    ({"events": [{"event": {}, "payload": 1}]}, r"events\[0\] must be an object with exactly event, payload and salt"),
])
def test_post_events_wrong_body_shape_returns_422(seeded: Api, body: Any, detail: str) -> None:
    assert_problem(seeded.post_events(body), 422, "malformed-input", detail)
    assert seeded.tree_size == 1


def test_post_events_batch_over_max_batch_returns_413(seeded: Api) -> None:
    items = [signed_item(seeded.guardian, payload={"n": n}) for n in range(MAX_BATCH + 1)]

    resp = seeded.post_events(_body(*items))

    assert_problem(resp, 413, "too-large",
                   f"batch of {MAX_BATCH + 1} events exceeds the limit of {MAX_BATCH}; split it")
    assert seeded.tree_size == 1


def test_post_events_body_over_max_body_bytes_returns_413(seeded: Api) -> None:
    item = signed_item(seeded.guardian, payload={"blob": "x" * MAX_BODY_BYTES})

    resp = seeded.post_events(_body(item))

    assert_problem(resp, 413, "too-large", rf"request body of \d+ bytes exceeds the limit of {MAX_BODY_BYTES} bytes")
    assert seeded.tree_size == 1


@pytest.mark.parametrize(("occurred_at", "detail"), [
    ("2026-11-23 08:00", r"events\[0\]: occurred_at must be an RFC 3339 time with offset.*got '2026-11-23 08:00'"),
    ("2026-11-23T08:00:00", "occurred_at must be an RFC 3339 time with offset"),
    ("2026-02-30T08:00:00Z", "occurred_at is not a real date and time: '2026-02-30T08:00:00Z'"),
])
def test_post_events_occurred_at_not_rfc3339_returns_422(seeded: Api, occurred_at: str, detail: str) -> None:
    item = signed_item(seeded.guardian, occurred_at=occurred_at)

    assert_problem(seeded.post_events(_body(item)), 422, "malformed-input", detail)
    assert seeded.tree_size == 1


@pytest.mark.parametrize("field", ["prev", "received_at", "attestation"])
def test_post_events_with_server_assigned_field_returns_422(seeded: Api, field: str) -> None:
    item = signed_item(seeded.guardian)
    item["event"][field] = "0" * 64

    resp = seeded.post_events(_body(item))

    assert_problem(resp, 422, "malformed-input", rf"events\[0\]: event fields: missing \[\], not allowed \['{field}'\]")
    assert seeded.tree_size == 1


@pytest.mark.parametrize(("field", "value", "detail"), [
    ("v", True, "event version must be 1, got True"),
    ("v", 2, "event version must be 1, got 2"),
    ("event_id", "NOT-A-UUID", "event_id must be a lower-case UUID string, got 'NOT-A-UUID'"),
    ("kind", "Checkin", "kind must look like 'permit.signed', got 'Checkin'"),
    ("subject", {"vehicle": "V-1"}, "subject must be an object with keys among"),
    ("actor", {"type": "user", "id": "guardian-1"}, "actor must be an object with exactly type, id and key_id"),
    ("location", {"lat": 95, "lon": 0}, "location out of range: lat 95"),
    ("payload_commitment", "AB" * 32, "payload_commitment must be 64 lower-case hex characters"),
])
def test_post_events_malformed_claim_returns_422(seeded: Api, field: str, value: Any, detail: str) -> None:
    item = unsigned_item(seeded.guardian)
    item["event"][field] = value
    sign_item(seeded.guardian, item)

    assert_problem(seeded.post_events(_body(item)), 422, "malformed-input", rf"events\[0\]: {detail}")
    assert seeded.tree_size == 1


def test_post_events_payload_not_matching_commitment_returns_422(seeded: Api) -> None:
    item = signed_item(seeded.guardian, payload={"gas_ppm": 12})
    item["payload"] = {"gas_ppm": 3}

    resp = seeded.post_events(_body(item))

    assert_problem(resp, 422, "commitment-mismatch",
                   f"payload does not match payload_commitment of event {item['event']['event_id']}")
    assert seeded.tree_size == 1


def test_post_events_salt_of_wrong_length_returns_422(seeded: Api) -> None:
    item = signed_item(seeded.guardian)
    item["salt"] = item["salt"][:16]

    assert_problem(seeded.post_events(_body(item)), 422, "malformed-input", "salt must be 16 bytes as hex")
    assert seeded.tree_size == 1


# -- refused: signatures and keys --------------------------------------------------------------------
@BOTH_DATABASES
def test_post_events_signature_over_other_bytes_returns_422(seeded: Api) -> None:
    item = signed_item(seeded.guardian)
    item["event"]["signature"] = seeded.guardian.signer.sign_b64(b"some other bytes")

    resp = seeded.post_events(_body(item))

    assert_problem(resp, 422, "invalid-signature",
                   rf"events\[0\]: event {item['event']['event_id']}: sm2 signature does not verify with key")
    assert seeded.tree_size == 1


def test_post_events_signed_claim_altered_after_signing_returns_422(seeded: Api) -> None:
    item = signed_item(seeded.guardian, permit="P-1")
    item["event"]["subject"]["permit"] = "P-2"

    assert_problem(seeded.post_events(_body(item)), 422, "invalid-signature", "sm2 signature does not verify")
    assert seeded.tree_size == 1


def test_post_events_without_signature_or_attestation_returns_422(seeded: Api) -> None:
    item = unsigned_item(seeded.guardian)

    resp = seeded.post_events(_body(item))

    assert_problem(resp, 422, "invalid-signature", r"has no signature \(and is not in a signed batch\)")
    assert seeded.tree_size == 1


def test_post_events_unknown_key_id_returns_422(seeded: Api) -> None:
    ghost = make_actor("ghost")

    resp = seeded.post_events(_body(signed_item(ghost)))

    assert_problem(resp, 422, "unknown-key", f"key id 'ghost#1' is not registered for tenant '{TENANT}'")
    assert seeded.tree_size == 1


def test_post_events_key_of_another_actor_returns_403(seeded: Api) -> None:
    impostor = Actor("user", "guardian-1", seeded.deputy.key_id, seeded.deputy.signer)

    resp = seeded.post_events(_body(signed_item(impostor)))

    assert_problem(resp, 403, "forbidden",
                   "events\\[0\\]: key 'guardian-2#1' belongs to user 'guardian-2', not to user 'guardian-1'")
    assert seeded.tree_size == 1


# -- refused: tenants and tokens ---------------------------------------------------------------------
def test_post_events_event_of_another_tenant_returns_422(seeded: Api) -> None:
    item = signed_item(seeded.guardian, tenant=OTHER_TENANT)

    resp = seeded.post_events(_body(item))

    assert_problem(resp, 422, "malformed-input",
                   rf"events\[0\]: event tenant '{OTHER_TENANT}' is not the caller's tenant '{TENANT}'")
    assert seeded.tree_size == 1


def test_post_events_with_token_of_another_tenant_returns_422(seeded: Api) -> None:
    resp = seeded.post_events(_body(signed_item(seeded.guardian)), token="other_ingest")

    assert_problem(resp, 422, "malformed-input", f"event tenant '{TENANT}' is not the caller's tenant '{OTHER_TENANT}'")
    assert seeded.tree_size == 1


def test_post_events_without_token_returns_401(seeded: Api) -> None:
    resp = seeded.post_events(_body(signed_item(seeded.guardian)), token=None)

    assert_problem(resp, 401, "unauthorized", "send 'Authorization: Bearer <token>'")
    assert resp.headers["www-authenticate"] == "Bearer"
    assert seeded.tree_size == 1


def test_post_events_with_unknown_token_returns_401(seeded: Api) -> None:
    resp = seeded.post_events(_body(signed_item(seeded.guardian)), token="not-a-token-we-issued")

    assert_problem(resp, 401, "unauthorized", "unknown bearer token")
    assert seeded.tree_size == 1


def test_post_events_with_reader_token_returns_403(seeded: Api) -> None:
    resp = seeded.post_events(_body(signed_item(seeded.guardian)), token="reader")

    assert_problem(resp, 403, "forbidden", r"role 'reader' may not do this; needs one of \['ingest', 'admin'\]")
    assert seeded.tree_size == 1


def test_post_events_with_platform_admin_token_returns_403(seeded: Api) -> None:
    resp = seeded.post_events(_body(signed_item(seeded.guardian)), token="test-admin-token-123")

    assert_problem(resp, 403, "forbidden", "the platform admin token has no tenant; use a token issued for a tenant")
    assert seeded.tree_size == 1


# -- refused: attested batches -----------------------------------------------------------------------
def test_post_events_attestation_with_mismatched_event_hashes_returns_422(seeded: Api) -> None:
    body = _attested(seeded.detector, 3)
    hashes = body["attestation"]["event_hashes"]
    hashes[0], hashes[1] = hashes[1], hashes[0]
    unsigned = {k: v for k, v in body["attestation"].items() if k != "signature"}
    body["attestation"]["signature"] = seeded.detector.signer.sign_b64(canonical(unsigned))

    resp = seeded.post_events(body)

    assert_problem(resp, 422, "invalid-signature",
                   "attestation event_hashes do not match the SM3 claim hashes of the batch, in order")
    assert seeded.tree_size == 1


def test_post_events_attestation_with_bad_signature_returns_422(seeded: Api) -> None:
    body = _attested(seeded.detector, 2)
    body["attestation"]["signature"] = seeded.detector.signer.sign_b64(b"not the attestation")

    resp = seeded.post_events(body)

    assert_problem(resp, 422, "invalid-signature", "batch attestation: sm2 signature does not verify")
    assert seeded.tree_size == 1


def test_post_events_attested_event_with_own_signature_returns_422(seeded: Api) -> None:
    body = _attested(seeded.detector, 2)
    body["events"][1]["event"]["signature"] = seeded.detector.signer.sign_b64(b"x")

    resp = seeded.post_events(body)

    assert_problem(resp, 422, "malformed-input", "events of an attested batch carry no signature of their own")
    assert seeded.tree_size == 1


def test_post_events_attested_batch_with_event_of_other_actor_returns_422(seeded: Api) -> None:
    items = [unsigned_item(seeded.detector), unsigned_item(seeded.guardian)]
    body = _body(*items, attestation=attest_batch(seeded.detector, TENANT, items))

    resp = seeded.post_events(body)

    assert_problem(resp, 422, "malformed-input", "every event of an attested batch must have the attestation's actor")
    assert seeded.tree_size == 1


def test_post_events_attestation_with_boolean_version_returns_422(seeded: Api) -> None:
    items = [unsigned_item(seeded.detector)]
    attestation = attest_batch(seeded.detector, TENANT, items)
    attestation["v"] = True  # True == 1 in Python; the verifier refuses it, so intake must too
    unsigned = {k: v for k, v in attestation.items() if k != "signature"}
    attestation["signature"] = seeded.detector.signer.sign_b64(canonical(unsigned))

    resp = seeded.post_events(_body(*items, attestation=attestation))

    assert_problem(resp, 422, "malformed-input", r"attestation must have exactly v \(1\), tenant, actor")
    assert seeded.tree_size == 1


def test_post_events_attestation_for_other_tenant_returns_422(seeded: Api) -> None:
    body = _attested(seeded.detector, 2)
    body["attestation"]["tenant"] = OTHER_TENANT

    resp = seeded.post_events(body)

    assert_problem(resp, 422, "malformed-input", f"attestation must be an object for tenant '{TENANT}'")
    assert seeded.tree_size == 1


# -- refused: one bad event spoils the whole batch ---------------------------------------------------
def _bad_signature(item: dict[str, Any], api: Api) -> None:
    item["event"]["signature"] = api.guardian.signer.sign_b64(b"other bytes")


def _bad_commitment(item: dict[str, Any], api: Api) -> None:
    item["payload"] = {"n": -1}


def _server_field(item: dict[str, Any], api: Api) -> None:
    item["event"]["prev"] = None


def _bad_time(item: dict[str, Any], api: Api) -> None:
    item["event"]["occurred_at"] = "yesterday"


def _unknown_key(item: dict[str, Any], api: Api) -> None:
    item.update(signed_item(make_actor("ghost")))


@pytest.mark.parametrize(("spoil", "status", "slug", "detail"), [
    (_bad_signature, 422, "invalid-signature", r"events\[2\]: event .*: sm2 signature does not verify"),
    (_bad_commitment, 422, "commitment-mismatch", "payload does not match payload_commitment"),
    (_server_field, 422, "malformed-input", r"events\[2\]: event fields: missing \[\], not allowed \['prev'\]"),
    (_bad_time, 422, "malformed-input", r"events\[2\]: occurred_at must be an RFC 3339 time"),
    (_unknown_key, 422, "unknown-key", "key id 'ghost#1' is not registered"),
])
def test_post_events_batch_with_one_bad_event_writes_nothing(
        seeded: Api, spoil: Callable[[dict[str, Any], Api], None], status: int, slug: str, detail: str) -> None:
    items = [signed_item(seeded.guardian, payload={"n": n}) for n in range(5)]
    good = copy.deepcopy(items[:2] + items[3:])
    spoil(items[2], seeded)

    assert_problem(seeded.post_events(_body(*items)), status, slug, detail)

    assert seeded.tree_size == 1
    resp = seeded.post_events(_body(*good))  # none of the good ones was written
    assert resp.status_code == 201, resp.text
    assert not any(r["duplicate"] for r in resp.json()["receipts"])


# -- refused: duplicates ------------------------------------------------------------------------------
@BOTH_DATABASES
def test_post_events_same_event_id_with_different_content_returns_409(seeded: Api) -> None:
    original = signed_item(seeded.guardian, payload={"gas": 1})
    seeded.post_events(_body(original))
    event_id = original["event"]["event_id"]
    impostor = signed_item(seeded.guardian, payload={"gas": 2}, event_id=event_id)

    resp = seeded.post_events(_body(signed_item(seeded.guardian), impostor))

    assert_problem(resp, 409, "duplicate-conflict", f"event_id {event_id} is already logged with different content")
    assert seeded.tree_size == 2


def test_post_events_one_event_id_twice_in_batch_with_different_content_returns_409(seeded: Api) -> None:
    first = signed_item(seeded.guardian, payload={"gas": 1})
    event_id = first["event"]["event_id"]
    second = signed_item(seeded.guardian, payload={"gas": 2}, event_id=event_id)

    resp = seeded.post_events(_body(first, second))

    assert_problem(resp, 409, "duplicate-conflict",
                   f"event_id {event_id} appears twice in the batch with different content")
    assert seeded.tree_size == 1


# -- bundles -----------------------------------------------------------------------------------------
def _anchored_bundle(api: Api, event_id: str) -> bytes:
    """The event's bundle once a checkpoint covers it and the anchorer has anchored that checkpoint."""
    def probe() -> bytes | None:
        resp = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(api.reader))
        return resp.content if resp.status_code == 200 and resp.json()["anchors"] else None

    found: bytes = wait_until(probe)
    return found


@BOTH_DATABASES
def test_event_bundle_of_signed_event_verifies_offline(api: Api) -> None:
    items = [signed_item(api.guardian, payload={"gas_ppm": n}) for n in range(3)]
    api.post_events(_body(*items))
    item = items[1]

    data = _anchored_bundle(api, item["event"]["event_id"])

    report = verify_bundle(Bundle.from_bytes(data), trust_root=api.trust_root())
    assert report.valid and report.log_key_fingerprint == api.client.get("/v1/log/public-key").json()["fingerprint"]
    assert report.assurance == "signed"
    assert [(s.number, s.status) for s in report.steps] == [(n, "ok") for n in range(1, 8)]
    bundle = Bundle.from_bytes(data)
    assert bundle.leaf_index == 1 and bundle.attestation is None
    assert bundle.payload is not None and bundle.payload.value == {"gas_ppm": 1}


@BOTH_DATABASES
def test_event_bundle_of_attested_event_verifies_offline(api: Api) -> None:
    body = _attested(api.detector, 3)
    api.post_events(body)

    data = _anchored_bundle(api, body["events"][2]["event"]["event_id"])

    report = verify_bundle(Bundle.from_bytes(data), trust_root=api.trust_root())
    assert report.valid
    assert Bundle.from_bytes(data).attestation is not None


def test_event_bundle_of_unknown_event_returns_404(api: Api) -> None:
    event_id = "00000000-0000-4000-8000-000000000000"

    resp = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(api.reader))

    assert_problem(resp, 404, "not-found", f"event {event_id} is not in the log of tenant '{TENANT}'")


def test_event_bundle_of_other_tenants_event_returns_404(api: Api) -> None:
    item = signed_item(api.guardian)
    api.post_events(_body(item))
    api.checkpoint(1)
    event_id = item["event"]["event_id"]

    resp = api.client.get(f"/v1/events/{event_id}/bundle", headers=bearer(api.other_reader))

    assert_problem(resp, 404, "not-found", f"event {event_id} is not in the log of tenant '{OTHER_TENANT}'")


def test_event_bundle_without_token_returns_401(api: Api) -> None:
    resp = api.client.get("/v1/events/00000000-0000-4000-8000-000000000000/bundle")

    assert_problem(resp, 401, "unauthorized", "send 'Authorization: Bearer <token>'")


# -- intake in worker processes ----------------------------------------------------------------------
@pytest.fixture
def pooled(settings: Settings) -> Iterator[Api]:
    """The service with one intake worker process (what production runs), seeded like ``api``."""
    with TestClient(create_app(settings.model_copy(update={"intake_workers": 1}))) as client:
        yield seed(client)


def test_post_events_in_worker_process_logs_events_whose_bundle_verifies(pooled: Api) -> None:
    signed = [signed_item(pooled.guardian, payload={"n": n}) for n in range(2)]
    attested = _attested(pooled.detector, 2)

    first = pooled.post_events(_body(*signed))
    second = pooled.post_events(attested)

    assert (first.status_code, second.status_code) == (201, 201)
    assert [r["leaf_index"] for r in first.json()["receipts"] + second.json()["receipts"]] == [0, 1, 2, 3]
    data = _anchored_bundle(pooled, signed[1]["event"]["event_id"])
    assert verify_bundle(Bundle.from_bytes(data), trust_root=pooled.trust_root()).valid


def test_post_events_in_worker_process_refusal_keeps_problem_type(pooled: Api) -> None:
    item = signed_item(pooled.guardian)
    item["event"]["signature"] = pooled.guardian.signer.sign_b64(b"other bytes")
    ghost = signed_item(make_actor("ghost"))

    assert_problem(pooled.post_events(_body(item)), 422, "invalid-signature",
                   r"events\[0\]: .*sm2 signature does not verify")
    assert_problem(pooled.post_events(_body(ghost)), 422, "unknown-key", "key id 'ghost#1' is not registered")
    assert_problem(pooled.post_events(_body(signed_item(pooled.deputy, tenant=OTHER_TENANT))), 422, "malformed-input",
                   f"event tenant '{OTHER_TENANT}' is not the caller's tenant '{TENANT}'")
    assert pooled.tree_size == 0


# -- refused: strict JSON, media type, ids (issue 8, defect 5) ---------------------------------------
_LOOK_ALIKES = [
    "P-1/../P-2",        # a path
    "..",                # a path step
    "P-1\n",             # a trailing newline
    "P\u200b-1",         # zero-width space
    "P-1\u202e",         # bidi override
    "P\u20111",          # non-breaking hyphen, not "-"
    "Р-1",               # Cyrillic Р
    "Ｐ-1",              # full-width Ｐ
    "Pe\u0301-1",        # e + combining acute: NFD of "Pé-1"
    "Pé-1",              # NFC: still not ASCII
    "P" * 65,            # too long
]


@pytest.mark.parametrize("permit", _LOOK_ALIKES)
def test_post_events_subject_permit_not_an_id_returns_422(seeded: Api, permit: str) -> None:
    resp = seeded.post_events(_body(signed_item(seeded.guardian, permit=permit)))

    assert_problem(resp, 422, "malformed-input", r"events\[0\]: subject.permit must be an id \(an ASCII letter or digit")
    assert seeded.tree_size == 1


@pytest.mark.parametrize("subject", ["certificate", "worker", "media"])
def test_post_events_other_subject_ids_not_ids_return_422(seeded: Api, subject: str) -> None:
    item = signed_item(seeded.guardian, permit=None)
    item["event"]["subject"] = {subject: "w\u200b1"}
    item = sign_item(seeded.guardian, {**item, "event": {k: v for k, v in item["event"].items() if k != "signature"}})

    assert_problem(seeded.post_events(_body(item)), 422, "malformed-input", f"subject.{subject} must be an id")
    assert seeded.tree_size == 1


@pytest.mark.parametrize("field", ["id", "key_id"])
def test_post_events_actor_look_alike_returns_422(seeded: Api, field: str) -> None:
    item = signed_item(seeded.guardian)
    item["event"]["actor"][field] += "\u200b"

    assert_problem(seeded.post_events(_body(item)), 422, "malformed-input", f"actor.{field} must be an id")
    assert seeded.tree_size == 1


def _raw(api: Api, body: bytes, content_type: str | None = "application/json") -> Any:
    headers = bearer(api.ingest) | ({"Content-Type": content_type} if content_type else {})
    return api.client.post("/v1/events", content=body, headers=headers)


def test_post_events_duplicate_key_returns_422_naming_it(seeded: Api) -> None:
    text = canonical(_body(signed_item(seeded.guardian, payload={"ok": True})))
    doubled = text.replace(b'"payload":{"ok":true}', b'"payload":{"ok":true,"ok":false}')
    assert doubled != text

    assert_problem(_raw(seeded, doubled), 422, "malformed-input", "body is not strict JSON: duplicate key 'ok'")
    assert_problem(_raw(seeded, b'{"events":[],"events":[]}'), 422, "malformed-input", "duplicate key 'events'")
    assert seeded.tree_size == 1


@pytest.mark.parametrize(("number", "detail"), [
    (b"1e400", "number 1e400 is not finite"), (b"-1e400", "number -1e400 is not finite"),
    (b"NaN", "NaN is not a JSON number"), (b"Infinity", "Infinity is not a JSON number"),
    (b"9007199254740993", r"integer 9007199254740993 is beyond \+-\(2\*\*53 - 1\)"),
])
def test_post_events_non_finite_or_unsafe_number_returns_422(seeded: Api, number: bytes, detail: str) -> None:
    text = canonical(_body(signed_item(seeded.guardian, payload={"ppm": 1})))

    resp = _raw(seeded, text.replace(b'"ppm":1', b'"ppm":' + number))

    assert_problem(resp, 422, "malformed-input", detail)
    assert seeded.tree_size == 1


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/json; charset=latin-1", "application/jsonx"])
def test_post_events_not_application_json_returns_415(seeded: Api, content_type: str | None) -> None:
    resp = _raw(seeded, canonical(_body(signed_item(seeded.guardian, payload={"n": 2}))), content_type)

    assert_problem(resp, 415, "unsupported-media-type", r"Content-Type must be|JSON bodies are UTF-8")
    assert seeded.tree_size == 1


def test_post_events_application_json_with_utf8_charset_returns_201(seeded: Api) -> None:
    body = canonical(_body(signed_item(seeded.guardian, payload={"n": 3})))

    assert _raw(seeded, body, "Application/JSON; charset=UTF-8").status_code == 201
    assert seeded.tree_size == 2


@pytest.mark.parametrize(("depth", "detail"), [
    (254, "payload cannot be stored: .*nest it less deeply"),
    (300, "value nests too deeply to be canonicalized"),
    (900, "value nests too deeply to be canonicalized"),
    (5000, "body nests too deeply"),
])
def test_post_events_deeply_nested_payload_returns_422(seeded: Api, depth: int, detail: str) -> None:
    item = signed_item(seeded.guardian, payload={"ok": True})
    text = canonical(_body(item)).replace(b'"payload":{"ok":true}', b'"payload":' + b'{"a":' * depth + b"1" + b"}" * depth)
    if depth == 254:  # one that canonicalizes, with its real commitment
        deep = json.loads(b'{"a":' * depth + b"1" + b"}" * depth)
        text = json.dumps(_body(signed_item(seeded.guardian, payload=deep))).encode()

    assert_problem(_raw(seeded, text), 422, "malformed-input", detail)
    assert seeded.tree_size == 1
