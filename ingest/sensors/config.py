"""The gateway's folder: its identity and server (``gateway.json``), its SM2 key (``gateway.key``), its ingest
token (``token``), the detectors bound to permits (``bindings.json``) and the outbox (``outbox.db``).

Secrets are written with mode 0600, every file atomically (temporary file, fsync, rename), so a power cut
leaves the old version or the new one, never half of one. Format: docs/formats.md, "Gateway folder".
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.outbox import Outbox
from ingest.sensors.errors import SensorError
from ingest.sensors.gateway import Binding
from ingest.signing import Actor
from ledger.sm import Signer, SM2PrivateKey

__all__ = ["GatewayConfig", "GatewayFolder"]

_FORMAT = "tiezheng.gateway/v1"


@dataclass(frozen=True)
class GatewayConfig:
    """Who the gateway is (device ``gateway`` with key ``key_id`` in ``tenant``) and where it sends (``server``)."""

    server: str
    tenant: str
    gateway: str
    key_id: str

    def to_json(self) -> dict[str, str]:
        """The contents of ``gateway.json``."""
        return {"format": _FORMAT, "server": self.server, "tenant": self.tenant, "gateway": self.gateway,
                "key_id": self.key_id}


def _write(path: Path, data: bytes, *, secret: bool = False) -> None:
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class GatewayFolder:
    """The files of one gateway in ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self, config: GatewayConfig, token: str) -> Actor:
        """Write a new gateway: a fresh SM2 key, the config and the token; refuses to overwrite one."""
        if (self.root / "gateway.json").exists():
            raise SensorError(f"{self.root} already holds gateway {self.config().gateway!r}; use another --dir")
        self.root.mkdir(parents=True, exist_ok=True)
        key = SM2PrivateKey.generate()
        _write(self.root / "gateway.key", key.to_pem().encode(), secret=True)
        _write(self.root / "token", token.encode(), secret=True)
        _write(self.root / "gateway.json", json.dumps(config.to_json(), indent=2).encode())
        return self.actor()

    def config(self) -> GatewayConfig:
        """The gateway's config; raises ``SensorError`` saying how to create one if there is none."""
        data = self._json("gateway.json", None)
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise SensorError(f"{self.root}/gateway.json is not a {_FORMAT} file")
        try:
            return GatewayConfig(data["server"], data["tenant"], data["gateway"], data["key_id"])
        except KeyError as exc:
            raise SensorError(f"{self.root}/gateway.json lacks {exc.args[0]!r}") from exc

    def token(self) -> str:
        """The ingest token (``TIEZHENG_GATEWAY_TOKEN`` wins over the stored one)."""
        return os.environ.get("TIEZHENG_GATEWAY_TOKEN") or (self.root / "token").read_text().strip()

    def actor(self) -> Actor:
        """The gateway as a device actor holding its private key."""
        config = self.config()
        key = SM2PrivateKey.from_pem((self.root / "gateway.key").read_bytes())
        return Actor("device", config.gateway, config.key_id, Signer.from_private_key(key))

    def outbox(self, **options: Any) -> Outbox:
        """The gateway's outbox (``options`` as for ``Outbox``)."""
        return Outbox(self.root / "outbox.db", gateway=self.actor(), tenant=self.config().tenant, **options)

    def bindings(self) -> list[Binding]:
        """The bound detectors, in the order they were bound."""
        data = self._json("bindings.json", [])
        try:
            return [Binding(**entry) for entry in data]
        except TypeError as exc:
            raise SensorError(f"{self.root}/bindings.json is damaged: {exc}") from exc

    def bind(self, binding: Binding) -> None:
        """Bind (or rebind) ``binding.address``."""
        kept = [b for b in self.bindings() if b.address != binding.address]
        self._save([*kept, binding])

    def unbind(self, address: str) -> None:
        """Forget the detector at ``address``; raises ``SensorError`` if none is bound there."""
        kept = [b for b in self.bindings() if b.address != address]
        if len(kept) == len(self.bindings()):
            raise SensorError(f"no detector is bound at {address}")
        self._save(kept)

    def _save(self, bindings: list[Binding]) -> None:
        _write(self.root / "bindings.json", json.dumps([b.to_json() for b in bindings], indent=2,
                                                       ensure_ascii=False).encode())

    def _json(self, name: str, default: Any) -> Any:
        path = self.root / name
        if not path.exists():
            if default is None:
                raise SensorError(f"{self.root} holds no gateway; create one with `tiezheng gateway init`")
            return default
        try:
            return json.loads(path.read_bytes())
        except ValueError as exc:
            raise SensorError(f"{path} is not valid JSON: {exc}") from exc
