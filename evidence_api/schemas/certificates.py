"""Request and response bodies of special-operations certificates."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, Field

from evidence_api.schemas.ids import Id
from evidence_api.schemas.types import IsoDate
from evidence_api.services.catalog import CATEGORIES, SUB_TYPES

__all__ = ["Catalog", "CatalogCategory", "Certificate", "CertificateCreate", "CertificateSummary", "CertificateWarning",
           "ImportReport", "ImportRow", "State", "Verification", "WarningRun"]

State = Literal["valid", "expired", "review_overdue", "suspended", "revoked", "void"]


class CatalogCategory(BaseModel):
    """A category of the 特种作业目录 with its sub-types (code → name)."""

    code: str = Field(examples=["1"])
    name: str = Field(examples=["电工作业"])
    sub_types: dict[str, str] = Field(examples=[{"1.1": "高压电工作业"}])


class Catalog(BaseModel):
    """The official catalog, and the validity and 复审 periods applied when a certificate omits its dates."""

    categories: list[CatalogCategory]
    valid_years: int
    review_years: int


class CertificateCreate(BaseModel):
    """A certificate held by a registered worker; missing dates default to issued_on + 6 years (expiry) and
    issued_on + 3 years (复审)."""

    id: Id | None = Field(None, description="generated when omitted")
    worker: Id = Field(examples=["w-1001"])
    category: str = Field(min_length=1, max_length=8, examples=["1"], json_schema_extra={"enum": list(CATEGORIES)})
    sub_type: str = Field(min_length=1, max_length=8, examples=["1.1"], json_schema_extra={"enum": list(SUB_TYPES)},
                          description="a sub-type of the category (its code starts with the category's)")
    number: str = Field(min_length=1, max_length=64, examples=["T330102199001011234"])
    holder_name: str = Field(min_length=1, max_length=200, examples=["王五"])
    issued_on: IsoDate
    expires_on: IsoDate | None = None
    review_due_on: IsoDate | None = None
    authority: str = Field(min_length=1, max_length=200, examples=["杭州市应急管理局"])


class Certificate(BaseModel):
    """A stored certificate with its state on the day asked (``expired`` and ``review_overdue`` are computed)."""

    id: str
    worker: str
    team: str | None = None
    category: str
    sub_type: str
    sub_type_name: str
    number: str
    holder_name: str
    issued_on: date
    expires_on: date
    review_due_on: date
    authority: str
    status: str
    state: State
    created_at: str
    updated_at: str


class CertificateSummary(BaseModel):
    """Dashboard counts on day ``on``: each count object has ``total`` and one count per state."""

    on: date
    total: int
    by_state: dict[str, int]
    by_team: dict[str, dict[str, int]]
    by_category: dict[str, dict[str, Any]] = Field(description="per category code: its name and counts")


class ImportRow(BaseModel):
    """The outcome of one row of an imported file (row 1 is the header)."""

    row: int
    ok: bool
    message: str
    id: str | None = None
    number: str | None = None
    column: str | None = Field(None, description="the column at fault, as the file names it")


class ImportReport(BaseModel):
    """A bulk import: the good rows went in together; each bad row says why."""

    imported: int
    failed: int
    ignored_columns: list[str]
    rows: list[ImportRow]


class Verification(BaseModel):
    """What the registry check found, and the event that records it."""

    certificate: str
    number: str
    holder_name: str
    outcome: Literal["verified", "failed", "unavailable"]
    kind: str
    event_id: str
    leaf_index: int
    reason: str | None = None
    disagreements: list[str] | None = None
    registry: dict[str, Any] | None = None


class CertificateWarning(BaseModel):
    """One expiry or 复审 warning: the certificate, what falls due when, and the event that records it."""

    certificate: str
    number: str
    holder_name: str
    worker: str
    sub_type: str
    sub_type_name: str
    due_kind: Literal["expiry", "review"]
    due_on: date
    days_before: int = Field(description="the warning threshold reached (e.g. 90, 30, 7)")
    days_left: int
    on: date = Field(description="the day the job ran for")
    event_id: str
    leaf_index: int


class WarningRun(BaseModel):
    """One run of the expiry-warning job: the warnings made now (each an event and a notification)."""

    on: date
    made: int
    warnings: list[CertificateWarning]
