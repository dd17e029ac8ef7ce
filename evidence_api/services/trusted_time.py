"""Build the trusted-time parts of the service from its settings: the RFC 3161 ``tsa`` anchor backend and
the witness cosignature collector (README, "Trusted time and witnesses")."""

from __future__ import annotations

import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from evidence_api.config import Settings, WitnessSetting
from ledger.anchors.tsa import TimestampAuthority
from ledger.clock import Clock
from ledger.log import TransparencyLog
from ledger.witnesses import WitnessCollector, WitnessEndpoint

__all__ = ["tsa_backend", "witness_collector"]

_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----\n?", re.DOTALL)


def tsa_backend(settings: Settings) -> list[TimestampAuthority]:
    """The ``tsa`` backend when ``TIEZHENG_TSA_URL`` is set (else none), checking replies against the roots
    in ``TIEZHENG_TSA_ROOTS`` when that is set. Raises ``ValueError`` for a roots file without certificates."""
    if not settings.tsa_url:
        return []
    roots: list[str] = []
    if settings.tsa_roots is not None:
        roots = _CERTIFICATE.findall(settings.tsa_roots.read_text())
        if not roots:
            raise ValueError(f"TIEZHENG_TSA_ROOTS {settings.tsa_roots} holds no PEM certificate")
    return [TimestampAuthority(settings.tsa_url, name=settings.tsa_name, roots=roots)]


def witness_collector(settings: Settings, log: TransparencyLog, clock: Clock) -> WitnessCollector | None:
    """A collector for ``TIEZHENG_WITNESSES`` (None when it names none); ``TypeError`` for a witness whose
    public key is not an Ed25519 PEM key (text or file), ``ValueError`` if it is no PEM key at all."""
    if not settings.witnesses:
        return None
    endpoints = [WitnessEndpoint(w.name, w.url, _ed25519(w)) for w in settings.witnesses]
    return WitnessCollector(log, endpoints, interval=settings.anchor_interval, clock=clock)


def _ed25519(witness: WitnessSetting) -> Ed25519PublicKey:
    text = witness.public_key if witness.public_key.lstrip().startswith("-----BEGIN") \
        else Path(witness.public_key).read_text()
    key = load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise TypeError(f"witness {witness.name}: public_key is not an Ed25519 key (cosignature/v1 is Ed25519)")
    return key
