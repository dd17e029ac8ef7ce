"""Tests for verifier/events.py: claims, leaf hashes, actor signatures, attestations, payload commitments."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from verifier_testkit import KeyPair, b64, canonical, claim_of, make_attestation, make_event, sm3

from verifier.errors import AttestationMismatch, BadSignature, CommitmentMismatch, MalformedInput
from verifier.events import (
    Attestation,
    Event,
    Payload,
    claim,
    claim_hash,
    event_leaf_hash,
    verify_actor_signature,
    verify_attestation,
    verify_payload_commitment,
)

SALT = bytes(range(16))
VALUE = {"gas": "H2S", "ppm": 3.5}


def _signed(actor: KeyPair, **extra: Any) -> dict[str, Any]:
    return make_event(actor, value=VALUE, salt=SALT, **extra)


def _batch(actor: KeyPair) -> tuple[dict[str, Any], dict[str, Any]]:
    event = make_event(actor, value=VALUE, salt=SALT, signed=False)
    other = claim_of(make_event(actor, value=1, salt=bytes(16), signed=False))
    attestation = make_attestation(actor, [other, claim_of(event)])
    event["attestation"] = sm3(canonical(attestation)).hex()
    return event, attestation


# Structure


def test_event_from_json_signed(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    event = Event.from_json(raw)
    assert event.fields == raw
    assert event.signature is not None and event.attestation_hash is None
    assert event.payload_commitment.hex() == raw["payload_commitment"]


def test_event_from_json_copies_input(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    event = Event.from_json(raw)
    raw["tenant"] = "changed"
    assert event.fields["tenant"] == "acme"


def test_event_from_json_not_object() -> None:
    with pytest.raises(MalformedInput, match="event must be a json object, got array"):
        Event.from_json([])


def test_event_from_json_wrong_version(actor_key: KeyPair) -> None:
    with pytest.raises(MalformedInput, match="event.v must be 1, got 2"):
        Event.from_json({**_signed(actor_key), "v": 2})


def test_event_from_json_version_true(actor_key: KeyPair) -> None:
    with pytest.raises(MalformedInput, match="event.v must be 1, got True"):
        Event.from_json({**_signed(actor_key), "v": True})


def test_event_from_json_missing_field(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    del raw["received_at"]
    with pytest.raises(MalformedInput, match="event is missing field 'received_at'"):
        Event.from_json(raw)


def test_event_from_json_actor_without_key_id(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    del raw["actor"]["key_id"]
    with pytest.raises(MalformedInput, match="event.actor is missing field 'key_id'"):
        Event.from_json(raw)


def test_event_from_json_upper_case_commitment(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    raw["payload_commitment"] = raw["payload_commitment"].upper()
    with pytest.raises(MalformedInput, match="event.payload_commitment must be 32 bytes of lower-case hex"):
        Event.from_json(raw)


def test_event_from_json_bad_prev(actor_key: KeyPair) -> None:
    with pytest.raises(MalformedInput, match="event.prev must be 32 bytes of lower-case hex"):
        Event.from_json({**_signed(actor_key), "prev": "abc"})


def test_event_from_json_both_signature_and_attestation(actor_key: KeyPair) -> None:
    raw = {**_signed(actor_key), "attestation": "00" * 32}
    with pytest.raises(MalformedInput, match="exactly one of 'signature' and 'attestation'"):
        Event.from_json(raw)


def test_event_from_json_neither_signature_nor_attestation(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    del raw["signature"]
    with pytest.raises(MalformedInput, match="exactly one of 'signature' and 'attestation'"):
        Event.from_json(raw)


def test_event_from_json_signature_not_base64(actor_key: KeyPair) -> None:
    with pytest.raises(MalformedInput, match="event.signature is not standard base64"):
        Event.from_json({**_signed(actor_key), "signature": "@@@@"})


def test_event_from_json_integer_beyond_json_range(actor_key: KeyPair) -> None:
    raw = {**_signed(actor_key), "location": {"lat": 2**60, "lon": 0, "accuracy_m": 1}}
    with pytest.raises(MalformedInput, match="cannot be canonicalized"):
        Event.from_json(raw)


def test_attestation_from_json_bad_hash(actor_key: KeyPair) -> None:
    _, att = _batch(actor_key)
    att["event_hashes"][1] = "xyz"
    with pytest.raises(
        MalformedInput, match=r"attestation.event_hashes\[1\] must be 32 bytes of lower-case hex"
    ):
        Attestation.from_json(att)


def test_attestation_from_json_missing_signature(actor_key: KeyPair) -> None:
    _, att = _batch(actor_key)
    del att["signature"]
    with pytest.raises(MalformedInput, match="attestation is missing field 'signature'"):
        Attestation.from_json(att)


def test_payload_from_json_short_salt() -> None:
    with pytest.raises(MalformedInput, match="payload.salt must be 16 bytes of lower-case hex"):
        Payload.from_json({"salt": "00" * 8, "value": 1})


def test_payload_from_json_missing_value() -> None:
    with pytest.raises(MalformedInput, match="payload is missing field 'value'"):
        Payload.from_json({"salt": "00" * 16})


# Claims and hashes


def test_claim_drops_server_fields_and_signature(actor_key: KeyPair) -> None:
    raw = _signed(actor_key, prev=None)
    got = claim(Event.from_json(raw))
    assert set(raw) - set(got) == {"received_at", "prev", "signature"}
    assert "location" in got and "payload_commitment" in got


def test_claim_hash_is_sm3_of_canonical_claim(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    assert claim_hash(Event.from_json(raw)) == sm3(canonical(claim_of(raw)))


def test_event_leaf_hash_is_sm3_of_zero_and_canonical_event(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    assert event_leaf_hash(Event.from_json(raw)) == sm3(b"\x00" + canonical(raw))


def test_event_leaf_hash_covers_server_fields(actor_key: KeyPair) -> None:
    raw = _signed(actor_key)
    moved = {**raw, "received_at": "2025-03-01T00:00:02Z"}
    assert event_leaf_hash(Event.from_json(raw)) != event_leaf_hash(Event.from_json(moved))


# Actor signatures


def test_verify_actor_signature_ok(actor_key: KeyPair) -> None:
    verify_actor_signature(Event.from_json(_signed(actor_key)), public_key_pem=actor_key.pem)


def test_verify_actor_signature_ignores_server_fields(actor_key: KeyPair) -> None:
    raw = {**_signed(actor_key), "prev": "11" * 32, "received_at": "2030-01-01T00:00:00Z"}
    verify_actor_signature(Event.from_json(raw), public_key_pem=actor_key.pem)


def test_verify_actor_signature_tampered_claim(actor_key: KeyPair) -> None:
    raw = {**_signed(actor_key), "kind": "permit.signed"}
    with pytest.raises(BadSignature, match="actor signature over the claim does not verify"):
        verify_actor_signature(Event.from_json(raw), public_key_pem=actor_key.pem)


def test_verify_actor_signature_wrong_key(actor_key: KeyPair, other_key: KeyPair) -> None:
    with pytest.raises(BadSignature, match=f"does not verify under key {other_key.fingerprint}"):
        verify_actor_signature(Event.from_json(_signed(actor_key)), public_key_pem=other_key.pem)


def test_verify_actor_signature_of_batch_event(actor_key: KeyPair) -> None:
    event, _ = _batch(actor_key)
    with pytest.raises(MalformedInput, match="event has no 'signature': it is batch-signed"):
        verify_actor_signature(Event.from_json(event), public_key_pem=actor_key.pem)


# Attestations


def test_verify_attestation_ok(actor_key: KeyPair) -> None:
    event, att = _batch(actor_key)
    verify_attestation(Event.from_json(event), Attestation.from_json(att), public_key_pem=actor_key.pem)


def test_verify_attestation_other_attestation(actor_key: KeyPair) -> None:
    event, _ = _batch(actor_key)
    att2 = make_attestation(actor_key, [claim_of(event)])
    with pytest.raises(
        AttestationMismatch, match=f"attestation hash mismatch: calculated {sm3(canonical(att2)).hex()}"
    ):
        verify_attestation(Event.from_json(event), Attestation.from_json(att2), public_key_pem=actor_key.pem)


def test_verify_attestation_bad_signature(actor_key: KeyPair, other_key: KeyPair) -> None:
    event, att = _batch(actor_key)
    unsigned = {k: v for k, v in att.items() if k != "signature"}
    forged = {**unsigned, "signature": b64(other_key.sign(canonical(unsigned)))}
    event["attestation"] = sm3(canonical(forged)).hex()
    with pytest.raises(BadSignature, match="attestation signature does not verify"):
        verify_attestation(
            Event.from_json(event), Attestation.from_json(forged), public_key_pem=actor_key.pem
        )


def test_verify_attestation_claim_not_listed(actor_key: KeyPair) -> None:
    event, _ = _batch(actor_key)
    other = claim_of(make_event(actor_key, value=2, salt=bytes(16), signed=False))
    att = make_attestation(actor_key, [other])
    event["attestation"] = sm3(canonical(att)).hex()
    parsed = Event.from_json(event)
    with pytest.raises(AttestationMismatch, match=f"claim hash {claim_hash(parsed).hex()} is not in"):
        verify_attestation(parsed, Attestation.from_json(att), public_key_pem=actor_key.pem)


def test_verify_attestation_actor_differs(actor_key: KeyPair) -> None:
    event, _ = _batch(actor_key)
    signer = event["actor"]
    event["actor"] = {**signer, "id": "det-2"}
    att = make_attestation(actor_key, [claim_of(event)], who=signer)
    event["attestation"] = sm3(canonical(att)).hex()
    with pytest.raises(
        AttestationMismatch, match='actor mismatch: event actor .*"det-2".*attestation actor .*"det-1"'
    ):
        verify_attestation(Event.from_json(event), Attestation.from_json(att), public_key_pem=actor_key.pem)


def test_verify_attestation_of_signed_event(actor_key: KeyPair) -> None:
    _, att = _batch(actor_key)
    with pytest.raises(MalformedInput, match="event has no 'attestation': it is individually signed"):
        verify_attestation(
            Event.from_json(_signed(actor_key)), Attestation.from_json(att), public_key_pem=actor_key.pem
        )


# Payload commitments


def test_verify_payload_commitment_ok(actor_key: KeyPair) -> None:
    verify_payload_commitment(
        Event.from_json(_signed(actor_key)), Payload(salt=SALT, value=copy.deepcopy(VALUE))
    )


def test_verify_payload_commitment_key_order_irrelevant(actor_key: KeyPair) -> None:
    value = {"ppm": 3.5, "gas": "H2S"}
    verify_payload_commitment(
        Event.from_json(_signed(actor_key)), Payload.from_json({"salt": SALT.hex(), "value": value})
    )


def test_verify_payload_commitment_other_value(actor_key: KeyPair) -> None:
    event = Event.from_json(_signed(actor_key))
    with pytest.raises(
        CommitmentMismatch, match=f"calculated [0-9a-f]{{64}}, want {event.payload_commitment.hex()}"
    ):
        verify_payload_commitment(event, Payload(salt=SALT, value={"gas": "H2S", "ppm": 35}))


def test_verify_payload_commitment_other_salt(actor_key: KeyPair) -> None:
    with pytest.raises(CommitmentMismatch, match="payload commitment mismatch"):
        verify_payload_commitment(Event.from_json(_signed(actor_key)), Payload(salt=bytes(16), value=VALUE))
