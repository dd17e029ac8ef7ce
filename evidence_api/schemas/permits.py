"""Response bodies of the permit routes: the permit document, an action's outcome, the list, the area view
and the timeline (the request body of an action is a signed ``EventItem``, kept as sent)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from evidence_api.schemas.log import ReceiptOut
from evidence_api.services.permit_model import Permit

__all__ = ["ActionOut", "AreaSummaryOut", "PermitOut", "PermitSummaryOut", "ProjectionFailureOut", "ProjectionStatusOut",
           "TimelineEntryOut"]

PermitOut = Permit
"""The permit's projected document (``services.permit_model.Permit``)."""


class ActionOut(BaseModel):
    """An accepted action: the permit after it, and the receipts of the action and of the follow-ups the
    service signed with it (a suspension, an alarm), in log order."""

    permit: PermitOut
    receipts: list[ReceiptOut]


class PermitSummaryOut(BaseModel):
    """One row of the permit list."""

    id: str
    type: str
    level: str | None
    state: str
    area: str
    starts_at: str
    ends_at: str
    version: int
    updated_at: str


class AreaSummaryOut(BaseModel):
    """An area with its geofence and its permits counted by state."""

    area: str
    name: str
    site: str
    geofence: dict[str, Any]
    states: dict[str, int]
    active: int


class TimelineEntryOut(BaseModel):
    """One logged event of the permit, with how far it is proven."""

    leaf_index: int
    leaf_hash: str
    event_id: str
    kind: str
    actor: dict[str, Any]
    occurred_at: str
    received_at: str
    prev: str | None
    location: dict[str, Any] | None
    flags: list[str]
    proof: Literal["logged", "checkpointed", "anchored"]
    anchors: list[str]


class ProjectionFailureOut(BaseModel):
    """A logged event the projection could not fold, and why."""

    leaf_index: int
    event_id: str
    tenant: str
    kind: str
    permit: str | None
    error: str
    failed_at: str


class ProjectionStatusOut(BaseModel):
    """The projector's cursor (last leaf folded), the log's size, how far behind it is, and its failures."""

    cursor: int
    tree_size: int
    lag: int
    failed: int
    failures: list[ProjectionFailureOut]
