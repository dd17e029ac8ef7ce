"""A running evidence service per test (on SQLite and on PostgreSQL), seeded through its own admin API."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings
from evidence_api.main import create_app
from tests.api.support import ADMIN_TOKEN, MAX_BATCH, MAX_BODY_BYTES, Api, seed


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite, unless a test asks for both databases with ``BOTH_DATABASES`` (the storage itself is covered on
    both by tests/integration; here PostgreSQL runs the main paths only, to keep the suite fast)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'tiezheng.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Fast timers; intake in-process (``intake_workers=0``) except where a test asks for worker processes."""
    return Settings(environment="dev", data_dir=tmp_path / "data", database_url=database_url,
                    admin_token=ADMIN_TOKEN, intake_workers=0, checkpoint_interval=0.05, anchor_interval=0.1,
                    max_batch=MAX_BATCH, max_body_bytes=MAX_BODY_BYTES)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """The app with its lifespan running (log writer and anchorer started)."""
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def api(client: TestClient) -> Api:
    return seed(client)
