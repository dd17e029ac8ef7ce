"""Request and response bodies of evidence packs (``/v1/evidence-packs``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from evidence_api.schemas.ids import Id

__all__ = ["AreaScope", "PackCreate", "PackStatusOut", "PermitScope", "WorkerScope"]


class PermitScope(BaseModel):
    """Every event of one permit: its ``prev`` chain, which proves none is missing."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["permit"]
    permit: Id = Field(examples=["HW-20261201-001"])


class AreaScope(BaseModel):
    """The events received in [``from``, ``to``) of the permits of one area planned in that range."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    kind: Literal["area"]
    area: Id = Field(examples=["unit-3"])
    from_: AwareDatetime = Field(alias="from")
    to: AwareDatetime


class WorkerScope(BaseModel):
    """A worker's certificate history: the events whose ``subject.worker`` is the worker."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["worker"]
    worker: Id = Field(examples=["w-zhang-san"])


class PackCreate(BaseModel):
    """What to pack."""

    model_config = ConfigDict(extra="forbid")
    scope: Annotated[PermitScope | AreaScope | WorkerScope, Field(discriminator="kind")]


class PackStatusOut(BaseModel):
    """A pack's status; once ``ready``, ``download`` is where its zip is and ``sm3`` the zip's SM3."""

    id: str
    scope: dict[str, Any]
    status: Literal["building", "ready", "failed"]
    stage: str = Field(description="queued, events, sign, verify, done or failed")
    done: int
    total: int
    created_at: str
    updated_at: str
    size: int | None = None
    sm3: str | None = Field(default=None, description="hex SM3 of the zip file")
    evidence_digest: str | None = Field(default=None, description="the SM3 on the certificate (docs/formats.md)")
    assurance: str | None = None
    error: str | None = None
    download: str | None = None
