"""Special-operations certificates of the caller's tenant: catalog, registration, bulk import, lookups,
dashboard counts, registry verification, and the expiry-warning job."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request

from evidence_api.deps import PrincipalDep, ServicesDep
from evidence_api.errors import problems
from evidence_api.routes.strict import StrictRoute
from evidence_api.schemas.certificates import (
    Catalog,
    CatalogCategory,
    Certificate,
    CertificateCreate,
    CertificateSummary,
    CertificateWarning,
    ImportReport,
    State,
    Verification,
    WarningRun,
)
from evidence_api.schemas.types import IsoDate
from evidence_api.services.auth import READ_ROLES
from evidence_api.services.catalog import CATEGORIES, SUB_TYPES
from evidence_api.services.cert_import import CSV, XLSX, import_certificates
from evidence_api.services.certificates import REVIEW_YEARS, VALID_YEARS, CertificateInput

router = APIRouter(prefix="/v1", tags=["certificates"], route_class=StrictRoute)

_IMPORT_BODY = {"requestBody": {"required": True, "content": {
    CSV: {"schema": {"type": "string"}}, XLSX: {"schema": {"type": "string", "format": "binary"}}}}}


@router.get("/certificates/catalog")
def catalog(principal: PrincipalDep) -> Catalog:
    """The official 特种作业目录: categories and their sub-type codes, as certificates name them."""
    principal.require(*READ_ROLES)
    categories = [CatalogCategory(code=code, name=name,
                                  sub_types={k: v for k, v in SUB_TYPES.items() if k.split(".")[0] == code})
                  for code, name in CATEGORIES.items()]
    return Catalog(categories=categories, valid_years=VALID_YEARS, review_years=REVIEW_YEARS)


@router.post("/certificates", status_code=201, responses=problems(404, 409))
def register(body: CertificateCreate, services: ServicesDep, principal: PrincipalDep) -> Certificate:
    """Register a certificate of a worker (admin), recorded as a ``certificate.registered`` event; refused,
    changing nothing, for a sub-type outside its category, impossible dates, an unknown worker or a number
    already registered."""
    principal.require("admin")
    row = services.certificates.register(principal.own_tenant(), CertificateInput(**body.model_dump()))
    return Certificate.model_validate(row)


@router.get("/certificates")
def list_certificates(services: ServicesDep, principal: PrincipalDep, state: State | None = None,
                      team: str | None = None, category: str | None = None, sub_type: str | None = None,
                      work_type: str | None = None, on: IsoDate | None = None) -> list[Certificate]:
    """The tenant's certificates with their state on ``on`` (today in China by default), filtered by state,
    the holder's team, category, sub-type, or the sub-types a work type requires (e.g. ``hot_work``)."""
    principal.require(*READ_ROLES)
    rows = services.certificates.find(principal.own_tenant(), on=on, state=state, team=team, category=category,
                                      sub_type=sub_type, work_type=work_type)
    return [Certificate.model_validate(r) for r in rows]


@router.get("/certificates/summary")
def summary(services: ServicesDep, principal: PrincipalDep, on: IsoDate | None = None) -> CertificateSummary:
    """Counts for a dashboard on ``on``: by state, and by state within each team and category."""
    principal.require(*READ_ROLES)
    return CertificateSummary.model_validate(services.certificates.summary(principal.own_tenant(), on=on))


@router.post("/certificates/import", openapi_extra=_IMPORT_BODY, responses=problems(404, 409))
async def import_file(request: Request, services: ServicesDep, principal: PrincipalDep) -> ImportReport:
    """Import certificates from a CSV or ``.xlsx`` file (admin) with Chinese (证书编号, 姓名, 工号, 类别, 操作项目,
    初领日期, 有效期至, 复审日期, 发证机关) or English headers. The good rows go in together, each with its event;
    the report gives every row's outcome and, for a bad one, the column at fault."""
    principal.require("admin")
    tenant = principal.own_tenant()
    body = await request.body()
    content_type = request.headers.get("content-type", "")
    report = await asyncio.to_thread(import_certificates, services.certificates, tenant, body, content_type)
    return ImportReport.model_validate(report)


@router.get("/certificates/{certificate_id}", responses=problems(404))
def get_certificate(certificate_id: str, services: ServicesDep, principal: PrincipalDep,
                    on: IsoDate | None = None) -> Certificate:
    """One certificate with its state on ``on`` (today by default)."""
    principal.require(*READ_ROLES)
    return Certificate.model_validate(services.certificates.get(principal.own_tenant(), certificate_id, on=on))


@router.post("/certificates/{certificate_id}/verify", responses=problems(404))
def verify(certificate_id: str, services: ServicesDep, principal: PrincipalDep) -> Verification:
    """Check the certificate against the authority's registry (admin) and record the outcome as an event:
    verified, failed (the registry disagrees) or unavailable (no registry configured, or unreachable)."""
    principal.require("admin")
    return Verification.model_validate(services.certificates.verify(principal.own_tenant(), certificate_id))


@router.post("/jobs/certificate-warnings")
def run_warnings(services: ServicesDep, principal: PrincipalDep, on: IsoDate | None = None) -> WarningRun:
    """Run the daily expiry and 复审 warning job now (admin): for the caller's tenant, or for every tenant with
    the platform admin token. Re-running the same day warns nothing twice; ``on`` (default today, plant time) may
    name a missed past day, never a future one (422: it would use up the once-only warnings early)."""
    principal.require("admin")
    now = services.clock.today()
    day = on or now
    made = [CertificateWarning.model_validate(w)
            for w in services.certificates.warn_expiring(principal.tenant, day, today=now)]
    return WarningRun(on=day, made=len(made), warnings=made)
