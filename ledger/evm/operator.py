"""An operator account of the registry contract: its address, and a local signer for its transactions.

The key never leaves the process: transactions are signed here (EIP-155 / EIP-1559 via ``eth-account``)
and sent raw, so any EVM node will do, one that holds no keys included. A key file holds the 32-byte
secp256k1 private key as 64 hex digits (``0x`` optional), on one line; keep it mode 0600.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from ledger.errors import KeyMaterialError

__all__ = ["OperatorKey"]

_HEX_KEY = re.compile(r"(0x)?[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class OperatorKey:
    """``address`` (EIP-55 checksummed) and ``sign``: a transaction dict → the raw signed bytes."""

    address: str
    sign: Callable[[dict[str, Any]], bytes]

    @classmethod
    def from_hex(cls, private_key: str) -> OperatorKey:
        """A signer over the hex private key ``private_key``; raises ``KeyMaterialError`` if it is not one."""
        text = private_key.strip()
        if not _HEX_KEY.fullmatch(text):
            raise KeyMaterialError("an operator key is 64 hex digits (a secp256k1 private key), optionally 0x-prefixed")
        try:
            account = Account.from_key(text)
        except ValueError as exc:
            raise KeyMaterialError(f"not a usable secp256k1 private key: {exc}") from exc

        def sign(tx: dict[str, Any]) -> bytes:
            return bytes(account.sign_transaction(tx).raw_transaction)

        return cls(address=str(account.address), sign=sign)

    @classmethod
    def from_file(cls, path: Path) -> OperatorKey:
        """Read the key file at ``path`` (see the module docstring); a group- or world-readable file is
        refused, as ssh refuses such a key. Raises ``KeyMaterialError`` naming the file."""
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyMaterialError(f"cannot read operator key {path}: {exc}") from exc
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise KeyMaterialError(f"operator key {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
                                   f"chmod 600 {path}")
        try:
            return cls.from_hex(text)
        except KeyMaterialError as exc:
            raise KeyMaterialError(f"operator key {path}: {exc}") from exc
