"""Shared fixtures: databases (SQLite and a real PostgreSQL), a migrated log, a running app.

Tests that need a real service carry its marker. Locally they skip with the reason when the service is not
configured; ``.ci/run`` starts the services and passes ``--require-services``, which turns any such skip into
a failure.
"""

from __future__ import annotations

import os
import sys
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, text

import ledger.evm  # noqa: F401  (before any test imports web3: py_ecc's recursion limit is undone once)
from evidence_api.db import migrate
from ledger.log import TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from ledger.storage import make_engine
from tests import processes

POSTGRES_ENV = "TIEZHENG_TEST_POSTGRES_URL"
ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--require-services", action="store_true",
                     help="fail (instead of skip) tests whose real service is not configured")


def _missing_service(config: pytest.Config, reason: str) -> None:
    if config.getoption("--require-services"):
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_admin_url(pytestconfig: pytest.Config) -> str:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        _missing_service(pytestconfig, f"{POSTGRES_ENV} is not set (start one with: bash network/network.sh up)")
    return url  # type: ignore[return-value]


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database on the real PostgreSQL server, dropped afterwards."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = postgres_admin_url.rpartition("/")
    yield f"{base}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test on the embedded default and on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tiezheng.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated engine."""
    migrate(database_url)
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def log_key() -> SM2PrivateKey:
    return SM2PrivateKey.generate()


@pytest.fixture
def log(engine: Engine, log_key: SM2PrivateKey) -> Iterator[TransparencyLog]:
    """A running log on a migrated database, closed afterwards."""
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(log_key),
                          checkpoint_interval=0.05)
    log.start()
    yield log
    log.close()


# -- the regulator chain (EVM): tests/evm_support.py ---------------------------------------------------
@pytest.fixture(scope="session")
def evm_url(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running EVM node: ``TIEZHENG_TEST_EVM_URL``, else an anvil of this session's own on a free port
    (network/nodes/anvil.sh), stopped at the end."""
    from tests.evm_support import ANVIL_BIN, EVM_ENV, INSTALL_HINT, AnvilNode

    if os.environ.get(EVM_ENV):
        yield os.environ[EVM_ENV]
        return
    if not ANVIL_BIN.exists():
        _missing_service(pytestconfig, f"{EVM_ENV} is not set and anvil is not installed; {INSTALL_HINT}")
    node = AnvilNode(tmp_path_factory.mktemp("anvil")).up()
    yield node.url
    node.down()


@pytest.fixture(scope="session")
def registry_artifact(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The registry contract compiled now, with the pinned solc-js, into a temporary folder."""
    from tests.evm_support import INSTALL_HINT, SOLC_JS, compile_registry

    if not SOLC_JS.exists():
        _missing_service(pytestconfig, f"solc-js is not installed; {INSTALL_HINT}")
    return compile_registry(tmp_path_factory.mktemp("contracts"))


@pytest.fixture
def operator(evm_url: str) -> Any:
    """A fresh operator key, funded on the node."""
    from tests.evm_support import funded_operator

    return funded_operator(evm_url)


@pytest.fixture
def registry(evm_url: str, operator: Any, registry_artifact: Any) -> Any:
    """A fresh registry deployment whose only operator is ``operator``."""
    from ledger.evm import Registry

    deployed, _ = Registry.deploy(evm_url, operator, bytecode=registry_artifact.bytecode)
    return deployed


# -- the test TSA (marker tsa) ---------------------------------------------------------------------------
TSA_ENV = "TIEZHENG_TEST_TSA_URL"


@dataclass(frozen=True)
class TsaServer:
    """A running RFC 3161 TSA: where to POST queries and the PEM root its tokens chain to."""

    url: str
    root_pem: str


@pytest.fixture(scope="session")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TsaServer]:
    """The TSA named by TIEZHENG_TEST_TSA_URL (its root read from GET /root.pem), else network/tsa/tsa.py on a
    free port with fresh keys, stopped at session end."""
    url = os.environ.get(TSA_ENV)
    if url:
        with urllib.request.urlopen(url.rstrip("/") + "/root.pem", timeout=10) as answer:
            yield TsaServer(url, answer.read().decode())
        return
    state = tmp_path_factory.mktemp("tsa")
    server = processes.start([sys.executable, str(ROOT / "network" / "tsa" / "tsa.py"), "--state", str(state)],
                             r"tsa: ready (\S+)")
    try:
        yield TsaServer(server.ready.group(1), (state / "root.pem").read_text())
    finally:
        server.stop()


# -- tlog-witnesses (marker witness) ---------------------------------------------------------------------
@dataclass(frozen=True)
class WitnessProcess:
    """A running ``tiezheng witness serve``: its submission prefix, key name, public key (PEM), state folder."""

    url: str
    name: str
    public_key_pem: str
    state: Path
    server: processes.Server


@pytest.fixture
def start_witness(tmp_path: Path) -> Iterator[Callable[..., WitnessProcess]]:
    """Start real witness processes (``python -m evidence_api.cli witness serve`` on free ports, fresh keys and
    state per test, since a witness remembers the one log it saw); all are stopped at the end of the test."""
    servers: list[processes.Server] = []

    def start(name: str, *, origin: str, log_key_pem: str, state: Path | None = None) -> WitnessProcess:
        home = tmp_path / "witnesses" / name.replace("/", "_")
        home.mkdir(parents=True, exist_ok=True)
        (home / "log-key.pem").write_text(log_key_pem)
        state = state or home / "state"
        server = processes.start([sys.executable, "-m", "evidence_api.cli", "witness", "serve", "--key",
                                  str(home / "witness.key"), "--name", name, "--log-origin", origin, "--log-key",
                                  str(home / "log-key.pem"), "--state", str(state), "--port", "0"],
                                 r"witness: ready (\S+)", cwd=ROOT)
        servers.append(server)
        return WitnessProcess(server.ready.group(1), name, (home / "witness.key.pub").read_text(), state, server)

    yield start
    for server in servers:
        server.stop()
