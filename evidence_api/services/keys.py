"""The registry of actor public keys: one SM2 key per (tenant, key_id), bound to one actor."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from evidence_api import db
from evidence_api.services.errors import Conflict
from ledger.clock import Clock
from ledger.errors import UnknownKey
from ledger.sm import SM2PublicKey

__all__ = ["ActorKey", "KeyRegistry"]


@dataclass(frozen=True)
class ActorKey:
    """A registered key and the actor it belongs to."""

    tenant: str
    key_id: str
    actor_type: str
    actor_id: str
    public: SM2PublicKey


class KeyRegistry:
    """Registered actor keys, cached in memory (keys are immutable once registered)."""

    def __init__(self, engine: Engine, *, clock: Clock | None = None) -> None:
        self._engine, self._clock = engine, clock or Clock()
        self._cache: dict[tuple[str, str], ActorKey] = {}

    def register(self, tenant: str, key_id: str, actor_type: str, actor_id: str, public_key_pem: str,
                 *, conn: Connection | None = None) -> ActorKey:
        """Register a key; raises ``KeyMaterialError`` for a non-SM2 PEM and ``Conflict`` for a taken key id.

        With ``conn`` the key is written in the caller's transaction (a user and their key together).
        """
        public = SM2PublicKey.from_pem(public_key_pem)
        row = {"tenant": tenant, "key_id": key_id, "actor_type": actor_type, "actor_id": actor_id,
               "public_key_pem": public.to_pem(), "fingerprint": public.fingerprint(), "created_at": self._clock.stamp()}
        try:
            if conn is not None:
                conn.execute(insert(db.actor_keys).values(**row))
            else:
                with self._engine.begin() as own:
                    own.execute(insert(db.actor_keys).values(**row))
        except IntegrityError as exc:
            raise Conflict(f"key id {key_id!r} is already registered for tenant {tenant!r}; keys are immutable, "
                           "register the new key under a new key id") from exc
        key = ActorKey(tenant, key_id, actor_type, actor_id, public)
        if conn is None:  # in the caller's transaction, it is cached on first use once committed
            self._cache[(tenant, key_id)] = key
        return key

    def get(self, tenant: str, key_id: str) -> ActorKey:
        """The key ``key_id`` of ``tenant``; raises ``UnknownKey`` if it is not registered."""
        key = self._cache.get((tenant, key_id))
        if key is None:
            with self._engine.connect() as conn:
                row = conn.execute(select(db.actor_keys).where(
                    db.actor_keys.c.tenant == tenant, db.actor_keys.c.key_id == key_id)).first()
            if row is None:
                raise UnknownKey(f"key id {key_id!r} is not registered for tenant {tenant!r}; register it with POST /v1/keys")
            key = ActorKey(tenant, key_id, row.actor_type, row.actor_id, SM2PublicKey.from_pem(row.public_key_pem))
            self._cache[(tenant, key_id)] = key
        return key
