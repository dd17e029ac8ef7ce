"""The compiled registry contract (``contracts/build/EvidenceRegistry.json``, written by
``contracts/build.mjs`` with the pinned solc-js); needed only to deploy it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.errors import MalformedInput

__all__ = ["DEFAULT_ARTIFACT", "Artifact"]

DEFAULT_ARTIFACT = Path(__file__).resolve().parents[2] / "contracts" / "build" / "EvidenceRegistry.json"
"""Where ``bash contracts/install.sh`` builds the artifact in a source checkout."""


@dataclass(frozen=True)
class Artifact:
    """ABI, creation bytecode (``0x`` hex), compiler and EVM version of a compiled registry."""

    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str
    evm_version: str

    @classmethod
    def load(cls, path: Path = DEFAULT_ARTIFACT) -> Artifact:
        """Read the artifact at ``path``; ``MalformedInput`` says how to build it when it is missing."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(data["abi"], data["bytecode"], data["compiler"], data["evm_version"])
        except FileNotFoundError as exc:
            raise MalformedInput(f"no compiled registry at {path}: build it with `bash contracts/install.sh` "
                                 "(npm ci and solc-js), or pass --artifact") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MalformedInput(f"{path} is not a registry artifact of contracts/build.mjs: {exc}") from exc
