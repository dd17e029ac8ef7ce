"""Chinese commercial cryptography (国密) behind small functions: SM3, SM4-GCM and SM2.

- SM3 (GB/T 32905-2016) and SM4-GCM (GB/T 32907-2016, GCM per NIST SP 800-38D) come from ``cryptography``
  (OpenSSL), ~360 MB/s and ~120 MB/s here; the ``reference_*`` functions keep that implementation. For the
  short inputs of intake (an event's claim, a payload, a data key) GmSSL's one-call ``sm3_hash`` and
  ``sm4_gcm_encrypt`` are used instead: the same bytes (differential tests against the reference, RFC 8998
  vectors) without ``cryptography``'s per-call set-up (~2 µs per hash, ~8 µs per cipher context).
  Decryption stays on ``cryptography`` (GmSSL would accept a truncated tag and prints to stderr on failure).
- SM2 (GB/T 32918-2016) comes from ``gmssl-pyx`` (the GmSSL C library): ~0.5 ms to verify, against ~11 ms
  for the pure-Python ``gmssl`` (``bench/sm2_options.py`` has the figures). Signatures are DER
  ``SEQUENCE {r, s}`` over SM3(Z || M) with the default user ID ``1234567812345678``, always passed explicitly.
- Keys are PEM, with the SM2 curve OID 1.2.156.10197.1.301 (what OpenSSL 3 writes), via ``asn1crypto``.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable
from dataclasses import dataclass

import gmssl_pyx
from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ledger.errors import InvalidSignature, KeyMaterialError, MalformedInput

__all__ = [
    "SM2_DEFAULT_ID",
    "SM2PrivateKey",
    "SM2PublicKey",
    "Sign",
    "Signer",
    "reference_sm3",
    "reference_sm4_gcm_encrypt",
    "sm3",
    "sm4_gcm_decrypt",
    "sm4_gcm_encrypt",
    "sm4_gcm_encrypt_with_nonce",
]

SM2_DEFAULT_ID = b"1234567812345678"
_SM2_CURVE = "sm2p256v1"
_SM2_CURVE_OID = "1.2.156.10197.1.301"
_GCM_NONCE_BYTES = 12
_GCM_TAG_BYTES = 16

asn1_keys.NamedCurve.register(_SM2_CURVE, _SM2_CURVE_OID, 32)


def sm3(data: bytes) -> bytes:
    """Return the 32-byte SM3 digest of ``data``."""
    if type(data) is bytes:
        digest: bytes = gmssl_pyx.sm3_hash(data)
        return digest
    return reference_sm3(data)  # bytearray, memoryview: what GmSSL's binding does not take


def reference_sm3(data: bytes) -> bytes:
    """SM3 by ``cryptography`` (OpenSSL): the reference ``sm3`` is tested against."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def sm4_gcm_encrypt(key: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """Encrypt with SM4-GCM under a 16-byte ``key``; returns nonce(12) || ciphertext || tag(16).

    A fresh random nonce is drawn for every call, so one key may encrypt many messages.
    """
    return sm4_gcm_encrypt_with_nonce(key, os.urandom(_GCM_NONCE_BYTES), plaintext, aad=aad)


def sm4_gcm_encrypt_with_nonce(key: bytes, nonce: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """``sm4_gcm_encrypt`` with the caller's 12-byte ``nonce`` (tests and known-answer vectors only: a nonce
    must never be used twice under one key)."""
    if type(key) is not bytes or len(key) != 16 or type(nonce) is not bytes or len(nonce) != _GCM_NONCE_BYTES \
            or type(plaintext) is not bytes or type(aad) is not bytes or not plaintext:
        return reference_sm4_gcm_encrypt(key, nonce, plaintext, aad=aad)  # its errors; GmSSL refuses b""
    body, tag = gmssl_pyx.sm4_gcm_encrypt(key, nonce, aad, plaintext)
    sealed: bytes = nonce + body + tag
    return sealed


def reference_sm4_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, *, aad: bytes = b"") -> bytes:
    """SM4-GCM by ``cryptography`` (OpenSSL): the reference ``sm4_gcm_encrypt_with_nonce`` is tested against."""
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    body = encryptor.update(plaintext) + encryptor.finalize()
    return nonce + body + encryptor.tag


def sm4_gcm_decrypt(key: bytes, sealed: bytes, *, aad: bytes = b"") -> bytes:
    """Decrypt what ``sm4_gcm_encrypt`` returned; raises ``MalformedInput`` if it was altered."""
    if len(sealed) < _GCM_NONCE_BYTES + _GCM_TAG_BYTES:
        raise MalformedInput(f"sm4-gcm ciphertext too short: {len(sealed)} bytes")
    nonce, body, tag = sealed[:_GCM_NONCE_BYTES], sealed[_GCM_NONCE_BYTES:-_GCM_TAG_BYTES], sealed[-_GCM_TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag as exc:
        raise MalformedInput("sm4-gcm authentication failed: ciphertext, key or aad was altered") from exc


def _ec_params() -> asn1_keys.ECDomainParameters:
    return asn1_keys.ECDomainParameters(name="named", value=_SM2_CURVE)


@dataclass(frozen=True)
class SM2PublicKey:
    """An SM2 public key: the 64-byte point X || Y."""

    point: bytes

    @classmethod
    def from_pem(cls, pem: str | bytes) -> SM2PublicKey:
        """Parse a PEM SubjectPublicKeyInfo on the SM2 curve; raises ``KeyMaterialError`` otherwise."""
        der = _pem_body(pem, "PUBLIC KEY")
        try:
            info = asn1_keys.PublicKeyInfo.load(der)
            algorithm = info["algorithm"]["algorithm"].native
            if algorithm != "ec":
                raise KeyMaterialError(f"public key is {algorithm!r}, not an SM2 (elliptic-curve) key")
            curve = info["algorithm"]["parameters"].chosen.native
            point = info["public_key"].native
        except _ASN1_ERRORS as exc:
            raise KeyMaterialError(f"not a valid public key: {exc}") from exc
        if curve != _SM2_CURVE or not isinstance(point, bytes) or len(point) != 65 or point[0] != 4:
            raise KeyMaterialError(f"public key is not an uncompressed SM2 point (curve {curve!r})")
        return cls(point=_on_curve(point[1:]))

    def spki_der(self) -> bytes:
        """SubjectPublicKeyInfo DER with the SM2 curve OID."""
        algorithm = {"algorithm": "ec", "parameters": _ec_params()}
        der: bytes = asn1_keys.PublicKeyInfo({"algorithm": algorithm, "public_key": b"\x04" + self.point}).dump()
        return der

    def to_pem(self) -> str:
        """PEM ``PUBLIC KEY`` text."""
        return _pem("PUBLIC KEY", self.spki_der())

    def fingerprint(self) -> str:
        """Hex SM3 of the SubjectPublicKeyInfo DER: the key's stable identifier."""
        return sm3(self.spki_der()).hex()

    def verify(self, message: bytes, signature: bytes) -> None:
        """Check a DER SM2 signature over ``message`` (default user ID); raises ``InvalidSignature``."""
        try:
            ok = gmssl_pyx.sm2_verify(self.point, message, signature, SM2_DEFAULT_ID)
        except (gmssl_pyx.InvalidValueError, gmssl_pyx.GmsslInnerError, ValueError) as exc:
            raise InvalidSignature(f"signature is not a valid DER SM2 signature: {exc}") from exc
        if not ok:
            raise InvalidSignature(f"sm2 signature does not verify with key {self.fingerprint()[:16]}")

    def verify_b64(self, message: bytes, signature_b64: str) -> None:
        """``verify`` for a base64 signature, as carried in JSON."""
        try:
            signature = base64.b64decode(signature_b64, validate=True)
        except (ValueError, TypeError) as exc:
            raise InvalidSignature("signature is not valid base64") from exc
        self.verify(message, signature)


@dataclass(frozen=True, repr=False)
class SM2PrivateKey:
    """An SM2 private key (32-byte scalar) with its public key."""

    scalar: bytes
    public: SM2PublicKey

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        """A fresh key pair from GmSSL's random generator."""
        point, scalar = gmssl_pyx.sm2_key_generate()
        return cls(scalar=scalar, public=SM2PublicKey(point))

    @classmethod
    def from_pem(cls, pem: str | bytes) -> SM2PrivateKey:
        """Parse a PKCS#8 PEM SM2 private key (as OpenSSL 3 writes it)."""
        der = _pem_body(pem, "PRIVATE KEY")
        try:
            info = asn1_keys.PrivateKeyInfo.load(der)
            curve = info["private_key_algorithm"]["parameters"].chosen.native
            inner = info["private_key"].parsed
            scalar = inner["private_key"].native.to_bytes(32, "big")
            point = inner["public_key"].native
        except _ASN1_ERRORS as exc:
            raise KeyMaterialError(f"not a valid PKCS#8 private key: {exc}") from exc
        if curve != _SM2_CURVE or not isinstance(point, bytes) or len(point) != 65 or point[0] != 4:
            raise KeyMaterialError(f"private key is not an SM2 key with its public point (curve {curve!r})")
        return cls(scalar=scalar, public=SM2PublicKey(_on_curve(point[1:])))

    def to_pem(self) -> str:
        """PEM PKCS#8 ``PRIVATE KEY`` text (unencrypted: protect the file, see ``ledger.keystore``)."""
        inner = asn1_keys.ECPrivateKey(
            {"version": "ecPrivkeyVer1", "private_key": int.from_bytes(self.scalar, "big"),
             "public_key": b"\x04" + self.public.point}
        )
        algorithm = {"algorithm": "ec", "parameters": _ec_params()}
        info = asn1_keys.PrivateKeyInfo({"version": 0, "private_key_algorithm": algorithm, "private_key": inner})
        return _pem("PRIVATE KEY", info.dump())

    def sign(self, message: bytes) -> bytes:
        """DER SM2 signature over ``message`` with the default user ID.

        GB/T 32918.2 signs e = SM3(Z_A || M), Z_A a digest of the user ID, the curve and the public key: Z_A is
        computed once per key here and GmSSL signs e (``sm2_sign_sm3_digest``). GmSSL's whole-message call
        (``reference_sign``, the same scheme) costs ten times the CPU for the same kind of signature."""
        if type(message) is not bytes:
            return self.reference_sign(message)
        z = _Z_CACHE.get(self.public.point)
        if z is None:
            z = _z_of(self.public.point)
        signature: bytes = gmssl_pyx.sm2_sign_sm3_digest(self.scalar, gmssl_pyx.sm3_hash(z + message))
        return signature

    def reference_sign(self, message: bytes) -> bytes:
        """``sign`` by GmSSL's whole-message call (computes Z_A itself): the reference ``sign`` is tested against."""
        signature: bytes = gmssl_pyx.sm2_sign(self.scalar, self.public.point, message, SM2_DEFAULT_ID)
        return signature

    def sign_b64(self, message: bytes) -> str:
        """``sign``, base64-encoded for JSON."""
        return base64.b64encode(self.sign(message)).decode("ascii")

    def __repr__(self) -> str:
        return f"SM2PrivateKey(public={self.public.fingerprint()[:16]}…)"


# Curve sm2p256v1 (GB/T 32918.5): the a, b, G that Z_A covers, 32 bytes each, big-endian
_SM2_A_B_G = bytes.fromhex(
    "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC"
    "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93"
    "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7"
    "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0")
_Z_CACHE: dict[bytes, bytes] = {}
_Z_KEPT = 1024  # public keys whose Z_A is remembered (a server signs with a handful)


def _z_of(point: bytes, user_id: bytes = SM2_DEFAULT_ID) -> bytes:
    """Z_A = SM3(ENTL_A || ID_A || a || b || x_G || y_G || x_A || y_A) (GB/T 32918.2, 5.5) for the public key
    ``point`` (x_A || y_A), remembered for the default user ID."""
    z = sm3((len(user_id) * 8).to_bytes(2, "big") + user_id + _SM2_A_B_G + point)
    if user_id == SM2_DEFAULT_ID:
        if len(_Z_CACHE) >= _Z_KEPT:
            _Z_CACHE.clear()
        _Z_CACHE[point] = z
    return z


Sign = Callable[[bytes], bytes]
"""A signing function: message bytes in, DER SM2 signature out."""


@dataclass(frozen=True)
class Signer:
    """The signing callable plus the public key that checks its signatures.

    Callers take a ``Signer``, so a file key, an HSM or an offline signer swaps in without touching them.
    """

    sign: Sign
    public: SM2PublicKey

    @classmethod
    def from_private_key(cls, key: SM2PrivateKey) -> Signer:
        """A signer backed by an in-memory private key."""
        return cls(sign=key.sign, public=key.public)

    def sign_b64(self, message: bytes) -> str:
        """Sign and base64-encode, for JSON."""
        return base64.b64encode(self.sign(message)).decode("ascii")


_ASN1_ERRORS = (ValueError, TypeError, KeyError, AttributeError, OverflowError, IndexError)
"""What asn1crypto raises, lazily, on DER that does not have the structure asked for."""


def _on_curve(point: bytes) -> bytes:
    """The 64-byte point X || Y checked by GmSSL to lie on the SM2 curve; raises ``KeyMaterialError``."""
    try:
        normalized: bytes = gmssl_pyx.normalize_sm2_public_key(point)
    except (gmssl_pyx.InvalidValueError, gmssl_pyx.GmsslInnerError, ValueError, TypeError) as exc:
        raise KeyMaterialError(f"public key point is not on the SM2 curve: {exc}") from exc
    return normalized


def _pem(label: str, der: bytes) -> str:
    body = base64.encodebytes(der).decode("ascii")
    return f"-----BEGIN {label}-----\n{body}-----END {label}-----\n"


def _pem_body(pem: str | bytes, label: str) -> bytes:
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    begin, end = f"-----BEGIN {label}-----", f"-----END {label}-----"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise KeyMaterialError(f"expected a PEM block '{begin}'")
    try:
        return base64.b64decode("".join(text[start + len(begin) : stop].split()), validate=True)
    except ValueError as exc:
        raise KeyMaterialError(f"PEM body of '{label}' is not valid base64") from exc
