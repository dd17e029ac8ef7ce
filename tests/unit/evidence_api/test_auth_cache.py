"""``Auth.cached``: what the event loop may answer without a database read (the bootstrap admin token, a token
resolved before) gives the same principal and the same refusals as ``Auth.principal``; anything else is None,
so the caller goes to a thread for the lookup."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from evidence_api.db import migrate
from evidence_api.services.auth import Auth, Principal
from evidence_api.services.errors import Unauthorized
from ledger.database import make_engine

ADMIN = "auth-cache-admin-token-0001"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    migrate(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def test_cached_token_unseen_is_none_until_resolved(engine: Engine) -> None:
    auth = Auth(engine, admin_token=ADMIN)
    auth.create_tenant("acme", "Acme")
    header = f"Bearer {auth.issue_token('acme', 'ingest', 'gateway')}"

    assert auth.cached(header) is None
    resolved = auth.principal(header)
    assert resolved == Principal("acme", "ingest", "gateway")
    assert auth.cached(header) is resolved


def test_cached_admin_token_needs_no_lookup(engine: Engine) -> None:
    assert Auth(engine, admin_token=ADMIN).cached(f"Bearer {ADMIN}") == Principal(None, "admin", "bootstrap admin")


def test_cached_unknown_token_is_none_and_principal_refuses_it(engine: Engine) -> None:
    auth = Auth(engine, admin_token=ADMIN)

    assert auth.cached(f"Bearer {ADMIN}x") is None
    with pytest.raises(Unauthorized, match="unknown bearer token"):
        auth.principal(f"Bearer {ADMIN}x")
    assert auth.cached(f"Bearer {ADMIN}x") is None  # a refusal is not remembered as a caller


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic abc", "token-without-scheme"])
def test_cached_header_no_bearer_token_is_refused_like_principal(engine: Engine, header: str | None) -> None:
    auth = Auth(engine, admin_token=ADMIN)
    for check in (auth.cached, auth.principal):
        with pytest.raises(Unauthorized, match=r"send 'Authorization: Bearer <token>'"):
            check(header)
