"""PEM armour (RFC 7468, strict form): exactly one block of the wanted type, strictly decoded.

The one PEM reader of the verifier, for SM2 keys in bundles and trust roots, certificates and witness keys.
Strict, so that no two texts mean the same key: the ``BEGIN`` and ``END`` lines exactly, lines ending in
``\n``, base64 lines of 1 to 76 characters, canonical padded base64 (surrounding whitespace is allowed).
"""

from __future__ import annotations

import re
from typing import Any

from asn1crypto import pem
from cryptography import x509

from verifier._json import strict_b64decode
from verifier.errors import MalformedInput

__all__ = ["armor", "certificate_der", "unarmor"]

_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]{1,76}")


def unarmor(text: str, kind: str, where: str) -> bytes:
    """The DER inside ``text``, which must be one strict PEM block of type ``kind`` (``MalformedInput`` otherwise).

    ``where`` names the field in messages.
    """
    lines = text.strip().split("\n")
    if len(lines) < 3 or lines[0] != f"-----BEGIN {kind}-----" or lines[-1] != f"-----END {kind}-----":
        raise MalformedInput(f"{where} is not one pem block of type {kind!r}")
    body = lines[1:-1]
    for number, line in enumerate(body, start=2):
        if not _BASE64_LINE.fullmatch(line):
            raise MalformedInput(f"{where} pem does not decode: line {number} is not 1 to 76 base64 characters")
    return strict_b64decode("".join(body), f"{where} pem")


def certificate_der(text: Any, where: str) -> bytes:
    """The DER of one PEM ``CERTIFICATE`` that parses as X.509; raises ``MalformedInput`` naming ``where``."""
    if not isinstance(text, str):
        raise MalformedInput(f"{where} must be a pem certificate string")
    der = unarmor(text, "CERTIFICATE", where)
    try:
        x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MalformedInput(f"{where} is not an x.509 certificate: {exc}") from exc
    return der


def armor(kind: str, der: bytes) -> str:
    """``der`` as a PEM block of type ``kind``."""
    armored: bytes = pem.armor(kind, der)
    return armored.decode("ascii")
