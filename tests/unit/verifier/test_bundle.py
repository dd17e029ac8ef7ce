"""Tests for verifier/bundle.py: parsing tiezheng.bundle/v1 and the numbered verification steps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verifier_testkit import BundleParts, KeyPair, b64, checkpoint_text, make_bundle, ref_root, sm3

from verifier.bundle import Bundle, verify_bundle
from verifier.errors import (
    AttestationMismatch,
    BadSignature,
    CommitmentMismatch,
    InvalidProof,
    KeyMismatch,
    MalformedInput,
    RootMismatch,
    VerificationFailed,
    VerifierError,
)
from verifier.report import Report


@pytest.fixture(scope="module")
def parts(log_key: KeyPair, actor_key: KeyPair) -> BundleParts:
    return make_bundle(log_key, actor_key)


@pytest.fixture(scope="module")
def batch_parts(log_key: KeyPair, actor_key: KeyPair) -> BundleParts:
    return make_bundle(log_key, actor_key, batch=True)


def _data(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def _verify(bundle: dict[str, Any], *, log_key_pem: str | None = None) -> Report:
    return verify_bundle(Bundle.from_bytes(_data(bundle)), log_key_pem=log_key_pem)


def _failure(
    bundle: dict[str, Any], error: type[VerifierError], match: str, *, log_key_pem: str | None = None
) -> VerifierError:
    with pytest.raises(error, match=match) as info:
        _verify(bundle, log_key_pem=log_key_pem)
    return info.value


# Valid bundles


def test_verify_bundle_signed_event(parts: BundleParts) -> None:
    report = _verify(parts.bundle)
    assert report.valid and report.failure is None
    assert [s.number for s in report.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert all(s.status == "ok" for s in report.steps)
    assert report.assurance == "signed"
    assert (report.leaf_index, report.tree_size, report.event_id) == (4, 7, parts.bundle["event"]["event_id"])


def test_verify_bundle_batch_signed_event(batch_parts: BundleParts) -> None:
    report = _verify(batch_parts.bundle)
    assert report.valid
    assert "batch attestation" in report.steps[3].detail


def test_verify_bundle_unpinned_key_is_reported(parts: BundleParts) -> None:
    report = _verify(parts.bundle)
    assert report.log_key_pinned is False
    assert report.log_key_fingerprint == parts.log.fingerprint
    assert report.actor_key_fingerprint == parts.actor.fingerprint
    assert any("not pinned" in note for note in report.notes)


def test_verify_bundle_signed_assurance_says_nothing_against_operator(parts: BundleParts) -> None:
    report = _verify(parts.bundle, log_key_pem=parts.log.pem)
    assert report.log_key_pinned is True
    assert [n for n in report.notes if "proves nothing against the operator" in n]
    assert not [n for n in report.notes if "not pinned" in n]


def test_verify_bundle_without_payload_skips_step_5(parts: BundleParts) -> None:
    report = _verify(parts.with_changes(payload=None))
    assert (report.steps[4].number, report.steps[4].status) == (5, "skipped")


def test_verify_bundle_without_anchors_skips_step_7(parts: BundleParts) -> None:
    report = _verify(parts.with_changes(anchors=[]))
    assert (report.steps[-1].number, report.steps[-1].status) == (7, "skipped")
    assert report.assurance == "signed"


def test_verify_bundle_two_anchors(log_key: KeyPair, actor_key: KeyPair) -> None:
    report = _verify(make_bundle(log_key, actor_key, anchor_sizes=(3, 7, 11)).bundle)
    assert [s.name for s in report.steps[6:]] == [
        "anchor 1 (local journal seq 1)",
        "anchor 2 (local journal seq 2)",
    ]


def test_verify_bundle_first_leaf_of_one_leaf_tree(log_key: KeyPair, actor_key: KeyPair) -> None:
    assert _verify(make_bundle(log_key, actor_key, index=0, size=1, anchor_sizes=(1,)).bundle).valid


# Failures, in step order


def test_verify_bundle_pinned_other_key(parts: BundleParts, other_key: KeyPair) -> None:
    error = _failure(
        parts.bundle, KeyMismatch, "checkpoint has no signature by the log key", log_key_pem=other_key.pem
    )
    assert (error.step, error.step_name) == (3, "checkpoint signature")
    assert error.diagnostics().startswith("step 3 (checkpoint signature) failed: checkpoint has no signature")


def test_verify_bundle_failure_report_lists_steps_so_far(parts: BundleParts, other_key: KeyPair) -> None:
    error = _failure(parts.bundle, KeyMismatch, "no signature by the log key", log_key_pem=other_key.pem)
    assert error.report is not None and not error.report.valid
    assert [(s.number, s.status) for s in error.report.steps] == [(1, "ok"), (2, "ok"), (3, "failed")]
    assert error.report.assurance is None
    assert error.report.failure == error.diagnostics()


def test_verify_bundle_pinned_key_not_pem(parts: BundleParts) -> None:
    error = _failure(parts.bundle, MalformedInput, "not one pem block", log_key_pem="nope")
    assert error.step == 2


def test_verify_bundle_attacker_key_passes_only_unpinned(parts: BundleParts, other_key: KeyPair) -> None:
    cp = parts.bundle["checkpoint"].split("\n")
    forged = parts.with_changes(
        checkpoint=checkpoint_text(other_key, int(cp[1]), ref_root(parts.leaves[: int(cp[1])])),
        anchors=[],
        keys={"log": other_key.pem, "actor": parts.actor.pem},
    )
    assert _verify(forged).valid
    _failure(forged, KeyMismatch, "checkpoint has no signature by the log key", log_key_pem=parts.log.pem)


def test_verify_bundle_tampered_claim(parts: BundleParts) -> None:
    bundle = parts.with_changes()
    bundle["event"]["kind"] = "permit.closed"
    error = _failure(bundle, BadSignature, "actor signature over the claim does not verify")
    assert error.step == 4


def test_verify_bundle_other_actor_key(parts: BundleParts, other_key: KeyPair) -> None:
    bundle = parts.with_changes(keys={"log": parts.log.pem, "actor": other_key.pem})
    error = _failure(bundle, BadSignature, f"does not verify under key {other_key.fingerprint}")
    assert error.step == 4


def test_verify_bundle_batch_attestation_swapped(batch_parts: BundleParts, actor_key: KeyPair) -> None:
    bundle = batch_parts.with_changes()
    bundle["attestation"]["event_hashes"] = bundle["attestation"]["event_hashes"][:1]
    error = _failure(bundle, AttestationMismatch, "attestation hash mismatch")
    assert error.step == 4


def test_verify_bundle_wrong_payload(parts: BundleParts) -> None:
    bundle = parts.with_changes(
        payload={"salt": parts.bundle["payload"]["salt"], "value": {"gas": "H2S", "ppm": 0}}
    )
    error = _failure(bundle, CommitmentMismatch, "payload commitment mismatch")
    assert (error.step, error.step_name) == (5, "payload commitment")


def test_verify_bundle_tampered_server_field(parts: BundleParts) -> None:
    bundle = parts.with_changes()
    bundle["event"]["received_at"] = "2025-03-02T00:00:00Z"
    error = _failure(
        bundle,
        RootMismatch,
        f"root mismatch: calculated [0-9a-f]{{64}}, want {ref_root(parts.leaves[:7]).hex()}",
    )
    assert (error.step, error.step_name) == (6, "leaf hash and inclusion proof")


def test_verify_bundle_wrong_leaf_index(parts: BundleParts) -> None:
    error = _failure(parts.with_changes(leaf_index=5), RootMismatch, "root mismatch")
    assert error.step == 6


def test_verify_bundle_leaf_index_beyond_checkpoint(parts: BundleParts) -> None:
    error = _failure(
        parts.with_changes(leaf_index=7), InvalidProof, "leaf index out of range: got 7, want 0 <= index < 7"
    )
    assert error.step == 6


def test_verify_bundle_tampered_inclusion_proof(parts: BundleParts) -> None:
    proof = list(parts.bundle["inclusion_proof"])
    proof[0] = sm3(b"x").hex()
    error = _failure(parts.with_changes(inclusion_proof=proof), RootMismatch, "root mismatch")
    assert error.step == 6


def test_verify_bundle_tampered_anchor_entry(parts: BundleParts) -> None:
    bundle = parts.with_changes()
    bundle["anchors"][0]["entry"]["anchored_at"] = "2031-01-01T00:00:00Z"
    error = _failure(bundle, BadSignature, "journal entry seq 1 signature does not verify")
    assert (error.step, error.step_name) == (7, "anchor 1 (local journal seq 1)")


def test_verify_bundle_anchor_proof_wrong(parts: BundleParts) -> None:
    bundle = parts.with_changes()
    bundle["anchors"][0]["consistency_proof"][0] = sm3(b"y").hex()
    error = _failure(bundle, RootMismatch, "(first|second) root mismatch")
    assert error.step == 7


def test_verify_bundle_failures_are_verification_failed(parts: BundleParts) -> None:
    with pytest.raises(VerificationFailed, match="root mismatch"):
        _verify(parts.with_changes(leaf_index=5))


# Parsing (step 1)


def test_from_bytes_not_json() -> None:
    with pytest.raises(MalformedInput, match="bundle is not valid json") as info:
        Bundle.from_bytes(b"{not json")
    assert (info.value.step, info.value.step_name) == (1, "structure")


def test_from_bytes_not_utf8() -> None:
    with pytest.raises(MalformedInput, match="bundle is not valid json"):
        Bundle.from_bytes(b"\xff\xfe{}")


def test_from_bytes_not_object() -> None:
    with pytest.raises(MalformedInput, match="bundle must be a json object, got array"):
        Bundle.from_bytes(b"[]")


def test_from_bytes_duplicate_key(parts: BundleParts) -> None:
    data = _data(parts.bundle)[:-1] + b', "leaf_index": 0}'
    with pytest.raises(MalformedInput, match="duplicate key 'leaf_index'"):
        Bundle.from_bytes(data)


def test_from_bytes_nan(parts: BundleParts) -> None:
    data = _data(parts.bundle).replace(b'"ppm": 3.5', b'"ppm": NaN')
    with pytest.raises(MalformedInput, match="NaN is not allowed in json"):
        Bundle.from_bytes(data)


def test_from_bytes_wrong_format(parts: BundleParts) -> None:
    with pytest.raises(
        MalformedInput, match="bundle format is 'tiezheng.bundle/v2', want 'tiezheng.bundle/v1'"
    ):
        Bundle.from_bytes(_data(parts.with_changes(format="tiezheng.bundle/v2")))


@pytest.mark.parametrize(
    "field",
    [
        "format",
        "event",
        "leaf_index",
        "attestation",
        "payload",
        "checkpoint",
        "inclusion_proof",
        "anchors",
        "keys",
    ],
)
def test_from_bytes_missing_field(parts: BundleParts, field: str) -> None:
    bundle = parts.with_changes()
    del bundle[field]
    with pytest.raises(MalformedInput, match=f"bundle is missing field '{field}'"):
        Bundle.from_bytes(_data(bundle))


def test_from_bytes_leaf_index_float(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.leaf_index must be a non-negative integer, got 4.0"):
        Bundle.from_bytes(_data(parts.with_changes(leaf_index=4.0)))


def test_from_bytes_batch_event_without_attestation(batch_parts: BundleParts) -> None:
    with pytest.raises(
        MalformedInput, match="bundle.attestation does not fit the event: want an attestation object"
    ):
        Bundle.from_bytes(_data(batch_parts.with_changes(attestation=None)))


def test_from_bytes_signed_event_with_attestation(parts: BundleParts, batch_parts: BundleParts) -> None:
    bundle = parts.with_changes(attestation=batch_parts.bundle["attestation"])
    with pytest.raises(MalformedInput, match="bundle.attestation does not fit the event: want null"):
        Bundle.from_bytes(_data(bundle))


def test_from_bytes_bad_checkpoint(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="malformed checkpoint: missing blank line"):
        Bundle.from_bytes(_data(parts.with_changes(checkpoint="o\n1\n")))


def test_from_bytes_bad_proof_hash(parts: BundleParts) -> None:
    with pytest.raises(
        MalformedInput, match=r"bundle.inclusion_proof\[0\] must be 32 bytes of lower-case hex"
    ):
        Bundle.from_bytes(_data(parts.with_changes(inclusion_proof=[b64(b"x" * 32)])))


def test_from_bytes_bad_actor_key(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.keys.actor: public key is not one pem block"):
        Bundle.from_bytes(_data(parts.with_changes(keys={"log": parts.log.pem, "actor": "x"})))


def test_from_bytes_missing_log_key(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.keys is missing field 'log'"):
        Bundle.from_bytes(_data(parts.with_changes(keys={"actor": parts.actor.pem})))


def test_from_bytes_anchors_not_list(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.anchors must be a list"):
        Bundle.from_bytes(_data(parts.with_changes(anchors={})))


def test_from_bytes_unknown_anchor_backend(parts: BundleParts) -> None:
    anchors = [{**parts.bundle["anchors"][0], "backend": "evm"}]
    with pytest.raises(MalformedInput, match="unsupported anchor backend 'evm', want 'local'"):
        Bundle.from_bytes(_data(parts.with_changes(anchors=anchors)))


def test_from_bytes_bad_payload_salt(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="payload.salt must be 16 bytes of lower-case hex"):
        Bundle.from_bytes(_data(parts.with_changes(payload={"salt": "zz", "value": 1})))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_verify_bundle_any_byte_changed_fails_or_means_the_same(
    batch_parts: BundleParts, data: st.DataObject
) -> None:
    original = _data(batch_parts.bundle)
    changed = bytearray(original)
    position = data.draw(st.integers(0, len(changed) - 1), label="position")
    changed[position] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        verify_bundle(Bundle.from_bytes(bytes(changed)), log_key_pem=batch_parts.log.pem)
    except VerifierError:
        return
    assert json.loads(bytes(changed)) == json.loads(
        original
    )  # only JSON whitespace may change and still verify
