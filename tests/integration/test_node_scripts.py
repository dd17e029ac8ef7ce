"""The node scripts' shared skeleton (``network/nodes/native.sh``) through ``tsa.sh``, the lightest of them: up,
status, url, down and the usage, on a free port with a private state folder (anvil's runs in the evm tests)."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.evm_support import free_port

pytestmark = pytest.mark.tsa

TSA_SCRIPT = ROOT / "network" / "nodes" / "tsa.sh"


def _run(state: Path, port: int, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIEZHENG_STATE": str(state), "TSA_PORT": str(port)}
    return subprocess.run(["bash", str(TSA_SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60,
                          check=False)


def test_tsa_script_up_status_url_down(tmp_path: Path) -> None:
    port = free_port()
    assert _run(tmp_path, port, "status").stdout == "tsa: stopped\n"
    try:
        up = _run(tmp_path, port, "up")
        assert up.returncode == 0, up.stderr
        assert up.stdout.startswith(f"tsa: running on http://127.0.0.1:{port}/, root certificate ")
        assert (tmp_path / "tsa" / "server.pid").is_file()
        assert _run(tmp_path, port, "up").stdout == f"tsa: already running on http://127.0.0.1:{port}/\n"
        assert _run(tmp_path, port, "status").stdout.startswith(f"tsa: running on http://127.0.0.1:{port}/ ")
        url = _run(tmp_path, port, "url").stdout.strip()
        with urllib.request.urlopen(url + "root.pem", timeout=10) as answer:
            assert answer.read().startswith(b"-----BEGIN CERTIFICATE-----")
    finally:
        down = _run(tmp_path, port, "down")
    assert down.stdout == "tsa: stopped\n"
    assert not (tmp_path / "tsa" / "server.pid").exists()
    assert _run(tmp_path, port, "status").stdout == "tsa: stopped\n"
    assert _run(tmp_path, port, "down").stdout == "tsa: not running\n"


@pytest.mark.parametrize("args", [(), ("restart",), ("build",)])
def test_tsa_script_unknown_command_prints_usage(tmp_path: Path, args: tuple[str, ...]) -> None:
    done = _run(tmp_path, free_port(), *args)

    assert done.returncode == 2
    assert done.stderr.strip().endswith("tsa.sh up|down|status|url")
    assert not (tmp_path / "tsa").exists()
