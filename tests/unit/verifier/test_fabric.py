"""verifier/fabric.py on a real block: the bundle and trust root in tests/vectors/fabric/ were produced by
``tests/e2e/test_demo_fabric.py`` against the native Fabric 2.1.1 network (TIEZHENG_WRITE_FABRIC_VECTOR=1).

Every field of the receipt and every region of the block changed is refused with its exact reason; the
checks beneath the orderer's signature (endorsements, write set) are exercised directly, since any change
in the block's data is caught first by the data hash or the orderer's signature over the header.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import load_pem_x509_certificate

from tests.unit.verifier.verifier_testkit import KeyPair
from verifier import _fabric_pb as pb
from verifier.bundle import Bundle, verify_bundle
from verifier.errors import (
    AnchorMismatch,
    BadSignature,
    KeyMismatch,
    MalformedInput,
    VerificationFailed,
    VerifierError,
)
from verifier.fabric import (
    FabricReceipt,
    check_endorsements,
    checkpoint_key,
    stored_record,
    verify_fabric_receipt,
)
from verifier.fabric_block import block_header_bytes
from verifier.trust import TrustRoot

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "fabric"
BUNDLE = json.loads((VECTORS / "bundle.json").read_bytes())
TRUST = TrustRoot.from_file(VECTORS / "trust-root.json")
FABRIC = next(i for i, a in enumerate(BUNDLE["anchors"]) if a["backend"] == "fabric")


def _bundle(anchor: dict[str, Any] | None = None, **fields: Any) -> bytes:
    bundle = copy.deepcopy(BUNDLE)
    if anchor is not None:
        bundle["anchors"][FABRIC] = anchor
    bundle.update(fields)
    return json.dumps(bundle).encode()


def _anchor(**changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(BUNDLE["anchors"][FABRIC]), **changes}


def _block() -> Any:
    return pb.common.Block.FromString(base64.b64decode(BUNDLE["anchors"][FABRIC]["block"]))


def _with_block(block: Any, *, rehash: bool = False) -> dict[str, Any]:
    if rehash:
        block.header.data_hash = hashlib.sha256(b"".join(block.data.data)).digest()
    return _anchor(block=base64.b64encode(block.SerializeToString()).decode())


def _verify(data: bytes, trust: TrustRoot = TRUST) -> Any:
    return verify_bundle(Bundle.from_bytes(data), trust_root=trust)


def _trust(**changes: Any) -> TrustRoot:
    assert TRUST.fabric is not None
    return replace(TRUST, fabric=replace(TRUST.fabric, **changes))


def test_vector_bundle_verifies_as_fabric_endorsed_by_both_orgs() -> None:
    report = _verify(_bundle())

    assert report.valid and report.assurance == "fabric"
    assert report.fabric_endorsed_by == ("Org1MSP", "Org2MSP")
    step = next(s for s in report.steps if s.name.startswith("anchor") and "fabric" in s.name)
    assert "endorsed by Org1MSP, Org2MSP, block signed by OrdererMSP" in step.detail
    assert any(n.startswith("fabric: the checkpoint is extended by one stored on the business chain") for n in report.notes)


def test_block_header_bytes_is_the_der_fabric_signs() -> None:
    header = pb.common.BlockHeader(number=128, previous_hash=b"\x01", data_hash=b"")
    assert block_header_bytes(header).hex() == "3009" "02020080" "040101" "0400"


def test_checkpoint_key_is_the_chaincode_composite_key() -> None:
    assert checkpoint_key("o/x", 7) == b"\x00tiezheng.checkpoint\x00o/x\x0000000000000000000007\x00"


# -- every receipt field ------------------------------------------------------------------------------
_RECEIPT_CASES = [
    ("tx_id", "0" * 64, AnchorMismatch, r"is not the receipt's: got .*want \(3, 'evidence', '0000"),
    ("channel", "other", AnchorMismatch, r"is not the receipt's: .*receipt channel 'other'"),
    ("chaincode", "other", AnchorMismatch, r"ran chaincode 'checkpoints' \(receipt says 'other'\)"),
    ("block_number", 1, AnchorMismatch, r"fabric block number mismatch: block is \d+, receipt says 1$"),
    ("tx_index", 9, AnchorMismatch, r"tx_index 9 is not in block \d+ of 1 transactions"),
    ("validation_code", "MVCC_READ_CONFLICT", AnchorMismatch,
     r"is not valid: block validation code 0, receipt says 'MVCC_READ_CONFLICT'"),
    ("tree_size", BUNDLE["anchors"][FABRIC]["tree_size"] + 1, AnchorMismatch,
     r"write set does not store the receipt's checkpoint"),
    ("root_hash", "ab" * 32, AnchorMismatch, r"write set does not store the receipt's checkpoint: .*'abab"),
    # the vector's anchor is of the bundle checkpoint's own size, so its proof is empty
    ("consistency_proof", ["cd" * 32], VerificationFailed, r"^wrong proof length: got 1 hashes, want 0$"),
    ("block", base64.b64encode(b"\xff\xff\xff").decode(), MalformedInput, r"fabric block does not parse"),
    ("block", "not base64!", MalformedInput, r"block"),
    ("backend", "evm", MalformedInput, r"evm anchor is missing field 'origin'"),
    ("backend", "chain", MalformedInput, r"unsupported anchor backend 'chain', want 'local', 'fabric' or 'evm'"),
    ("tree_size", -1, MalformedInput, r"tree_size"),
    ("tx_id", "", MalformedInput, r"fabric anchor.tx_id must be 1 to 128 characters"),
]


@pytest.mark.parametrize(("field", "value", "error", "reason"), _RECEIPT_CASES,
                         ids=[f"{c[0]}={str(c[1])[:12]}" for c in _RECEIPT_CASES])
def test_receipt_field_changed_is_refused(field: str, value: Any, error: type[VerifierError], reason: str) -> None:
    with pytest.raises(error, match=reason):
        _verify(_bundle(_anchor(**{field: value})))


def test_receipt_field_missing_or_unknown_is_malformed() -> None:
    missing = _anchor()
    del missing["block"]
    with pytest.raises(MalformedInput, match="fabric anchor is missing field 'block'"):
        _verify(_bundle(missing))
    with pytest.raises(MalformedInput, match="fabric anchor has unknown field 'extra'"):
        _verify(_bundle(_anchor(extra=1)))


# -- every region of the block ------------------------------------------------------------------------
def _set_number(b: Any) -> None:
    b.header.number += 1


def _set_previous(b: Any) -> None:
    b.header.previous_hash = b"\x00" * 32


def _set_data_hash(b: Any) -> None:
    b.header.data_hash = b"\x00" * 32


def _flip_data(b: Any) -> None:
    raw = bytearray(b.data.data[0])
    raw[len(raw) // 2] ^= 1
    b.data.data[0] = bytes(raw)


def _metadata(b: Any, index: int, flip_at: int) -> None:
    raw = bytearray(b.metadata.metadata[index])
    raw[flip_at] ^= 1
    b.metadata.metadata[index] = bytes(raw)


_BLOCK_CASES: list[tuple[str, Any, bool, type[VerifierError], str]] = [
    ("header number", _set_number, False, AnchorMismatch, r"fabric block number mismatch"),
    ("header previous hash", _set_previous, False, BadSignature, r"has no valid orderer signature: orderer signature"),
    ("header data hash", _set_data_hash, False, AnchorMismatch, r"data hash mismatch: calculated [0-9a-f]{64}, header"),
    ("transaction bytes", _flip_data, False, AnchorMismatch, r"data hash mismatch"),
    ("transaction bytes, data hash recomputed", _flip_data, True, BadSignature, r"no valid orderer signature"),
    ("signature metadata value", lambda b: _metadata(b, 0, 3), False, VerifierError, r"orderer signature|parse"),
    ("orderer signature bytes", lambda b: _metadata(b, 0, len(b.metadata.metadata[0]) - 3), False, VerifierError,
     r"orderer signature|parse"),
    ("validation code", lambda b: _metadata(b, 2, 0), False, AnchorMismatch,
     r"is not valid: block validation code 1, receipt says 'VALID'"),
    ("validation codes cut", lambda b: b.metadata.metadata.__setitem__(2, b""), False, AnchorMismatch,
     r"validation codes cover 0 transactions, the block has 1"),
    ("no signature metadata", lambda b: b.metadata.ClearField("metadata"), False, BadSignature,
     r"has no orderer signature metadata"),
    ("last config metadata", lambda b: b.metadata.metadata.__setitem__(1, b"\x0a\x02\x08\x07"), False,
     AnchorMismatch, r"LAST_CONFIG metadata differs from the signed last config index \d+"),
    ("orderer metadata", lambda b: b.metadata.metadata.__setitem__(3, b"\x0a\x00"), False, AnchorMismatch,
     r"ORDERER metadata must be empty in fabric 2.x, got 2 bytes"),
    ("commit hash metadata", lambda b: b.metadata.metadata.__setitem__(4, b"\x0a\x01\x00"), False, AnchorMismatch,
     r"COMMIT_HASH metadata is not one 32-byte hash"),
    ("sixth metadata entry", lambda b: b.metadata.metadata.append(b""), False, AnchorMismatch,
     r"has 6 metadata entries, want 5"),
]


@pytest.mark.parametrize(("change", "rehash", "error", "reason"), [c[1:] for c in _BLOCK_CASES],
                         ids=[c[0] for c in _BLOCK_CASES])
def test_block_region_changed_is_refused(change: Any, rehash: bool, error: type[VerifierError], reason: str) -> None:
    block = _block()
    change(block)
    with pytest.raises(error, match=reason):
        _verify(_bundle(_with_block(block, rehash=rehash)))


def test_block_with_an_unknown_field_is_refused() -> None:
    raw = base64.b64decode(BUNDLE["anchors"][FABRIC]["block"]) + b"\xa0\x06\x01"  # field 100, varint 1
    with pytest.raises(AnchorMismatch, match="is not in canonical protobuf form"):
        _verify(_bundle(_anchor(block=base64.b64encode(raw).decode())))


def test_every_changed_byte_of_the_block_is_refused() -> None:
    raw = base64.b64decode(BUNDLE["anchors"][FABRIC]["block"])
    accepted = []
    for position in range(0, len(raw), 5):  # every fifth byte: bounded time, every region
        tampered = bytearray(raw)
        tampered[position] ^= 0x10
        try:
            _verify(_bundle(_anchor(block=base64.b64encode(bytes(tampered)).decode())))
        except VerifierError:
            continue
        accepted.append(position)
    # The one region no offline check covers: the peer's commit hash (its hash over its state updates).
    commit_hash = bytes(pb.common.Metadata.FromString(_block().metadata.metadata[4]).value)
    start = raw.rindex(commit_hash)
    elsewhere = [p for p in accepted if not start <= p < start + 32]
    assert not elsewhere, f"{len(elsewhere)} changed blocks verified, at byte offsets {elsewhere[:10]}"


# -- the trust root's fabric section ------------------------------------------------------------------
def test_trust_root_without_fabric_skips_the_anchor_and_stays_signed() -> None:
    report = _verify(_bundle(), replace(TRUST, fabric=None))

    assert report.valid and report.assurance == "signed" and report.fabric_endorsed_by == ()
    step = next(s for s in report.steps if "fabric" in s.name)
    assert step.status == "skipped" and "--fabric-network" in step.detail


def test_org_ca_not_in_trust_root_is_refused() -> None:
    assert TRUST.fabric is not None
    orgs = {o.msp_id: o for o in TRUST.fabric.orgs}
    swapped = replace(orgs["Org2MSP"], ca_certificates=orgs["Org1MSP"].ca_certificates)
    with pytest.raises(KeyMismatch, match=r"peer certificate .* is not issued by a ca of Org2MSP in the trust root"):
        _verify(_bundle(), _trust(orgs=(orgs["Org1MSP"], swapped, orgs["OrdererMSP"])))


def test_orderer_ca_not_in_trust_root_is_refused() -> None:
    assert TRUST.fabric is not None
    orgs = {o.msp_id: o for o in TRUST.fabric.orgs}
    swapped = replace(orgs["OrdererMSP"], ca_certificates=orgs["Org1MSP"].ca_certificates)
    with pytest.raises(BadSignature, match=r"no valid orderer signature: orderer certificate .* not issued by a "
                                           r"ca of OrdererMSP"):
        _verify(_bundle(), _trust(orgs=(orgs["Org1MSP"], orgs["Org2MSP"], swapped)))


def test_orderer_org_not_trusted_to_order_is_refused() -> None:
    with pytest.raises(BadSignature, match=r"identity of msp 'OrdererMSP' is not one the trust root names"):
        _verify(_bundle(), _trust(orderers=("Org1MSP",)))


@pytest.mark.parametrize(("changes", "reason"), [
    ({"channel": "other"}, r"is not the receipt's: .*trust root channel 'other'"),
    ({"chaincode": "other"}, r"ran chaincode 'checkpoints' \(receipt says 'checkpoints'\), want 'other'"),
])
def test_trust_root_channel_or_chaincode_differs_is_refused(changes: dict[str, str], reason: str) -> None:
    with pytest.raises(AnchorMismatch, match=reason):
        _verify(_bundle(), _trust(**changes))


def test_log_key_not_trusted_for_the_stored_checkpoint_is_refused() -> None:
    # a trust root whose fabric section is fine but whose log key is another: step 2 refuses the bundle first
    other = TrustRoot.for_log(TRUST.logs[0].origin, _other_sm2_pem())
    with pytest.raises(KeyMismatch):
        _verify(_bundle(), replace(other, fabric=TRUST.fabric))


def _other_sm2_pem() -> str:
    return KeyPair.generate().pem


# -- beneath the orderer's signature ------------------------------------------------------------------
def _action() -> Any:
    block = _block()
    receipt = FabricReceipt.from_json(BUNDLE["anchors"][FABRIC], in_bundle=True)
    payload = pb.common.Payload.FromString(pb.common.Envelope.FromString(block.data.data[receipt.tx_index]).payload)
    tx = pb.transaction.Transaction.FromString(payload.data)
    return pb.transaction.ChaincodeActionPayload.FromString(tx.actions[0].payload).action, receipt


def test_endorsements_of_both_orgs_verify() -> None:
    endorsed, receipt = _action()
    assert TRUST.fabric is not None
    assert check_endorsements(endorsed, TRUST.fabric, receipt.tx_id) == ("Org1MSP", "Org2MSP")


def test_endorsement_signature_changed_is_refused() -> None:
    endorsed, receipt = _action()
    signature = bytearray(endorsed.endorsements[1].signature)
    signature[-2] ^= 1
    endorsed.endorsements[1].signature = bytes(signature)
    assert TRUST.fabric is not None
    with pytest.raises(BadSignature, match=r"endorsement 1: peer signature by Org\dMSP .* does not verify"):
        check_endorsements(endorsed, TRUST.fabric, receipt.tx_id)


def test_endorsement_of_one_org_only_is_refused() -> None:
    endorsed, receipt = _action()
    del endorsed.endorsements[1]
    assert TRUST.fabric is not None
    with pytest.raises(BadSignature, match=r"is not endorsed by Org\dMSP \(endorsed by: Org\dMSP\); the trust root "
                                           r"requires Org1MSP, Org2MSP"):
        check_endorsements(endorsed, TRUST.fabric, receipt.tx_id)


def test_response_payload_changed_breaks_every_endorsement() -> None:
    endorsed, receipt = _action()
    endorsed.proposal_response_payload = endorsed.proposal_response_payload + b"\x00"
    assert TRUST.fabric is not None
    with pytest.raises(BadSignature, match=r"endorsement 0: peer signature by Org\dMSP .* does not verify"):
        check_endorsements(endorsed, TRUST.fabric, receipt.tx_id)


def _rewrite_writes(endorsed: Any, change: Any) -> bytes:
    response = pb.proposal_response.ProposalResponsePayload.FromString(endorsed.proposal_response_payload)
    action = pb.proposal.ChaincodeAction.FromString(response.extension)
    rwset = pb.rwset.TxReadWriteSet.FromString(action.results)
    for ns in rwset.ns_rwset:
        if ns.namespace == "checkpoints":
            kv = pb.kv_rwset.KVRWSet.FromString(ns.rwset)
            change(kv)
            ns.rwset = kv.SerializeToString()
    action.results = rwset.SerializeToString()
    response.extension = action.SerializeToString()
    return bytes(response.SerializeToString())


def test_stored_record_is_the_receipts_checkpoint() -> None:
    endorsed, receipt = _action()
    assert TRUST.fabric is not None
    record = stored_record(bytes(endorsed.proposal_response_payload), receipt, TRUST.fabric)
    assert (record["tree_size"], record["root_hash"]) == (receipt.tree_size, receipt.root_hash.hex())


def _record_root(kv: Any) -> None:
    for w in kv.writes:
        if w.key.startswith("\x00tiezheng.checkpoint"):
            record = json.loads(w.value)
            w.value = json.dumps({**record, "root_hash": "ee" * 32}).encode()


def _latest(kv: Any) -> None:
    for w in kv.writes:
        if w.key.startswith("\x00tiezheng.latest"):
            w.value = b"1"


def _drop_record(kv: Any) -> None:
    keep = [w for w in kv.writes if not w.key.startswith("\x00tiezheng.checkpoint")]
    del kv.writes[:]
    kv.writes.extend(keep)


def _record_elsewhere(kv: Any) -> None:
    for w in kv.writes:
        if w.key.startswith("\x00tiezheng.checkpoint"):
            w.key = w.key[:-2] + ("1" if w.key[-2] != "1" else "2") + "\x00"


@pytest.mark.parametrize(("change", "reason"), [
    (_record_root, r"write set does not store the receipt's checkpoint: got key, size, root .*'eeee"),
    (_latest, r"write set does not make tree size \d+ the latest of"),
    (_drop_record, r"writes 0 checkpoint records, want 1"),
    (_record_elsewhere, r"write set does not store the receipt's checkpoint"),
], ids=["record root", "latest pointer", "no record", "record under another key"])
def test_write_set_changed_is_refused(change: Any, reason: str) -> None:
    endorsed, receipt = _action()
    assert TRUST.fabric is not None
    with pytest.raises(AnchorMismatch, match=reason):
        stored_record(_rewrite_writes(endorsed, change), receipt, TRUST.fabric)


def test_endorser_certificate_is_a_p256_peer_of_its_org() -> None:
    endorsed, _ = _action()
    for endorsement in endorsed.endorsements:
        identity = pb.identities.SerializedIdentity.FromString(endorsement.endorser)
        cert = load_pem_x509_certificate(identity.id_bytes)
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        assert "OU=peer" in cert.subject.rfc4514_string()


def test_receipt_verifies_on_its_own() -> None:
    assert TRUST.fabric is not None
    found = verify_fabric_receipt(FabricReceipt.from_json(BUNDLE["anchors"][FABRIC], in_bundle=True),
                                  network=TRUST.fabric)
    assert found.endorsed_by == ("Org1MSP", "Org2MSP") and found.orderer.msp_id == "OrdererMSP"


_HOSTILE: list[Any] = [None, True, -1, 0, 2**53, 2**64, 1e308, "", "\ud800", "A" * 200, "=" * 8, [], {}, [[[]]]]


def test_hostile_values_in_every_receipt_field_are_refused_never_crash() -> None:
    for field in BUNDLE["anchors"][FABRIC]:
        for value in _HOSTILE:
            if value == BUNDLE["anchors"][FABRIC][field]:
                continue
            with pytest.raises(VerifierError):
                _verify(_bundle(_anchor(**{field: value})))
