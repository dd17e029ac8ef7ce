"""Tables the service owns and the Alembic migration runner.

Tenants, API tokens and actor keys; the organisation (sites, areas, contractors, users, workers, devices);
certificates and violations; permits (a projection of their signed events in the log, folded by
``services.projector`` from committed events, with its cursor and the events it could not fold) and
notifications waiting for delivery.

The log's own tables live in ``ledger.storage``; both sets are created by the migrations in
``evidence_api/migrations``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from evidence_api import media_tables
from ledger import storage

__all__ = [
    "actor_keys", "all_metadata", "api_tokens", "areas", "certificate_warnings", "certificates", "contractors",
    "devices", "digests", "evidence_packs", "metadata", "migrate", "notifications", "permit_workers", "permits",
    "projection_cursors", "projection_failures", "risk_grants", "sites", "tenant_settings",
    "tenants", "users", "violations", "workers",
]

metadata = MetaData()

tenants = Table(
    "tenants",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("tenant", String(64), ForeignKey("tenants.id")),
    Column("role", String(32), nullable=False),
    Column("label", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
)

actor_keys = Table(
    "actor_keys",
    metadata,
    Column("tenant", String(64), ForeignKey("tenants.id"), primary_key=True),
    Column("key_id", String(128), primary_key=True),
    Column("actor_type", String(16), nullable=False),
    Column("actor_id", String(128), nullable=False),
    Column("public_key_pem", Text, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", String(40), nullable=False),
)


def _tenant() -> Column[str]:
    return Column("tenant", String(64), ForeignKey("tenants.id"), primary_key=True)


def _id() -> Column[str]:
    return Column("id", String(64), primary_key=True)


def _created() -> Column[str]:
    return Column("created_at", String(40), nullable=False)


tenant_settings = Table(
    "tenant_settings",
    metadata,
    _tenant(),
    Column("rules", Text, nullable=False),  # JSON: overrides of services.rules defaults
    Column("webhook_url", String(500)),
    Column("updated_at", String(40), nullable=False),
)

sites = Table("sites", metadata, _tenant(), _id(), Column("name", String(200), nullable=False), _created())

areas = Table(
    "areas",
    metadata,
    _tenant(),
    _id(),
    Column("site", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("geofence", Text, nullable=False),  # JSON: {"circle": {lat, lon, radius_m}} or {"polygon": [[lat, lon], ...]}
    Column("qr_token_hash", String(64), nullable=False),  # SM3 of the token printed on the site QR code
    _created(),
)

contractors = Table("contractors", metadata, _tenant(), _id(), Column("name", String(200), nullable=False), _created())

users = Table(
    "users",
    metadata,
    _tenant(),
    _id(),
    Column("name", String(200), nullable=False),
    Column("roles", String(400), nullable=False),  # comma-separated, from services.people.USER_ROLES
    Column("contractor", String(64)),
    _created(),
)

workers = Table(
    "workers",
    metadata,
    _tenant(),
    _id(),
    Column("name", String(200), nullable=False),
    Column("team", String(200), nullable=False),
    Column("contractor", String(64)),
    Column("user_id", String(64)),
    _created(),
)

devices = Table(
    "devices",
    metadata,
    _tenant(),
    _id(),
    Column("kind", String(32), nullable=False),
    Column("area", String(64)),
    _created(),
)

certificates = Table(
    "certificates",
    metadata,
    _tenant(),
    _id(),
    Column("worker", String(64), nullable=False),
    Column("category", String(8), nullable=False),
    Column("sub_type", String(8), nullable=False),
    Column("number", String(64), nullable=False),
    Column("holder_name", String(200), nullable=False),
    Column("issued_on", String(10), nullable=False),
    Column("expires_on", String(10), nullable=False),
    Column("review_due_on", String(10), nullable=False),
    Column("authority", String(200), nullable=False),
    Column("status", String(16), nullable=False),  # valid | suspended | revoked | void (expired/overdue are computed)
    _created(),
    Column("updated_at", String(40), nullable=False),
    UniqueConstraint("tenant", "number", name="uq_certificates_number"),
)
Index("ix_certificates_worker", certificates.c.tenant, certificates.c.worker)

certificate_warnings = Table(
    "certificate_warnings",
    metadata,
    _tenant(),
    Column("certificate", String(64), primary_key=True),
    Column("due_kind", String(16), primary_key=True),  # expiry | review
    Column("due_on", String(10), primary_key=True),
    Column("days_before", Integer, primary_key=True),  # 90 | 30 | 7 (configurable)
    Column("event_id", String(36), nullable=False),
    _created(),
)

violations = Table(
    "violations",
    metadata,
    _tenant(),
    _id(),
    Column("worker", String(64), nullable=False),
    Column("occurred_on", String(10), nullable=False),
    Column("description", Text, nullable=False),
    _created(),
)
Index("ix_violations_worker", violations.c.tenant, violations.c.worker, violations.c.occurred_on)

permits = Table(
    "permits",
    metadata,
    _tenant(),
    Column("id", String(128), primary_key=True),
    Column("type", String(32), nullable=False),
    Column("level", String(16)),
    Column("state", String(16), nullable=False),
    Column("area", String(64), nullable=False),
    Column("starts_at", String(40), nullable=False),
    Column("ends_at", String(40), nullable=False),
    Column("doc", Text, nullable=False),  # JSON: the permit's full projected state (services.permits.Permit)
    Column("version", Integer, nullable=False),  # number of the permit's events applied
    Column("updated_at", String(40), nullable=False),
)
Index("ix_permits_state", permits.c.tenant, permits.c.state)
Index("ix_permits_area", permits.c.tenant, permits.c.area, permits.c.starts_at)

evidence_packs = Table(
    "evidence_packs",
    metadata,
    _tenant(),
    Column("id", String(36), primary_key=True),
    Column("scope", Text, nullable=False),  # JSON: the scope (docs/formats.md "Scope"), permits filled in for an area
    Column("status", String(16), nullable=False),  # building | ready | failed
    Column("stage", String(16), nullable=False),  # queued | events | sign | verify | done | failed
    Column("done", Integer, nullable=False),
    Column("total", Integer, nullable=False),
    _created(),
    Column("updated_at", String(40), nullable=False),
    Column("size", BigInteger),
    Column("sm3", String(64)),  # of the zip file
    Column("evidence_digest", String(64)),  # the SM3 the certificate shows
    Column("assurance", String(64)),
    Column("error", Text),
)
Index("ix_evidence_packs_status", evidence_packs.c.status)

permit_workers = Table(
    "permit_workers",
    metadata,
    _tenant(),
    Column("permit", String(128), primary_key=True),
    Column("worker", String(64), primary_key=True),
    Column("hours_per_day", Float, nullable=False),
    Column("starts_at", String(40), nullable=False),
    Column("ends_at", String(40), nullable=False),
    Column("live", Integer, nullable=False),  # 1 while the permit can still be worked (not rejected/cancelled/...)
)
Index("ix_permit_workers_worker", permit_workers.c.tenant, permit_workers.c.worker)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("tenant", String(64), ForeignKey("tenants.id"), nullable=False),
    Column("topic", String(64), nullable=False),
    Column("body", Text, nullable=False),  # JSON
    Column("status", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text),
    _created(),
    Column("sent_at", String(40)),
)
Index("ix_notifications_status", notifications.c.status, notifications.c.id)

projection_cursors = Table(
    "projection_cursors",
    metadata,
    Column("name", String(64), primary_key=True),  # the projector (services.projector.Projector.NAME)
    Column("leaf_index", Integer, nullable=False),  # the last leaf folded (-1: none yet)
    Column("updated_at", String(40), nullable=False),
)

projection_failures = Table(
    "projection_failures",
    metadata,
    Column("leaf_index", Integer, primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("tenant", String(64), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("permit", String(128)),
    Column("error", Text, nullable=False),
    Column("failed_at", String(40), nullable=False),
)
Index("ix_projection_failures_permit", projection_failures.c.tenant, projection_failures.c.permit)

digests = Table(
    "digests",
    metadata,
    _tenant(),
    Column("day", String(10), primary_key=True),  # the plant calendar day the digest covers
    Column("tree_size", BigInteger, nullable=False),  # the day-end tree (ledger.dayend)
    Column("digest_hash", String(64), nullable=False),  # hex SM3 of body
    Column("body", Text, nullable=False),  # the signed digest, canonical JSON (docs/formats.md)
    _created(),
    Column("registry_pending", Text),  # JSON: the signed recordDigest transaction, kept before it is sent
    Column("registry_receipt", Text),  # JSON: its receipt once mined (verifier.evm checks it)
    Column("registry_error", Text),  # why the registry refused it (final)
)

risk_grants = Table(
    "risk_grants",
    metadata,
    _tenant(),
    Column("insurer", String(64), ForeignKey("tenants.id"), primary_key=True),  # the insurer's own tenant id
    _created(),
)

all_metadata = [storage.metadata, metadata, media_tables.metadata]

_MIGRATIONS = Path(__file__).parent / "migrations"


def migrate(database_url: str) -> None:
    """Bring the database at ``database_url`` to the newest schema (Alembic ``upgrade head``)."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, "head")
