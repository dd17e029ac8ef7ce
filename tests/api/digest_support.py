"""A service on a ``ManualClock`` for the regulator-digest and risk-record tests, and a worked day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from evidence_api.config import Settings
from evidence_api.main import create_app
from ledger.clock import ManualClock
from tests.api.permit_support import Plant, gas, seed_plant, to_active
from tests.api.support import ADMIN_TOKEN, MAX_BATCH, MAX_BODY_BYTES, Api, bearer, seed
from tests.helpers import wait_until

DAY = "2026-11-30"
_MORNING = datetime.fromisoformat(f"{DAY}T09:00:00+08:00")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(_MORNING)


@pytest.fixture
def day_client(tmp_path: Path, clock: ManualClock, database_url: str) -> Iterator[TestClient]:
    settings = Settings(environment="dev", data_dir=tmp_path / "data", database_url=database_url,
                        admin_token=ADMIN_TOKEN, intake_workers=0,
                        checkpoint_interval=0.05, anchor_interval=0.05, max_batch=MAX_BATCH,
                        max_body_bytes=MAX_BODY_BYTES, watchdog_interval=3600)
    with TestClient(create_app(settings, clock=clock)) as client:
        yield client


@pytest.fixture
def day_api(day_client: TestClient) -> Api:
    return seed(day_client)


def worked_day(api: Api, clock: ManualClock) -> Plant:
    """On DAY: a hot-work permit started, a failing gas test (alarm and suspension), completed and closed."""
    plant = seed_plant(api)
    to_active(plant)
    plant.ok("analyst", "gas.analysed", gas(clock=clock, combustible_pct_vol=2.0))
    plant.ok("leader", "permit.completed", {"note": ""})
    plant.ok("head", "permit.closed", {"result": "accepted", "remarks": ""})
    api.checkpoint(api.tree_size)
    return plant


def digests(api: Api, token: str | None = None, **params: str) -> Any:
    return api.client.get("/v1/regulator/digests", params=params, headers=bearer(token or api.reader))


def wait_anchored(api: Api, day: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        view: dict[str, Any] = digests(api, date=day).json()["digests"][0]
        return view if all(a["status"] == "anchored" for a in view["anchors"]) else None

    found: dict[str, Any] = wait_until(probe)
    return found


JUNK: list[Any] = [None, True, -1, 2**60, 1.5, "", "x" * 300, [], {}, [None], {"a": 1}]
"""Values a fuzzing test puts in place of each field of a file."""


def paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into ``value`` (keys and indexes), its own first."""
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in paths(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in paths(v, (*path, i))]
    return [path]
