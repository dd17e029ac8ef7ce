"""``kill -9`` of the server during sustained intake: after a restart every acknowledged event is in the log
and the tree is consistent with every checkpoint handed out before the crash; and no process of the killed
server (intake workers, multiprocessing's resource tracker) outlives it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.permits import permit_requests, send_request
from bench.permits import setup as setup_plant
from ingest.client import ApiClient, ApiError, ApiUnreachable
from ingest.records import Checkpoint, Receipt
from ingest.seed import open_tenant
from ingest.signing import Actor
from tests.helpers import TENANT, make_actor, unsigned_item
from verifier.merkle import verify_consistency, verify_inclusion

ADMIN = "crash-test-admin-token"


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(data_dir: Path, port: int, database_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TIEZHENG_DATA_DIR": str(data_dir), "TIEZHENG_ADMIN_TOKEN": ADMIN,
           "TIEZHENG_CHECKPOINT_INTERVAL": "0.2", "TIEZHENG_DATABASE_URL": database_url}
    # its own session: every process it starts stays in it, even once re-parented to PID 1 (see _session)
    server = subprocess.Popen([sys.executable, "-m", "evidence_api.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 30
    with ApiClient.connect(f"http://127.0.0.1:{port}", timeout=1, retries=0) as client:
        while time.monotonic() < deadline:
            try:
                client.public_key()
                return server
            except ApiUnreachable:
                time.sleep(0.1)
    server.kill()
    raise RuntimeError("server did not start")


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[tuple[Path, int, subprocess.Popen[bytes], str]]:
    """A real server process on SQLite, then on PostgreSQL (the ``database_url`` fixture)."""
    port = _port()
    process = _start(tmp_path, port, database_url)
    yield tmp_path, port, process, database_url
    process.kill()


def _setup(base: str) -> tuple[str, Actor]:
    """The tenant and its admin token, and a registered detector."""
    with ApiClient.connect(base, ADMIN) as root:
        access = open_tenant(root, TENANT, "Acme", roles=("admin",))
        actor = make_actor("detector-1", "device")
        access.admin.register_key(TENANT, actor)
    return access.tokens["admin"], actor


def _pump(base: str, token: str, actor: Actor, acked: list[Receipt], checkpoints: list[Checkpoint],
          stop: threading.Event) -> None:
    # no retries: an answer that never came is not acknowledged
    with ApiClient.connect(base, token, timeout=10, retries=0) as client:
        while not stop.is_set():
            items = [unsigned_item(actor, permit=f"P-{n % 3}", kind="detector.reading", payload={"n": n})
                     for n in range(50)]
            try:
                acked.extend(client.submit_attested(actor, TENANT, items))
                checkpoints.append(client.checkpoint())
            except ApiUnreachable:
                return  # the server died under us: what was acknowledged so far is what must survive
            except ApiError as exc:
                if exc.status != 404:  # 404: no checkpoint cut yet
                    raise


@pytest.mark.slow
def test_kill_9_during_intake_loses_no_acknowledged_event(
    server: tuple[Path, int, subprocess.Popen[bytes], str],
) -> None:
    data_dir, port, process, database_url = server
    base = f"http://127.0.0.1:{port}"
    token, actor = _setup(base)
    acked: list[Receipt] = []
    checkpoints: list[Checkpoint] = []
    stop = threading.Event()
    pumps = [threading.Thread(target=_pump, args=(base, token, actor, acked, checkpoints, stop)) for _ in range(3)]
    for pump in pumps:
        pump.start()
    deadline = time.monotonic() + 60
    while len(acked) < 1000 and time.monotonic() < deadline:  # sustained intake, then the crash mid-stream
        time.sleep(0.05)
    _kill_9(process)
    stop.set()
    for pump in pumps:
        pump.join()
    assert len(acked) >= 500 and checkpoints, f"only {len(acked)} events acknowledged before the crash"

    restarted = _start(data_dir, port, database_url)
    try:
        _check_after_restart(base, acked, checkpoints)
    finally:
        restarted.kill()


def _check_after_restart(base: str, acked: list[Receipt], checkpoints: list[Checkpoint]) -> None:
    with ApiClient.connect(base) as client:
        deadline = time.monotonic() + 10
        latest = client.checkpoint()
        while latest.tree_size < max(r.leaf_index for r in acked) + 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            latest = client.checkpoint()
        size, root = latest.tree_size, latest.root_hash
        for receipt in acked[:: max(1, len(acked) // 200)] + acked[-5:]:
            inclusion = client.inclusion_proof(receipt.leaf_index, size)
            assert inclusion.leaf_hash == receipt.leaf_hash
            verify_inclusion(receipt.leaf_index, size, receipt.leaf_hash, list(inclusion.proof), root)
        for old in {c.tree_size: c for c in checkpoints}.values():
            consistency = client.consistency_proof(old.tree_size, size)
            verify_consistency(old.tree_size, size, old.root_hash, root, list(consistency.proof))


def _session(pid: int) -> list[tuple[int, str, str]]:
    """Live processes of session ``pid``: (pid, state, command line). Zombies are dead and left out."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split() if entry.name.isdigit() else None
            if fields and int(fields[3]) == pid and fields[0] != "Z":
                found.append((int(entry.name), fields[0], (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return found


def _kill_9(process: subprocess.Popen[bytes]) -> None:
    """``kill -9`` the server, then wait (bounded) until no process of its session is left; fail naming any."""
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 30  # a worker spawned just before the kill may still be importing
    while (left := _session(process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"processes of the killed server survived it: {left}"


def _intake_workers(pid: int) -> list[int]:
    return [child for child, _, command in _session(pid) if "spawn_main" in command]


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """A real server process with intake workers (one per core) on SQLite."""
    port = _port()
    process = _start(tmp_path, port, f"sqlite:///{tmp_path / 'tiezheng.db'}")
    yield port, process
    process.kill()


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [0, 300, 1500], ids=["first-requests", "300-acked", "1500-acked"])
def test_kill_9_under_load_leaves_no_process_of_the_server(
    sqlite_server: tuple[int, subprocess.Popen[bytes]], kill_after: int,
) -> None:
    """Three clients keep sending attested batches; the server is killed during the first requests, or after
    ``kill_after`` acknowledged events. Every process it started must be gone: the workers (re-parented to
    PID 1) and the resource tracker they kept alive."""
    port, process = sqlite_server
    base = f"http://127.0.0.1:{port}"
    token, actor = _setup(base)
    acked: list[Receipt] = []
    stop = threading.Event()
    pumps = [threading.Thread(target=_pump, args=(base, token, actor, acked, [], stop)) for _ in range(3)]
    for pump in pumps:
        pump.start()
    deadline = time.monotonic() + 60
    while not (_intake_workers(process.pid) and len(acked) >= kill_after) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _intake_workers(process.pid), "the server runs its intake in worker processes"
    try:
        _kill_9(process)
    finally:
        stop.set()
        for pump in pumps:
            pump.join()
    assert len(acked) >= kill_after


@pytest.mark.slow
def test_kill_9_while_the_intake_workers_start_leaves_no_process_of_the_server(tmp_path: Path) -> None:
    """The server spawns its intake workers at start-up and waits for each to import and initialise (seconds):
    killed in that window, before it answers anything, it leaves none of them behind either (a worker still
    importing has not set its parent-death signal yet: it must notice on its own that its parent is gone)."""
    env = {**os.environ, "TIEZHENG_DATA_DIR": str(tmp_path), "TIEZHENG_ADMIN_TOKEN": ADMIN}
    process = subprocess.Popen([sys.executable, "-m", "evidence_api.cli", "serve", "--port", str(_port())], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not _intake_workers(process.pid) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _intake_workers(process.pid), "the server spawns its intake workers while it starts"
        _kill_9(process)
    finally:
        process.kill()


def _walk(base: str, token: str, work: list[list[tuple[str, str, bytes]]], acked: list[tuple[str, str]]) -> None:
    """Take each permit towards active, one signed action at a time, until the server dies."""
    with ApiClient.connect(base, token, timeout=10, retries=0) as client:
        for requests in work:
            for kind, permit, body in requests:
                try:
                    answer = send_request(client, kind, permit, body)
                except ApiUnreachable:
                    return
                acked.append((answer.permit.id, answer.receipts[0].event_id))


@pytest.mark.slow
def test_kill_9_during_permit_actions_keeps_permits_and_log_together(
    server: tuple[Path, int, subprocess.Popen[bytes], str],
) -> None:
    """Every acknowledged action is in the permit's timeline after the crash, and the permit's state was
    built from exactly the events the log holds (committed in one transaction, never one without the other)."""
    data_dir, port, process, database_url = server
    base = f"http://127.0.0.1:{port}"
    token, people, qr = setup_plant(base, 60, admin_token=ADMIN)
    work = [permit_requests(people, qr, n) for n in range(60)]
    acked: list[tuple[str, str]] = []
    walkers = [threading.Thread(target=_walk, args=(base, token, work[i::3], acked)) for i in range(3)]
    for walker in walkers:
        walker.start()
    deadline = time.monotonic() + 60
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.01)
    _kill_9(process)
    for walker in walkers:
        walker.join()
    assert len(acked) >= 30, f"only {len(acked)} actions acknowledged before the crash"

    restarted = _start(data_dir, port, database_url)
    try:
        with ApiClient.connect(base, token) as client:
            for permit in sorted({p for p, _ in acked}):
                doc = client.permit(permit)
                timeline = client.timeline(permit)
                logged = [e.event_id for e in timeline]
                assert {e for p, e in acked if p == permit} <= set(logged), "an acknowledged action was lost"
                assert doc.version == len(logged), "the permit's state and its logged events diverged"
                assert [h["event_id"] for h in doc.document["history"]] == [
                    e.event_id for e in timeline if e.kind.startswith("permit.")]
    finally:
        restarted.kill()
