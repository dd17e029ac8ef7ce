"""Fixtures of the intake tests that run real worker processes: a migrated SQLite key registry with one
registered gateway key, on a file the workers open themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evidence_api.db import migrate
from evidence_api.services.keys import KeyRegistry
from ingest.signing import Actor
from ledger.database import make_engine
from ledger.sm import Signer, SM2PrivateKey
from tests.unit.evidence_api.intake_support import TENANT


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, KeyRegistry, Actor]]:
    """(database URL, registry, actor): ``actor``'s key is registered for ``TENANT``."""
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('keys')) / 'keys.db'}"
    migrate(url)
    engine = make_engine(url)
    registry = KeyRegistry(engine)
    actor = Actor("device", "gw-1", "gw-1#1", Signer.from_private_key(SM2PrivateKey.generate()))
    registry.register(TENANT, actor.key_id, actor.type, actor.id, actor.signer.public.to_pem())
    yield url, registry, actor
    engine.dispose()
