"""Response bodies of the regulator digests and the insurer risk records (docs/formats.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

__all__ = ["DigestOut", "DigestsOut", "RiskGrantIn", "RiskGrantOut", "RiskRecordOut"]


class DigestOut(BaseModel):
    """One day's signed digest (``tiezheng.digest/v1``), its SM3 and the status of its anchors per backend."""

    digest: dict[str, Any] = Field(description="the signed digest: docs/formats.md, \"Regulator digest\"")
    digest_hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex SM3 of the digest's canonical bytes")
    anchors: list[dict[str, Any]] = Field(
        description="per anchor backend: status anchored (with its receipt of the digest's tree), pending, "
                    "missed (the backend anchored past the tree without it) or none (empty tree)")
    registry: dict[str, Any] = Field(
        description="the digest hash on the EVM registry: status recorded (with its receipt), pending, failed or "
                    "not_configured")


class DigestsOut(BaseModel):
    """The digests of the days asked for, oldest first (days before the tenant existed are left out)."""

    digests: list[DigestOut]


class RiskRecordOut(BaseModel):
    """A signed insurer risk record (``tiezheng.risk-record/v1``)."""

    record: dict[str, Any] = Field(description="the signed record: docs/formats.md, \"Insurer risk record\"")


class RiskGrantIn(BaseModel):
    """Let an insurer organisation (a tenant of this service) read the caller's tenant's risk records."""

    insurer: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RiskGrantOut(BaseModel):
    """A grant: ``tenant``'s risk records are readable by ``insurer``'s ``insurer`` tokens."""

    tenant: str
    insurer: str
