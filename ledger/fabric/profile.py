"""The client profile of a Fabric network: a JSON file naming its channel, chaincode, peers, orderers, TLS
roots and the client's identity (docs/formats.md, "Fabric client profile").

``network/fabric/up.sh`` writes one (``network.json``); a production deployment writes its own in the same
shape. Paths in it are absolute or relative to the file's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.clock import Clock
from ledger.errors import KeyMaterialError
from ledger.fabric.client import Endpoint, FabricClient
from ledger.fabric.identity import Identity

__all__ = ["FabricProfile"]


@dataclass(frozen=True)
class FabricProfile:
    """What a client needs of one network: ``channel``, ``chaincode``, one endorsing peer per organisation,
    the orderers (tried in order) and the client identity (``client_org``'s MSP)."""

    channel: str
    chaincode: str
    endorsers: tuple[Endpoint, ...]
    orderers: tuple[Endpoint, ...]
    identity: Identity

    @classmethod
    def from_file(cls, path: Path, *, client_org: str | None = None) -> FabricProfile:
        """Read the profile at ``path``; the client acts as the ``user_msp`` identity of ``client_org`` (an
        MSP id; default: the first organisation). Raises ``KeyMaterialError`` naming what is missing."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls._from_object(data, path.parent, client_org)
        except (OSError, ValueError, KeyError, TypeError, IndexError, StopIteration) as exc:
            raise KeyMaterialError(f"fabric client profile {path} is unusable: {type(exc).__name__}: {exc}; "
                                   "see docs/formats.md, \"Fabric client profile\"") from exc

    @classmethod
    def _from_object(cls, data: dict[str, Any], base: Path, client_org: str | None) -> FabricProfile:
        orgs = data["organizations"]
        chosen = next(o for o in orgs if client_org is None or o["msp_id"] == client_org)
        peers = tuple(Endpoint(o["peer_endpoint"], _read(base, o["tls_ca_cert"]), o.get("peer_host_name"))
                      for o in orgs)
        orderer = data["orderer"]
        orderer_ca = _read(base, orderer["tls_ca_cert"])
        orderers = tuple(Endpoint(address, orderer_ca, None) for address in orderer["endpoints"])
        identity = Identity.from_msp_dir(chosen["msp_id"], _path(base, chosen["user_msp"]))
        return cls(str(data["channel"]), str(data["chaincode"]), peers, orderers, identity)

    def client(self, *, clock: Clock, **timeouts: float) -> FabricClient:
        """A ``FabricClient`` for this profile (``timeouts``: ``endorse_timeout``, ``submit_timeout``,
        ``commit_timeout`` in seconds)."""
        return FabricClient(identity=self.identity, channel=self.channel, chaincode=self.chaincode,
                            endorsers=self.endorsers, orderers=self.orderers, clock=clock, **timeouts)


def _path(base: Path, value: str) -> Path:
    return Path(value) if Path(value).is_absolute() else base / value


def _read(base: Path, value: str) -> bytes:
    return _path(base, value).read_bytes()
