"""Tests for verifier/bundle.py: parsing tiezheng.bundle/v1 and the numbered verification steps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from verifier_testkit import (
    ORIGIN,
    BundleParts,
    KeyPair,
    b64,
    canonical,
    checkpoint_text,
    make_bundle,
    ref_root,
    sm3,
    trust_root_json,
)

from verifier.bundle import Bundle, verify_bundle
from verifier.errors import (
    AttestationMismatch,
    BadSignature,
    CommitmentMismatch,
    InvalidProof,
    KeyMismatch,
    MalformedInput,
    RootMismatch,
    UntrustedLog,
    VerificationFailed,
    VerifierError,
)
from verifier.report import Report
from verifier.trust import TrustRoot


@pytest.fixture(scope="module")
def parts(log_key: KeyPair, actor_key: KeyPair) -> BundleParts:
    return make_bundle(log_key, actor_key)


@pytest.fixture(scope="module")
def batch_parts(log_key: KeyPair, actor_key: KeyPair) -> BundleParts:
    return make_bundle(log_key, actor_key, batch=True)


@pytest.fixture(scope="module")
def root(log_key: KeyPair) -> TrustRoot:
    return TrustRoot.from_bytes(trust_root_json(log_key))


def _data(bundle: dict[str, Any]) -> bytes:
    return json.dumps(bundle).encode()


def _verify(bundle: dict[str, Any], root: TrustRoot) -> Report:
    return verify_bundle(Bundle.from_bytes(_data(bundle)), trust_root=root)


def _failure(bundle: dict[str, Any], root: TrustRoot, error: type[VerifierError], match: str) -> VerifierError:
    with pytest.raises(error, match=match) as info:
        _verify(bundle, root)
    return info.value


# Valid bundles


def test_verify_bundle_signed_event(parts: BundleParts, root: TrustRoot) -> None:
    report = _verify(parts.bundle, root)
    assert report.valid and report.failure is None
    assert [s.number for s in report.steps] == [1, 2, 3, 4, 5, 6, 7]
    assert all(s.status == "ok" for s in report.steps)
    assert report.assurance == "signed"
    assert (report.leaf_index, report.tree_size, report.event_id) == (4, 7, parts.bundle["event"]["event_id"])
    assert report.trust_root == root.digest and report.log_key_fingerprint == parts.log.fingerprint


def test_verify_bundle_batch_signed_event(batch_parts: BundleParts, root: TrustRoot) -> None:
    report = _verify(batch_parts.bundle, root)
    assert report.valid
    assert "batch attestation" in report.steps[4].detail


def test_verify_bundle_signed_assurance_says_nothing_against_operator(parts: BundleParts, root: TrustRoot) -> None:
    report = _verify(parts.bundle, root)
    assert [n for n in report.notes if "proves nothing against the operator" in n]


def test_verify_bundle_key_id_fingerprint_binds_actor_key(parts: BundleParts, root: TrustRoot) -> None:
    report = _verify(parts.bundle, root)
    assert report.actor_key_binding == "fingerprint"
    assert report.actor_key_fingerprint == parts.actor.fingerprint
    assert not [n for n in report.notes if "is a name" in n]


def test_verify_bundle_key_id_name_is_reported(log_key: KeyPair, actor_key: KeyPair, root: TrustRoot) -> None:
    report = _verify(make_bundle(log_key, actor_key, key_id="det-1#1").bundle, root)
    assert report.valid and report.actor_key_binding == "signature"
    assert [n for n in report.notes if f"actor key {actor_key.fingerprint}" in n and "'det-1#1' is a name" in n]


def test_verify_bundle_key_id_fingerprint_prefix(log_key: KeyPair, actor_key: KeyPair, root: TrustRoot) -> None:
    bundle = make_bundle(log_key, actor_key, key_id=f"tiezheng#{actor_key.fingerprint[:16]}").bundle
    assert _verify(bundle, root).actor_key_binding == "fingerprint"


def test_verify_bundle_without_payload_skips_step_6(parts: BundleParts, root: TrustRoot) -> None:
    report = _verify(parts.with_changes(payload=None), root)
    assert (report.steps[5].number, report.steps[5].status) == (6, "skipped")


def test_verify_bundle_without_anchors_skips_step_7(parts: BundleParts, root: TrustRoot) -> None:
    report = _verify(parts.with_changes(anchors=[]), root)
    assert (report.steps[-1].number, report.steps[-1].status) == (7, "skipped")
    assert report.assurance == "signed"


def test_verify_bundle_two_anchors(log_key: KeyPair, actor_key: KeyPair, root: TrustRoot) -> None:
    report = _verify(make_bundle(log_key, actor_key, anchor_sizes=(3, 7, 11)).bundle, root)
    assert [s.name for s in report.steps[6:]] == [
        "anchor 1 (local journal seq 1)",
        "anchor 2 (local journal seq 2)",
    ]


def test_verify_bundle_first_leaf_of_one_leaf_tree(log_key: KeyPair, actor_key: KeyPair, root: TrustRoot) -> None:
    assert _verify(make_bundle(log_key, actor_key, index=0, size=1, anchor_sizes=(1,)).bundle, root).valid


def test_verify_bundle_rotated_log_keys(parts: BundleParts, other_key: KeyPair) -> None:
    rotated = TrustRoot.from_bytes(trust_root_json(other_key, parts.log))
    assert _verify(parts.bundle, rotated).log_key_fingerprint == parts.log.fingerprint


# Trust: nothing in the bundle is trusted


def test_verify_bundle_trust_root_for_another_log(parts: BundleParts, log_key: KeyPair) -> None:
    elsewhere = TrustRoot.from_bytes(trust_root_json(log_key, origin="other.example/log"))
    error = _failure(parts.bundle, elsewhere, UntrustedLog, f"names no key for log '{ORIGIN}'.*trust-root init")
    assert (error.step, error.step_name) == (2, "log key")
    assert isinstance(error, MalformedInput)  # exit 2: nothing to check against


def test_verify_bundle_untrusted_log_key(parts: BundleParts, other_key: KeyPair) -> None:
    other = TrustRoot.from_bytes(trust_root_json(other_key))
    error = _failure(parts.bundle, other, KeyMismatch, f"bundle.keys.log {parts.log.fingerprint} is not a key")
    assert error.step == 2


def test_verify_bundle_checkpoint_by_untrusted_key(parts: BundleParts, other_key: KeyPair) -> None:
    both = TrustRoot.from_bytes(trust_root_json(other_key, parts.log))
    cp = parts.bundle["checkpoint"].split("\n")
    bundle = parts.with_changes(checkpoint=checkpoint_text(KeyPair.generate(), 7, ref_root(parts.leaves[:7])))
    assert cp[1] == "7"
    error = _failure(bundle, both, KeyMismatch, "checkpoint has no signature by a log key the trust root names")
    assert (error.step, error.step_name) == (3, "checkpoint signature")
    assert error.diagnostics().startswith("step 3 (checkpoint signature) failed: checkpoint has no signature")


def test_verify_bundle_failure_report_lists_steps_so_far(parts: BundleParts, root: TrustRoot) -> None:
    error = _failure(parts.with_changes(leaf_index=5), root, RootMismatch, "root mismatch")
    assert error.report is not None and not error.report.valid
    assert [(s.number, s.status) for s in error.report.steps] == [(1, "ok"), (2, "ok"), (3, "ok"), (4, "failed")]
    assert error.report.assurance is None
    assert error.report.failure == error.diagnostics()


def test_verify_bundle_swapped_log_key(parts: BundleParts, other_key: KeyPair, root: TrustRoot) -> None:
    """An attacker re-signs the checkpoint and ships their own log key: the trust root does not name it."""
    forged = parts.with_changes(
        checkpoint=checkpoint_text(other_key, 7, ref_root(parts.leaves[:7])),
        anchors=[],
        keys={"log": other_key.pem, "actor": parts.actor.pem},
    )
    _failure(forged, root, KeyMismatch, f"bundle.keys.log {other_key.fingerprint} is not a key the trust root")
    honest_keys = {**forged, "keys": parts.bundle["keys"]}
    _failure(honest_keys, root, KeyMismatch, "checkpoint has no signature by a log key the trust root names")


def test_verify_bundle_resigned_by_another_actor_key(parts: BundleParts, other_key: KeyPair, root: TrustRoot) -> None:
    """An attacker changes the event, re-signs it with their key and ships that key: the log never saw it."""
    bundle = parts.with_changes(keys={"log": parts.log.pem, "actor": other_key.pem})
    event = bundle["event"]
    event["actor"] = {**event["actor"], "key_id": other_key.fingerprint}
    claim = {k: v for k, v in event.items() if k not in ("received_at", "prev", "signature")}
    event["signature"] = b64(other_key.sign(canonical(claim)))
    error = _failure(bundle, root, RootMismatch, "root mismatch")
    assert error.step == 4 and error.report is not None
    assert [s.status for s in error.report.steps if s.number == 5] == []  # the actor key was never used


def test_verify_bundle_other_actor_key(parts: BundleParts, other_key: KeyPair, root: TrustRoot) -> None:
    bundle = parts.with_changes(keys={"log": parts.log.pem, "actor": other_key.pem})
    error = _failure(bundle, root, BadSignature, f"does not verify under key {other_key.fingerprint}")
    assert error.step == 5


def test_verify_bundle_key_id_names_another_key(log_key: KeyPair, actor_key: KeyPair, root: TrustRoot) -> None:
    bundle = make_bundle(log_key, actor_key, key_id=f"det-1#{'0' * 16}").bundle
    _failure(bundle, root, KeyMismatch, f"key_id 'det-1#0000000000000000' names another key.*{actor_key.fingerprint}")


def test_verify_bundle_anchor_by_untrusted_key(parts: BundleParts, other_key: KeyPair, root: TrustRoot) -> None:
    bundle = parts.with_changes()
    bundle["anchors"][0]["entry"]["key_id"] = other_key.fingerprint
    error = _failure(bundle, root, KeyMismatch, "journal entry seq 1 is signed by key .* not a log key the trust root")
    assert error.step == 7


# Failures of the evidence, in step order


def test_verify_bundle_tampered_claim(parts: BundleParts, root: TrustRoot) -> None:
    bundle = parts.with_changes()
    bundle["event"]["kind"] = "permit.closed"
    error = _failure(bundle, root, RootMismatch, "root mismatch")
    assert error.step == 4


def test_verify_bundle_batch_attestation_swapped(batch_parts: BundleParts, root: TrustRoot) -> None:
    bundle = batch_parts.with_changes()
    bundle["attestation"]["event_hashes"] = bundle["attestation"]["event_hashes"][:1]
    error = _failure(bundle, root, AttestationMismatch, "attestation hash mismatch")
    assert error.step == 5


def test_verify_bundle_attestation_of_another_tenant(
    log_key: KeyPair, actor_key: KeyPair, root: TrustRoot
) -> None:
    bundle = make_bundle(log_key, actor_key, batch=True, attestation_tenant="globex").bundle
    _failure(bundle, root, AttestationMismatch, "tenant mismatch: event tenant 'acme', attestation tenant 'globex'")


def test_verify_bundle_wrong_payload(parts: BundleParts, root: TrustRoot) -> None:
    bundle = parts.with_changes(
        payload={"salt": parts.bundle["payload"]["salt"], "value": {"gas": "H2S", "ppm": 0}}
    )
    error = _failure(bundle, root, CommitmentMismatch, "payload commitment mismatch")
    assert (error.step, error.step_name) == (6, "payload commitment")


def test_verify_bundle_tampered_server_field(parts: BundleParts, root: TrustRoot) -> None:
    bundle = parts.with_changes()
    bundle["event"]["received_at"] = "2025-03-02T00:00:00Z"
    error = _failure(
        bundle, root, RootMismatch, f"root mismatch: calculated [0-9a-f]{{64}}, want {ref_root(parts.leaves[:7]).hex()}"
    )
    assert (error.step, error.step_name) == (4, "leaf hash and inclusion proof")


def test_verify_bundle_wrong_leaf_index(parts: BundleParts, root: TrustRoot) -> None:
    error = _failure(parts.with_changes(leaf_index=5), root, RootMismatch, "root mismatch")
    assert error.step == 4


def test_verify_bundle_tampered_inclusion_proof(parts: BundleParts, root: TrustRoot) -> None:
    proof = list(parts.bundle["inclusion_proof"])
    proof[0] = sm3(b"x").hex()
    error = _failure(parts.with_changes(inclusion_proof=proof), root, RootMismatch, "root mismatch")
    assert error.step == 4


def test_verify_bundle_short_inclusion_proof(parts: BundleParts, root: TrustRoot) -> None:
    proof = parts.bundle["inclusion_proof"][:-1]
    _failure(parts.with_changes(inclusion_proof=proof), root, InvalidProof, "wrong proof length: got 2 hashes, want 3")


def test_verify_bundle_tampered_anchor_entry(parts: BundleParts, root: TrustRoot) -> None:
    bundle = parts.with_changes()
    bundle["anchors"][0]["entry"]["anchored_at"] = "2031-01-01T00:00:00Z"
    error = _failure(bundle, root, BadSignature, "journal entry seq 1 signature does not verify")
    assert (error.step, error.step_name) == (7, "anchor 1 (local journal seq 1)")


def test_verify_bundle_anchor_proof_wrong(parts: BundleParts, root: TrustRoot) -> None:
    bundle = parts.with_changes()
    bundle["anchors"][0]["consistency_proof"][0] = sm3(b"y").hex()
    error = _failure(bundle, root, RootMismatch, "(first|second) root mismatch")
    assert error.step == 7


def test_verify_bundle_failures_are_verification_failed(parts: BundleParts, root: TrustRoot) -> None:
    with pytest.raises(VerificationFailed, match="root mismatch"):
        _verify(parts.with_changes(leaf_index=5), root)


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
    with pytest.raises(MalformedInput, match=r"bundle.leaf_index must be an integer in \[0, 9007199254740991\], got 4.0"):
        Bundle.from_bytes(_data(parts.with_changes(leaf_index=4.0)))


@pytest.mark.parametrize("index", [2**60, 2**53, -(2**53)])
def test_from_bytes_integer_beyond_2_53(parts: BundleParts, index: int) -> None:
    """Defect 3 of issue 8: a leaf_index of 2^60 was read and failed later as an invalid proof (exit 1)."""
    with pytest.raises(MalformedInput, match=r"integer -?\d+ is outside ±\(2\^53 - 1\)") as info:
        Bundle.from_bytes(_data(parts.with_changes(leaf_index=index)))
    assert info.value.step == 1


def test_from_bytes_integer_beyond_2_53_in_payload(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="is outside"):
        Bundle.from_bytes(_data(parts.with_changes(payload={"salt": "00" * 16, "value": {"n": 10**30}})))


def test_from_bytes_negative_leaf_index(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.leaf_index must be an integer in"):
        Bundle.from_bytes(_data(parts.with_changes(leaf_index=-1)))


def test_from_bytes_leaf_index_beyond_checkpoint(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.leaf_index 7 is not in the checkpoint's tree: want 0 <= leaf_index < 7"):
        Bundle.from_bytes(_data(parts.with_changes(leaf_index=7)))


def test_from_bytes_huge_inclusion_proof(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle.inclusion_proof has 65 hashes, want at most 64"):
        Bundle.from_bytes(_data(parts.with_changes(inclusion_proof=["00" * 32] * 65)))


def test_from_bytes_huge_consistency_proof(parts: BundleParts) -> None:
    bundle = parts.with_changes()
    bundle["anchors"][0]["consistency_proof"] = ["00" * 32] * 66
    with pytest.raises(MalformedInput, match="anchor.consistency_proof has 66 hashes, want at most 65"):
        Bundle.from_bytes(_data(bundle))


def test_from_bytes_too_many_anchors(parts: BundleParts) -> None:
    anchors = parts.bundle["anchors"][:1] * 65
    with pytest.raises(MalformedInput, match="bundle.anchors has 65 items, want at most 64"):
        Bundle.from_bytes(_data(parts.with_changes(anchors=anchors)))


def test_from_bytes_too_many_checkpoint_signatures(parts: BundleParts) -> None:
    text = parts.bundle["checkpoint"]
    line = text.split("\n\n")[1]
    with pytest.raises(MalformedInput, match="65 signature lines, want at most 64"):
        Bundle.from_bytes(_data(parts.with_changes(checkpoint=text + line * 64)))


def test_from_bytes_deep_nesting(parts: BundleParts) -> None:
    """500 levels parsed as JSON, then crashed the old verifier with a RecursionError (a traceback)."""
    deep: Any = 1
    for _ in range(500):
        deep = [deep]
    with pytest.raises(MalformedInput, match="bundle nests deeper than 64 levels"):
        Bundle.from_bytes(_data(parts.with_changes(payload={"salt": "00" * 16, "value": deep})))


def test_from_bytes_very_deep_nesting(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="bundle is not valid json"):
        Bundle.from_bytes(b"[" * 100_000 + b"]" * 100_000)


def test_from_bytes_number_overflows_double(parts: BundleParts) -> None:
    data = _data(parts.bundle).replace(b'"ppm": 3.5', b'"ppm": 1e400')
    with pytest.raises(MalformedInput, match="number 1e400 is too large for a double"):
        Bundle.from_bytes(data)


def test_from_bytes_lone_surrogate(parts: BundleParts) -> None:
    data = _data(parts.bundle).replace(b'"det-1"', b'"det-\\ud800"', 1)
    with pytest.raises(MalformedInput, match="lone surrogate"):
        Bundle.from_bytes(data)


@pytest.mark.parametrize("where", ["bundle", "keys", "payload", "anchor"])
def test_from_bytes_unknown_field(parts: BundleParts, where: str) -> None:
    bundle = parts.with_changes()
    target = {"bundle": bundle, "keys": bundle["keys"], "payload": bundle["payload"], "anchor": bundle["anchors"][0]}
    target[where]["extra"] = 1
    with pytest.raises(MalformedInput, match="has unknown field 'extra'"):
        Bundle.from_bytes(_data(bundle))


def test_from_bytes_too_large() -> None:
    with pytest.raises(MalformedInput, match="want at most 67108864"):
        Bundle.from_bytes(b" " * (64 * 1024 * 1024 + 1))


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
    anchors = [{**parts.bundle["anchors"][0], "backend": "chain"}]
    with pytest.raises(MalformedInput, match="unsupported anchor backend 'chain', want 'local', 'fabric' or 'evm'"):
        Bundle.from_bytes(_data(parts.with_changes(anchors=anchors)))


def test_from_bytes_evm_anchor_with_local_fields(parts: BundleParts) -> None:
    anchors = [{**parts.bundle["anchors"][0], "backend": "evm"}]
    with pytest.raises(MalformedInput, match="evm anchor is missing field 'tree_size'"):
        Bundle.from_bytes(_data(parts.with_changes(anchors=anchors)))


def test_from_bytes_bad_payload_salt(parts: BundleParts) -> None:
    with pytest.raises(MalformedInput, match="payload.salt must be 16 bytes of lower-case hex"):
        Bundle.from_bytes(_data(parts.with_changes(payload={"salt": "zz", "value": 1})))


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_verify_bundle_any_byte_changed_fails_or_means_the_same(
    batch_parts: BundleParts, root: TrustRoot, data: st.DataObject
) -> None:
    original = _data(batch_parts.bundle)
    changed = bytearray(original)
    position = data.draw(st.integers(0, len(changed) - 1), label="position")
    changed[position] ^= data.draw(st.integers(1, 255), label="xor")
    try:
        verify_bundle(Bundle.from_bytes(bytes(changed)), trust_root=root)
    except VerifierError:
        return
    assert json.loads(bytes(changed)) == json.loads(
        original
    )  # only JSON whitespace may change and still verify
