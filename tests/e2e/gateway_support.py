"""A real ``tiezheng serve`` process that can go down and come back on the same port and data, and a tenant
on it with a hot-work permit walked to active over HTTP, for the gateway's end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from ingest.client import ApiClient, ApiUnreachable
from ingest.seed import AreaPlan, PlantPlan, open_tenant
from ingest.seed import seed_plant as register_plant
from ledger.clock import Clock
from tests.api import permit_support
from tests.api.permit_support import NO_PHOTOS, PEOPLE, POINT, Plant, to_active
from tests.api.support import Api
from tests.helpers import TENANT, make_actor

ADMIN = "gateway-e2e-admin-token"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """``tiezheng serve`` on ``port`` with its data in ``data_dir``; ``stop`` and ``start`` again at will."""

    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir, self.port, self.process = data_dir, port, None
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> None:
        env = {**os.environ, "TIEZHENG_DATA_DIR": str(self.data_dir), "TIEZHENG_ADMIN_TOKEN": ADMIN,
               "TIEZHENG_CHECKPOINT_INTERVAL": "0.2", "TIEZHENG_INTAKE_WORKERS": "0",
               "TIEZHENG_DATABASE_URL": f"sqlite:///{self.data_dir / 'tiezheng.db'}"}
        self.process = subprocess.Popen([sys.executable, "-m", "evidence_api.cli", "serve", "--port", str(self.port)],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        with ApiClient.connect(self.url, timeout=1, retries=0) as client:
            while time.monotonic() < deadline:
                try:
                    client.public_key()
                    return
                except ApiUnreachable:
                    time.sleep(0.1)  # waiting for the server to listen, not standing in for synchronisation
        raise RuntimeError("tiezheng serve did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(30)
            self.process = None


class _RemotePlant(Plant):
    """The test plant over real HTTP: the service's clock is the system clock."""

    @property
    def clock(self) -> Clock:
        return Clock()


@dataclass
class Tenant:
    """The seeded tenant: tokens and the plant (people with keys, the QR of unit-3)."""

    url: str
    tokens: dict[str, str]
    plant: Plant

    def client(self, role: str = "admin") -> ApiClient:
        return ApiClient.connect(self.url, self.tokens[role], retries=0)


def active_permit(url: str) -> Tenant:
    """A tenant with a plant and hot-work permit HW-1 active, over HTTP."""
    access = open_tenant(ApiClient.connect(url, ADMIN), TENANT, "Acme Chemicals")
    tokens = dict(access.tokens)
    today = Clock().today()
    plan = PlantPlan("plant-1", "一厂", people=PEOPLE,
                     areas=[AreaPlan("unit-3", "三号装置", *POINT, radius_m=200)],
                     devices={"m4-0001": ("detector", "unit-3")},  # the gas detector the gateway tests relay
                     workers=[permit_support._worker("welder", ("2.1", today + timedelta(days=900),
                                                                today + timedelta(days=400)))],
                     overrides={"hot_work_upgrade": {"night_from_hour": None, "rest_days": []},
                                "photo_steps": NO_PHOTOS})  # the photo rule is tests/api/test_media_photos.py's
    seeded = register_plant(access.admin, TENANT, plan, make_actor=make_actor)
    http: Any = httpx.Client(base_url=url, timeout=30)
    api = Api(client=http, admin=tokens["admin"], ingest=tokens["ingest"], reader=tokens["reader"], other_ingest="",
              other_reader="", guardian=seeded.people["guard-1"], deputy=seeded.people["guard-2"],
              detector=seeded.people["analyst"])
    plant = _RemotePlant(api, qr=seeded.qr["unit-3"], people=dict(seeded.people))
    to_active(plant)
    return Tenant(url, tokens, plant)
