"""Tenants and bearer tokens with roles.

Tokens are random 32-byte secrets shown once; only their SM3 hash is stored. The bootstrap admin token
(``TIEZHENG_ADMIN_TOKEN``) is a platform admin with no tenant: it creates tenants, tokens and keys.
A tenant token carries one role: ``admin`` (its tenant's keys and tokens), ``ingest`` (submit events),
``reader`` (read the log and bundles), ``regulator`` (read its tenant's regulator digests only) or
``insurer`` (issued for an insurer organisation's own tenant: read the risk records of the tenants that
granted that organisation access, and nothing else).
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from evidence_api import db
from evidence_api.services.errors import Conflict, Forbidden, NotFound, Unauthorized
from ledger.clock import Clock
from ledger.sm import sm3

__all__ = ["DIGEST_ROLES", "READ_ROLES", "ROLES", "Auth", "Principal"]

ROLES = ("admin", "ingest", "reader", "regulator", "insurer")
READ_ROLES = ("reader", "ingest", "admin")
"""Roles that may read a tenant's records."""
DIGEST_ROLES = (*READ_ROLES, "regulator")
"""Roles that may read a tenant's regulator digests (which hold no personal data)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant (None for the platform admin) and a role."""

    tenant: str | None
    role: str
    label: str

    def require(self, *roles: str, tenant: str | None = None) -> None:
        """Raise ``Forbidden`` unless the caller has one of ``roles`` (and may act for ``tenant``)."""
        if self.tenant is None and self.role == "admin":
            return
        if self.role not in roles:
            raise Forbidden(f"role {self.role!r} may not do this; needs one of {list(roles)}")
        if tenant is not None and tenant != self.tenant:
            raise Forbidden(f"token of tenant {self.tenant!r} may not act for tenant {tenant!r}")

    def own_tenant(self) -> str:
        """The caller's tenant; the platform admin has none and must use a tenant token."""
        if self.tenant is None:
            raise Forbidden("the platform admin token has no tenant; use a token issued for a tenant")
        return self.tenant


def _token_hash(token: str) -> str:
    return sm3(token.encode()).hex()


class Auth:
    """Resolves bearer tokens; creates tenants and tokens."""

    def __init__(self, engine: Engine, *, admin_token: str | None, clock: Clock | None = None) -> None:
        self._engine, self._admin_token, self._clock = engine, admin_token, clock or Clock()
        self._cache: dict[str, Principal] = {}

    def principal(self, authorization: str | None) -> Principal:
        """The caller behind an ``Authorization: Bearer ...`` header; raises ``Unauthorized``. Reads the
        database for a token not seen before (run it off the event loop; ``cached`` first spares that)."""
        known = self.cached(authorization)
        if known is not None:
            return known
        digest = _token_hash((authorization or "").partition(" ")[2])
        with self._engine.connect() as conn:
            row = conn.execute(select(db.api_tokens).where(db.api_tokens.c.token_hash == digest)).first()
        if row is None:
            raise Unauthorized("unknown bearer token")
        found = self._cache[digest] = Principal(row.tenant, row.role, row.label)
        return found

    def cached(self, authorization: str | None) -> Principal | None:
        """``principal(authorization)`` when it needs no database read (the bootstrap admin token, or a token
        resolved before), else None; raises ``Unauthorized`` for a header that is no bearer token. No I/O, so
        the event loop calls it directly and goes to a thread only on None."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send 'Authorization: Bearer <token>'")
        # bytes: compare_digest refuses str with non-ASCII characters (a header may carry any latin-1 byte)
        if self._admin_token and hmac.compare_digest(token.encode("utf-8", "surrogatepass"), self._admin_token.encode()):
            return Principal(None, "admin", "bootstrap admin")
        return self._cache.get(_token_hash(token))

    def create_tenant(self, tenant_id: str, name: str) -> None:
        """Create a tenant; ``Conflict`` if the id is taken."""
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(db.tenants).values(id=tenant_id, name=name, created_at=self._clock.stamp()))
        except IntegrityError as exc:
            raise Conflict(f"tenant {tenant_id!r} already exists") from exc

    def issue_token(self, tenant: str, role: str, label: str) -> str:
        """Issue a token for ``tenant`` with ``role``; returns the secret (shown once)."""
        if role not in ROLES:
            raise Forbidden(f"unknown role {role!r}; one of {list(ROLES)}")
        with self._engine.begin() as conn:
            if conn.execute(select(db.tenants.c.id).where(db.tenants.c.id == tenant)).first() is None:
                raise NotFound(f"tenant {tenant!r} does not exist; create it with POST /v1/tenants")
            token = secrets.token_urlsafe(32)
            conn.execute(insert(db.api_tokens).values(token_hash=_token_hash(token), tenant=tenant, role=role,
                                                      label=label, created_at=self._clock.stamp()))
        return token
