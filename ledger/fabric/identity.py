"""A Fabric client identity: an MSP ID, its X.509 certificate, and a signer of low-S ECDSA P-256 signatures.

Fabric checks every client signature as ECDSA over SHA-256 and refuses high-S ones, so ``sign`` normalises
S to the lower half of the group order (as the Fabric SDKs do).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from ledger.errors import KeyMaterialError
from ledger.fabric import _protos as pb

__all__ = ["Identity", "ecdsa_signer"]

_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def ecdsa_signer(key: ec.EllipticCurvePrivateKey) -> Callable[[bytes], bytes]:
    """A signing callable (message → DER signature) over SHA-256 with S normalised to low-S."""

    def sign(message: bytes) -> bytes:
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        return encode_dss_signature(r, min(s, _P256_N - s))

    return sign


@dataclass(frozen=True)
class Identity:
    """Who signs proposals and envelopes: ``msp_id``, the PEM ``certificate`` and the ``sign`` callable."""

    msp_id: str
    certificate: bytes
    sign: Callable[[bytes], bytes]

    @classmethod
    def from_msp_dir(cls, msp_id: str, msp_dir: Path) -> Identity:
        """The identity in an MSP directory as cryptogen lays it out (``signcerts/*.pem``, ``keystore/*``).

        Raises ``KeyMaterialError`` when the directory holds no single certificate and key.
        """
        certs, keys = sorted((msp_dir / "signcerts").glob("*.pem")), sorted((msp_dir / "keystore").glob("*"))
        if len(certs) != 1 or len(keys) != 1:
            raise KeyMaterialError(f"msp directory {msp_dir} needs one signcerts/*.pem and one keystore key, "
                                   f"got {len(certs)} and {len(keys)}")
        key = serialization.load_pem_private_key(keys[0].read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise KeyMaterialError(f"{keys[0]} is no ECDSA key")
        return cls(msp_id=msp_id, certificate=certs[0].read_bytes(), sign=ecdsa_signer(key))

    def serialized(self) -> bytes:
        """The ``msp.SerializedIdentity`` bytes that name this identity in headers."""
        return bytes(pb.identities.SerializedIdentity(mspid=self.msp_id, id_bytes=self.certificate)
                     .SerializeToString())
