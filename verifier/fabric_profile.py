"""The trust root's ``fabric`` section from a Fabric client profile (the ``network.json`` that
``network/fabric/up.sh`` writes, docs/formats.md "Fabric client profile"): channel, chaincode, and each
org's CA certificate, read from the files the profile names. For ``tiezheng trust-root init
--fabric-network``: whoever runs it must obtain the profile from the network's operators out of band.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from verifier.errors import MalformedInput

__all__ = ["fabric_section"]

_MAX_PROFILE_BYTES = 1024 * 1024


def fabric_section(path: str | Path) -> dict[str, Any]:
    """The ``fabric`` trust-root section (JSON form) for the network the profile at ``path`` describes:
    every peer org must endorse, the orderer org signs blocks. Raises ``MalformedInput`` naming what is
    missing or unreadable."""
    where = Path(path)
    try:
        data = json.loads(where.read_bytes()[:_MAX_PROFILE_BYTES + 1])
        orgs = [(o["msp_id"], _pem(where.parent, o["ca_cert"])) for o in data["organizations"]]
        orderer = (data["orderer"]["msp_id"], _pem(where.parent, data["orderer"]["ca_cert"]))
        channel, chaincode = str(data["channel"]), str(data["chaincode"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise MalformedInput(f"fabric network profile {path} is unusable: {type(exc).__name__}: {exc}") from exc
    return {"channel": channel, "chaincode": chaincode,
            "orgs": [{"msp_id": msp, "ca_certificates": [pem]} for msp, pem in [*orgs, orderer]],
            "endorsers": [msp for msp, _ in orgs], "orderers": [orderer[0]]}


def _pem(base: Path, name: str) -> str:
    file = Path(name) if Path(name).is_absolute() else base / name
    return file.read_text(encoding="ascii")
