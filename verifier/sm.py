"""SM3 digests, SM2 public keys and SM2 signature checks (GB/T 32905-2016, GB/T 32918-2016).

Keys are PEM SubjectPublicKeyInfo with ``id-ecPublicKey`` and the named curve ``sm2p256v1``
(1.2.156.10197.1.301), as OpenSSL 3 writes them (docs/formats.md, "Primitives"). Signatures are DER
``SEQUENCE { r INTEGER, s INTEGER }`` over SM3 with the default user ID ``1234567812345678``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gmssl_pyx
from asn1crypto import algos, keys
from cryptography.hazmat.primitives import hashes

from verifier._pem import armor, unarmor
from verifier.errors import BadSignature, MalformedInput

__all__ = ["DEFAULT_SIGNER_ID", "PublicKey", "sm3", "verify_sm2"]

DEFAULT_SIGNER_ID = b"1234567812345678"

_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_SM2P256V1 = "1.2.156.10197.1.301"
# Curve sm2p256v1 (GB/T 32918.5-2017): y^2 = x^3 + a x + b over F_p, group order n.
_P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
_A = _P - 3
_B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
_N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123


def sm3(data: bytes) -> bytes:
    """Return the 32-byte SM3 digest of ``data``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class PublicKey:
    """An SM2 public key: its SubjectPublicKeyInfo DER and the 64-byte point ``X || Y``."""

    spki_der: bytes
    point: bytes

    @classmethod
    def from_pem(cls, text: str) -> PublicKey:
        """Parse one ``-----BEGIN PUBLIC KEY-----`` block (surrounding whitespace allowed).

        Raises ``MalformedInput`` when the text is not exactly one such strict PEM block (``verifier._pem``)
        or the key inside is not an SM2 key (see ``from_der``).
        """
        return cls.from_der(unarmor(text, "PUBLIC KEY", "public key"))

    @classmethod
    def from_der(cls, der: bytes) -> PublicKey:
        """Parse a SubjectPublicKeyInfo in DER.

        Requires algorithm ``id-ecPublicKey``, the named curve ``sm2p256v1`` and an uncompressed point
        on that curve; raises ``MalformedInput`` for anything else (other curves included).
        """
        info = _load_spki(der)
        algorithm = info["algorithm"]
        if algorithm["algorithm"].dotted != _EC_PUBLIC_KEY:
            raise MalformedInput(
                f"public key algorithm is {algorithm['algorithm'].dotted}, want id-ecPublicKey ({_EC_PUBLIC_KEY})"
            )
        params = algorithm["parameters"]
        if not isinstance(params, keys.ECDomainParameters):
            raise MalformedInput(
                f"public key has no curve parameters, want named curve sm2p256v1 ({_SM2P256V1})"
            )
        curve = params.chosen.dotted if params.name == "named" else params.name
        if curve != _SM2P256V1:
            raise MalformedInput(f"public key curve is {curve}, want sm2p256v1 ({_SM2P256V1})")
        return cls(spki_der=der, point=_sm2_point(bytes(info["public_key"].native)))

    def fingerprint(self) -> str:
        """The key fingerprint of docs/formats.md: hex SM3 of the SubjectPublicKeyInfo DER."""
        return sm3(self.spki_der).hex()

    def to_pem(self) -> str:
        """The key as a PEM ``PUBLIC KEY`` block."""
        return armor("PUBLIC KEY", self.spki_der)


def verify_sm2(
    public_key: PublicKey, message: bytes, signature: bytes, *, signer_id: bytes = DEFAULT_SIGNER_ID
) -> None:
    """Check an SM2 signature (SM3 digest, user ID ``signer_id``) over ``message``.

    ``signature`` must be the strict DER ``SEQUENCE { r, s }`` with 0 < r, s < n. Returns nothing;
    raises ``BadSignature`` when the encoding is wrong or the signature does not verify.
    """
    _check_der_signature(signature)
    if not gmssl_pyx.sm2_verify(public_key.point, message, signature, signer_id=signer_id):
        raise BadSignature(f"sm2 signature does not verify under key {public_key.fingerprint()}")


def _load_spki(der: bytes) -> keys.PublicKeyInfo:
    """Load SubjectPublicKeyInfo DER, refusing trailing bytes and non-DER (BER) encodings."""
    try:
        info = keys.PublicKeyInfo.load(der, strict=True)
        reencoded = info.dump(force=True)
        info = keys.PublicKeyInfo.load(der, strict=True)
    except Exception as exc:  # asn1crypto raises ValueError, TypeError, KeyError... on hostile DER
        raise MalformedInput(f"public key is not a subjectpublickeyinfo: {exc!r}") from exc
    if reencoded != der:
        raise MalformedInput("public key is not in der (distinguished) encoding")
    return info


def _sm2_point(encoded: bytes) -> bytes:
    """Return ``X || Y`` from an uncompressed point ``04 || X || Y`` after checking it lies on the curve."""
    if len(encoded) != 65 or encoded[0] != 4:
        raise MalformedInput(
            f"public key point must be 65 bytes starting 04 (uncompressed), got {len(encoded)} bytes"
        )
    x, y = int.from_bytes(encoded[1:33], "big"), int.from_bytes(encoded[33:], "big")
    if x >= _P or y >= _P or (y * y - (x * x * x + _A * x + _B)) % _P != 0:
        raise MalformedInput("public key point is not on curve sm2p256v1")
    return encoded[1:]


def _check_der_signature(signature: bytes) -> None:
    """Raise ``BadSignature`` unless ``signature`` is strict DER with r and s in [1, n-1]."""
    try:
        parsed = algos.DSASignature.load(signature, strict=True)
        r, s = parsed["r"].native, parsed["s"].native
        canonical = algos.DSASignature({"r": r, "s": s}).dump()
    except Exception as exc:  # asn1crypto raises several types on hostile DER; all mean "not a signature"
        raise BadSignature(f"signature is not a der sequence of two integers: {exc}") from exc
    if canonical != signature:
        raise BadSignature("signature is not in der (distinguished) encoding")
    if not (0 < r < _N and 0 < s < _N):
        raise BadSignature("signature r or s is outside [1, n-1]")
