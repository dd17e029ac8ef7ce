"""Tests for verifier/sm.py: SM3 known answers, SM2 public key parsing, SM2 signature checks."""

from __future__ import annotations

import pytest
from asn1crypto import algos, keys
from hypothesis import given, settings
from hypothesis import strategies as st
from verifier_testkit import KeyPair, pem_of, sm3, spki_der

from verifier.errors import BadSignature, MalformedInput
from verifier.sm import PublicKey, verify_sm2
from verifier.sm import sm3 as verifier_sm3

_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
_KEY = KeyPair.generate()
_DER = _KEY.der


# SM3 (GB/T 32905-2016, appendix A)


def test_sm3_abc_known_answer() -> None:
    assert verifier_sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"


def test_sm3_abcd_times_16_known_answer() -> None:
    want = "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert verifier_sm3(b"abcd" * 16).hex() == want


def test_sm3_empty_is_32_bytes() -> None:
    assert verifier_sm3(b"").hex() == "1ab21d8355cfa17f8e61194831e81a8f22bec8c728fefb747ed035eb5082aa2b"


# Public keys


def test_from_pem_reads_point_and_der(actor_key: KeyPair) -> None:
    key = PublicKey.from_pem(actor_key.pem)
    assert key.point == actor_key.public
    assert key.spki_der == actor_key.der


def test_from_pem_allows_surrounding_whitespace(actor_key: KeyPair) -> None:
    assert PublicKey.from_pem("\n  " + actor_key.pem + "\n\n").point == actor_key.public


def test_fingerprint_is_sm3_of_spki_der(actor_key: KeyPair) -> None:
    assert PublicKey.from_pem(actor_key.pem).fingerprint() == sm3(actor_key.der).hex()


def test_to_pem_round_trips(actor_key: KeyPair) -> None:
    assert PublicKey.from_pem(actor_key.pem).to_pem() == actor_key.pem


def test_from_pem_not_pem() -> None:
    with pytest.raises(MalformedInput, match="not one pem block of type 'PUBLIC KEY'"):
        PublicKey.from_pem("hello")


def test_from_pem_private_key_block(actor_key: KeyPair) -> None:
    text = actor_key.pem.replace("PUBLIC KEY", "PRIVATE KEY")
    with pytest.raises(MalformedInput, match="not one pem block of type 'PUBLIC KEY'"):
        PublicKey.from_pem(text)


def test_from_pem_trailing_garbage(actor_key: KeyPair) -> None:
    with pytest.raises(MalformedInput, match="not one pem block"):
        PublicKey.from_pem(actor_key.pem + "garbage")


def test_from_pem_bad_base64(actor_key: KeyPair) -> None:
    lines = actor_key.pem.splitlines()
    text = "\n".join([lines[0], "!!!!" + lines[1][4:], *lines[2:]])
    with pytest.raises(MalformedInput, match="public key"):
        PublicKey.from_pem(text)


def test_from_der_other_curve_refused(actor_key: KeyPair) -> None:
    der = spki_der(actor_key.public, curve="1.2.840.10045.3.1.7")  # NIST P-256
    with pytest.raises(MalformedInput, match=r"curve is 1\.2\.840\.10045\.3\.1\.7, want sm2p256v1"):
        PublicKey.from_der(der)


def test_from_der_other_algorithm_refused() -> None:
    rsa = keys.PublicKeyInfo(
        {
            "algorithm": {"algorithm": "rsa"},
            "public_key": keys.RSAPublicKey({"modulus": 3233, "public_exponent": 17}),
        }
    )
    with pytest.raises(MalformedInput, match=r"algorithm is 1\.2\.840\.113549\.1\.1\.1, want id-ecPublicKey"):
        PublicKey.from_der(rsa.dump())


def test_from_der_compressed_point_refused(actor_key: KeyPair) -> None:
    der = spki_der(actor_key.public[:32], prefix=b"\x02")
    with pytest.raises(MalformedInput, match="65 bytes starting 04 .uncompressed., got 33 bytes"):
        PublicKey.from_der(der)


def test_from_der_point_off_curve_refused(actor_key: KeyPair) -> None:
    point = actor_key.public[:63] + bytes([actor_key.public[63] ^ 1])
    with pytest.raises(MalformedInput, match="not on curve sm2p256v1"):
        PublicKey.from_der(spki_der(point))


def test_from_der_missing_curve_parameters_refused(actor_key: KeyPair) -> None:
    info = keys.PublicKeyInfo({"algorithm": {"algorithm": "ec"}, "public_key": b"\x04" + actor_key.public})
    with pytest.raises(
        MalformedInput, match="public key has no curve parameters, want named curve sm2p256v1"
    ):
        PublicKey.from_der(info.dump())


def test_from_der_implicit_curve_refused(actor_key: KeyPair) -> None:
    params = keys.ECDomainParameters(name="implicit_ca", value=None)
    info = keys.PublicKeyInfo(
        {"algorithm": {"algorithm": "ec", "parameters": params}, "public_key": b"\x04" + actor_key.public}
    )
    with pytest.raises(MalformedInput, match="public key curve is implicit_ca, want sm2p256v1"):
        PublicKey.from_der(info.dump())


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_from_der_any_byte_changed_is_malformed_or_other_key(data: st.DataObject) -> None:
    der = bytearray(_DER)
    position = data.draw(st.integers(0, len(der) - 1))
    der[position] ^= data.draw(st.integers(1, 255))
    try:
        key = PublicKey.from_der(bytes(der))
    except MalformedInput:
        return
    assert key.point != _KEY.public  # a change that still parses is a different key


def test_from_der_trailing_bytes_refused(actor_key: KeyPair) -> None:
    with pytest.raises(MalformedInput, match="not a subjectpublickeyinfo"):
        PublicKey.from_der(actor_key.der + b"\x00")


def test_from_der_garbage_refused() -> None:
    with pytest.raises(MalformedInput, match="not a subjectpublickeyinfo"):
        PublicKey.from_der(b"\x30\x03\x02\x01")


def test_from_pem_of_other_curve_refused(actor_key: KeyPair) -> None:
    text = pem_of(spki_der(actor_key.public, curve="1.3.132.0.10"))  # secp256k1
    with pytest.raises(MalformedInput, match="want sm2p256v1"):
        PublicKey.from_pem(text)


# Signatures


def test_verify_sm2_accepts_gmssl_signature(actor_key: KeyPair) -> None:
    verify_sm2(PublicKey.from_pem(actor_key.pem), b"message", actor_key.sign(b"message"))


def test_verify_sm2_wrong_message(actor_key: KeyPair) -> None:
    key = PublicKey.from_pem(actor_key.pem)
    with pytest.raises(BadSignature, match=f"does not verify under key {key.fingerprint()}"):
        verify_sm2(key, b"messagE", actor_key.sign(b"message"))


def test_verify_sm2_wrong_key(actor_key: KeyPair, other_key: KeyPair) -> None:
    with pytest.raises(BadSignature, match="sm2 signature does not verify"):
        verify_sm2(PublicKey.from_pem(other_key.pem), b"message", actor_key.sign(b"message"))


def test_verify_sm2_other_signer_id(actor_key: KeyPair) -> None:
    key = PublicKey.from_pem(actor_key.pem)
    with pytest.raises(BadSignature, match="sm2 signature does not verify"):
        verify_sm2(key, b"message", actor_key.sign(b"message"), signer_id=b"ALICE123@YAHOO.COM")


def test_verify_sm2_truncated_der(actor_key: KeyPair) -> None:
    with pytest.raises(BadSignature, match="not a der sequence of two integers"):
        verify_sm2(PublicKey.from_pem(actor_key.pem), b"m", actor_key.sign(b"m")[:-1])


def test_verify_sm2_trailing_bytes(actor_key: KeyPair) -> None:
    with pytest.raises(BadSignature, match="not a der sequence of two integers"):
        verify_sm2(PublicKey.from_pem(actor_key.pem), b"m", actor_key.sign(b"m") + b"\x00")


def test_verify_sm2_non_minimal_integer(actor_key: KeyPair) -> None:
    sig = algos.DSASignature.load(actor_key.sign(b"m"))
    r = sig["r"].contents
    r_padded = b"\x00" + r  # r is minimal, so its first byte is < 0x80 and a leading zero is redundant
    body = b"\x02" + bytes([len(r_padded)]) + r_padded + sig["s"].dump()
    der = b"\x30" + bytes([len(body)]) + body
    with pytest.raises(BadSignature, match=r"not in der \(distinguished\) encoding"):
        verify_sm2(PublicKey.from_pem(actor_key.pem), b"m", der)


def test_verify_sm2_r_out_of_range(actor_key: KeyPair) -> None:
    der = algos.DSASignature({"r": _N, "s": 1}).dump()
    with pytest.raises(BadSignature, match=r"r or s is outside \[1, n-1\]"):
        verify_sm2(PublicKey.from_pem(actor_key.pem), b"m", der)


def test_verify_sm2_zero_s(actor_key: KeyPair) -> None:
    der = algos.DSASignature({"r": 1, "s": 0}).dump()
    with pytest.raises(BadSignature, match=r"r or s is outside \[1, n-1\]"):
        verify_sm2(PublicKey.from_pem(actor_key.pem), b"m", der)


def test_from_pem_junk_after_begin_line(actor_key: KeyPair) -> None:
    """Found by fuzzing: the lax PEM reader accepted "-----BEGIN PUBLIC KEY-----e", another text for one key."""
    with pytest.raises(MalformedInput, match="not one pem block of type 'PUBLIC KEY'"):
        PublicKey.from_pem(actor_key.pem.replace("KEY-----\n", "KEY-----e\n", 1))


def test_from_pem_line_too_long(actor_key: KeyPair) -> None:
    lines = actor_key.pem.strip().splitlines()
    text = "\n".join([lines[0], "".join(lines[1:-1]), lines[-1]])
    assert len("".join(lines[1:-1])) > 76
    with pytest.raises(MalformedInput, match="line 2 is not 1 to 76 base64 characters"):
        PublicKey.from_pem(text)


def test_from_pem_76_character_lines(actor_key: KeyPair) -> None:
    lines = actor_key.pem.strip().splitlines()
    body = "".join(lines[1:-1])
    text = "\n".join([lines[0], body[:76], body[76:], lines[-1]]) + "\n"
    assert PublicKey.from_pem(text).fingerprint() == actor_key.fingerprint
