#!/usr/bin/env python3
"""Tell whether X.509 certificates carry low-S ECDSA P-256 signatures (s <= n/2), with the standard library.

    low_s.py CERT.pem...

Exit 0 when every certificate's signature is low-S, 1 when one is high-S (its path is printed), 2 when a
file is no PEM certificate signed with ECDSA over P-256. Fabric 2.1's MSP re-encodes CA certificates in a
way that Go >= 1.19 refuses when their signature has a high S value (fixed upstream in 2.5), and cryptogen
makes such a CA about half the time; network/fabric/crypto.sh regenerates until this check passes.
"""

import base64
import sys

# The order of the P-256 group (SEC 2, secp256r1); cryptogen signs with P-256 only.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def _tlv(data: bytes, at: int) -> tuple[int, int, int]:
    """The (tag, start of value, end of value) of the DER element at offset at."""
    tag, length, at = data[at], data[at + 1], at + 2
    if length & 0x80:
        count = length & 0x7F
        length, at = int.from_bytes(data[at:at + count], "big"), at + count
    if at + length > len(data):
        raise ValueError("truncated DER element")
    return tag, at, at + length


def signature_s(der: bytes) -> int:
    """The S value of the ECDSA signature of a DER certificate (SEQUENCE {tbs, algorithm, BIT STRING})."""
    _, at, end = _tlv(der, 0)
    for _ in range(2):  # skip tbsCertificate and signatureAlgorithm
        _, _, at = _tlv(der, at)
    tag, start, _ = _tlv(der, at)
    if tag != 0x03 or der[start] != 0:
        raise ValueError("no signature BIT STRING")
    tag, at, _ = _tlv(der, start + 1)  # Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }
    if tag != 0x30:
        raise ValueError("the signature is no ECDSA signature")
    _, _, at = _tlv(der, at)
    tag, start, end = _tlv(der, at)
    if tag != 0x02:
        raise ValueError("the signature is no ECDSA signature")
    return int.from_bytes(der[start:end], "big")


def pem_der(text: str) -> bytes:
    """The DER bytes of the first PEM certificate in text."""
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    if begin not in text or end not in text:
        raise ValueError("no PEM certificate")
    return base64.b64decode(text.split(begin, 1)[1].split(end, 1)[0])


def main(paths: list[str]) -> int:
    """Checks every path; returns the exit status described in the module docstring."""
    status = 0
    for path in paths:
        try:
            with open(path, encoding="ascii") as f:
                s = signature_s(pem_der(f.read()))
        except (OSError, ValueError, IndexError) as exc:
            print(f"{path}: cannot read an ECDSA certificate signature: {exc}", file=sys.stderr)
            return 2
        if not 0 < s < P256_N:
            print(f"{path}: the signature's S is out of range for P-256", file=sys.stderr)
            return 2
        if s > P256_N // 2:
            print(f"{path}: high-S signature")
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
