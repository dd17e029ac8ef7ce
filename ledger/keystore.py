"""Key material: the log's SM2 signing key and the tenant keys that wrap per-object data keys.

Payloads are sealed with SM4-GCM under a fresh 16-byte data key each; the data key is wrapped (SM4-GCM)
under the tenant's key-encryption key. ``DataKeyWrapper`` is the seam a KMS or HSM implements later;
``LocalKeyWrapper`` derives each tenant's KEK from one master secret (HKDF-SM3, RFC 5869) read from a file
or an environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.errors import KeyMaterialError
from ledger.sm import SM2PrivateKey, sm4_gcm_decrypt, sm4_gcm_encrypt

__all__ = ["DataKeyWrapper", "LocalKeyWrapper", "load_or_create_log_key", "load_or_create_master_key", "open_sealed", "seal"]

_DATA_KEY_BYTES = 16
_MASTER_KEY_BYTES = 32


class DataKeyWrapper(Protocol):
    """Wraps and unwraps data keys under a tenant's key-encryption key (a KMS implements this)."""

    def wrap(self, tenant: str, data_key: bytes, *, context: bytes) -> bytes:
        """Encrypt ``data_key`` for ``tenant``; ``context`` is bound as associated data."""
        ...

    def unwrap(self, tenant: str, wrapped: bytes, *, context: bytes) -> bytes:
        """Recover a data key; raises ``MalformedInput`` if it or its context was altered."""
        ...


class LocalKeyWrapper:
    """Tenant KEKs derived from one local master secret with HKDF-SM3."""

    def __init__(self, master_key: bytes) -> None:
        if len(master_key) != _MASTER_KEY_BYTES:
            raise KeyMaterialError(f"master key must be {_MASTER_KEY_BYTES} bytes, got {len(master_key)}")
        self._master = master_key
        self._keks: dict[str, bytes] = {}

    def _kek(self, tenant: str) -> bytes:
        kek = self._keks.get(tenant)
        if kek is None:
            hkdf = HKDF(algorithm=hashes.SM3(), length=16, salt=None, info=b"tiezheng tenant kek v1|" + tenant.encode())
            kek = self._keks[tenant] = hkdf.derive(self._master)
        return kek

    def wrap(self, tenant: str, data_key: bytes, *, context: bytes) -> bytes:
        """SM4-GCM(KEK_tenant, data_key, aad=context)."""
        return sm4_gcm_encrypt(self._kek(tenant), data_key, aad=context)

    def unwrap(self, tenant: str, wrapped: bytes, *, context: bytes) -> bytes:
        """Inverse of ``wrap``."""
        return sm4_gcm_decrypt(self._kek(tenant), wrapped, aad=context)


def seal(wrapper: DataKeyWrapper, tenant: str, plaintext: bytes, *, context: bytes) -> tuple[bytes, bytes]:
    """Encrypt under a fresh data key; returns (sealed plaintext, wrapped data key)."""
    data_key = os.urandom(_DATA_KEY_BYTES)
    return sm4_gcm_encrypt(data_key, plaintext, aad=context), wrapper.wrap(tenant, data_key, context=context)


def open_sealed(wrapper: DataKeyWrapper, tenant: str, sealed: bytes, wrapped_key: bytes, *, context: bytes) -> bytes:
    """Inverse of ``seal``."""
    data_key = wrapper.unwrap(tenant, wrapped_key, context=context)
    return sm4_gcm_decrypt(data_key, sealed, aad=context)


def _write_secret(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def load_or_create_log_key(path: Path) -> SM2PrivateKey:
    """Read the log's SM2 key from a PEM file, creating it (mode 0600) on first start."""
    if not path.exists():
        _write_secret(path, SM2PrivateKey.generate().to_pem())
    try:
        return SM2PrivateKey.from_pem(path.read_text())
    except OSError as exc:
        raise KeyMaterialError(f"cannot read log key {path}: {exc}") from exc


def load_or_create_master_key(path: Path, *, env_value: str | None = None) -> bytes:
    """The tenant master secret: from ``env_value`` (hex) if given, else a file created on first start."""
    text = env_value if env_value else None
    if text is None:
        if not path.exists():
            _write_secret(path, os.urandom(_MASTER_KEY_BYTES).hex() + "\n")
        text = path.read_text()
    try:
        return bytes.fromhex(text.strip())
    except ValueError as exc:
        raise KeyMaterialError(f"master key must be {_MASTER_KEY_BYTES} bytes of hex") from exc
