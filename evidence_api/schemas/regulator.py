"""Response bodies of the regulator digests and the insurer risk records (docs/formats.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["DigestOut", "DigestsOut"]


class DigestOut(BaseModel):
    """One day's signed digest (``tiezheng.digest/v1``), its SM3 and the status of its anchors per backend."""

    digest: dict[str, Any] = Field(description="the signed digest: docs/formats.md, \"Regulator digest\"")
    digest_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SM3 of the digest's canonical bytes")
    anchors: list[dict[str, Any]] = Field(
        description="per anchor backend: status anchored (with its receipt of the digest's tree), pending, "
                    "missed (the backend anchored past the tree without it) or none (empty tree)")


class DigestsOut(BaseModel):
    """The digests of the days asked for, oldest first (days before the tenant existed are left out)."""

    digests: list[DigestOut]
