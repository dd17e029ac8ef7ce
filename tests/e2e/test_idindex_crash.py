"""``kill -9`` of a log writer while its event-id index merges (``ledger.idindex``), on SQLite and PostgreSQL,
three times over on one database: after each restart every acknowledged event is found by its id (through the
restarted writer and from the database alone), a retry gets its original receipt, a reused id with other
content is refused, and every key is in exactly one run or the tail."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from evidence_api.db import migrate
from ledger.database import make_engine
from ledger.errors import DuplicateConflict
from ledger.log import Submission, TransparencyLog
from ledger.sm import Signer, SM2PrivateKey
from tests.e2e.idindex_child import TUNING
from tests.helpers import TENANT, make_actor, prepared, signed_item
from tests.integration.test_idindex import check_stored_form

ROOT = Path(__file__).resolve().parents[2]


def _merging(url: str) -> bool:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM id_runs WHERE built_below IS NOT NULL")).scalar_one()) > 0
    finally:
        engine.dispose()


Acked = dict[str, tuple[int, str, dict[str, Any]]]  # event id -> leaf index, leaf hash (hex), the signed item


def _record(acked: Acked, line: str) -> None:
    parts = line.rstrip("\n").split("\t")
    if len(parts) == 3 and parts[2].endswith("}"):  # a line cut by the kill was never acknowledged
        item = json.loads(parts[2])
        acked[item["event"]["event_id"]] = (int(parts[0]), parts[1], item)


def _run_and_kill(url: str, acked: Acked, at_least: int) -> None:
    """Start the child writer, wait (bounded) until ``at_least`` more events are acknowledged and a merge is in
    progress on disk, then ``kill -9`` it; record every receipt it printed."""
    child = subprocess.Popen([sys.executable, "-m", "tests.e2e.idindex_child", url], cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in child.stdout or ()], daemon=True)
    reader.start()
    want, deadline = len(acked) + at_least, time.monotonic() + 120
    try:
        while time.monotonic() < deadline and not (len(acked) >= want and _merging(url)):
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            _record(acked, line)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    reader.join(10)
    while not lines.empty():  # printed before the kill: acknowledged
        _record(acked, lines.get())
    assert len(acked) >= want, f"only {len(acked)} events acknowledged before the deadline"


@pytest.mark.slow
def test_kill_9_while_the_id_index_merges_loses_no_id_and_lets_no_duplicate_in(database_url: str) -> None:
    migrate(database_url)
    acked: Acked = {}
    for round_ in range(3):
        _run_and_kill(database_url, acked, 30 + 20 * round_)
        engine = make_engine(database_url)
        check_stored_form(engine)
        signer = Signer.from_private_key(SM2PrivateKey.generate())
        reader = TransparencyLog(engine, origin="test.tiezheng/log", signer=signer)
        for event_id, (index, digest, _) in acked.items():
            found = reader.event(TENANT, event_id)
            assert found is not None and (found.leaf_index, found.leaf_hash.hex()) == (index, digest)
        engine.dispose()

    engine = make_engine(database_url)
    log = TransparencyLog(engine, origin="test.tiezheng/log", signer=Signer.from_private_key(SM2PrivateKey.generate()),
                          id_tuning=TUNING)
    log.start()
    try:
        items = [item for _, _, item in acked.values()]
        retried = log.submit(Submission([prepared(item) for item in items]))
        assert [(r.leaf_index, r.leaf_hash.hex(), r.duplicate) for r in retried] == \
            [(index, digest, True) for index, digest, _ in acked.values()]
        for event_id in sorted(acked)[::5]:
            impostor = signed_item(make_actor(), event_id=event_id)
            with pytest.raises(DuplicateConflict, match=f"event_id {event_id} is already logged with different"):
                log.submit(Submission([prepared(impostor)]))
        (fresh,) = log.submit(Submission([prepared(signed_item(make_actor()))]))
        assert not fresh.duplicate and fresh.leaf_index == log.tree_size - 1 >= max(i for i, _, _ in acked.values()) + 1
    finally:
        log.close()
        engine.dispose()
    check_stored_form(make_engine(database_url))
