"""Evidence-pack jobs: build (synchronously for small scopes, in the background for big ones), self-verify
with the independent verifier, keep the zip, report status and progress (``/v1/evidence-packs``).

A scope of at most ``sync_limit`` events is built in the request (answer 201, ``ready``); a larger one is
accepted (202, ``building``) and built on one background worker, its progress in the status. Every pack
is verified with ``verifier.pack.verify_pack`` against the service's own log key before it is handed out;
one that fails is ``failed`` with the verifier's reason, never served. Zips live under
``<data dir>/packs/<tenant>/<id>.zip``; the ``evidence_packs`` table holds their status.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select, update

from evidence_api import db
from evidence_api.services.errors import Conflict, NotFound
from evidence_api.services.packs import PackBuilder
from ledger.clock import Clock
from ledger.sm import sm3
from verifier.errors import VerifierError
from verifier.pack import verify_pack
from verifier.trust import TrustRoot

__all__ = ["PackJobs", "PackStatus"]

_log = logging.getLogger(__name__)
SYNC_LIMIT = 2000


@dataclass(frozen=True)
class PackStatus:
    """One pack's row: status ``building`` | ``ready`` | ``failed``, progress, and once ready its digests."""

    id: str
    tenant: str
    scope: dict[str, Any]
    status: str
    stage: str
    done: int
    total: int
    created_at: str
    updated_at: str
    size: int | None
    sm3: str | None
    evidence_digest: str | None
    assurance: str | None
    error: str | None


class PackJobs:
    """Creates and serves packs of one service; ``close`` stops the background worker."""

    def __init__(self, engine: Engine, builder: PackBuilder, trust_root: TrustRoot, folder: Path, *,
                 clock: Clock | None = None, sync_limit: int = SYNC_LIMIT) -> None:
        self._engine, self._builder, self._trust, self._folder = engine, builder, trust_root, folder
        self._clock, self._sync_limit = clock or Clock(), sync_limit
        self._queue: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._fail_interrupted()

    def create(self, tenant: str, scope: dict[str, Any]) -> PackStatus:
        """Start the pack of ``scope``: built now when small (status ``ready`` or ``failed``), else queued
        (``building``). Raises ``NotFound`` when the scope holds no logged event."""
        count = self._builder.count(tenant, scope)
        if count == 0:
            raise NotFound(f"no logged event of tenant {tenant!r} is in scope {scope}; nothing to pack")
        pack_id = str(uuid.uuid4())
        now = self._clock.stamp()
        with self._engine.begin() as conn:
            conn.execute(insert(db.evidence_packs).values(
                tenant=tenant, id=pack_id, scope=json.dumps(scope, ensure_ascii=False), status="building",
                stage="queued", done=0, total=count, created_at=now, updated_at=now))
        if count <= self._sync_limit:
            self._run(tenant, pack_id, scope)
        else:
            self._start()
            self._queue.put((tenant, pack_id, scope))
        return self.status(tenant, pack_id)

    def status(self, tenant: str, pack_id: str) -> PackStatus:
        """The status of ``tenant``'s pack ``pack_id``; ``NotFound`` for another tenant's or an unknown one."""
        p = db.evidence_packs.c
        with self._engine.connect() as conn:
            row = conn.execute(select(db.evidence_packs).where(p.tenant == tenant, p.id == pack_id)).first()
        if row is None:
            raise NotFound(f"evidence pack {pack_id} does not exist for tenant {tenant!r}")
        return PackStatus(row.id, row.tenant, json.loads(row.scope), row.status, row.stage, row.done, row.total,
                          row.created_at, row.updated_at, row.size, row.sm3, row.evidence_digest, row.assurance,
                          row.error)

    def zip_path(self, tenant: str, pack_id: str) -> Path:
        """The verified zip of a ready pack; ``Conflict`` while it builds or after it failed."""
        status = self.status(tenant, pack_id)
        if status.status != "ready":
            raise Conflict(f"evidence pack {pack_id} is {status.status} ({status.stage}"
                           f"{': ' + status.error if status.error else ''}); poll GET /v1/evidence-packs/{pack_id}")
        return self._path(tenant, pack_id)

    def close(self) -> None:
        """Build the packs already queued, then stop the worker (a crash instead leaves them ``building``: they are
        failed on the next start)."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    # -- building ---------------------------------------------------------------------------------
    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._worker, name="tiezheng-packs", daemon=True)
            self._thread.start()

    def _worker(self) -> None:
        while (job := self._queue.get()) is not None:
            self._run(*job)

    def _run(self, tenant: str, pack_id: str, scope: dict[str, Any]) -> None:
        try:
            built = self._builder.build(tenant, scope, pack_id=pack_id,
                                        progress=lambda stage, done, total: self._progress(pack_id, stage, done, total))
            self._progress(pack_id, "verify", 0, 1)
            report = verify_pack(built.data, trust_root=self._trust)
        except VerifierError as exc:
            reason = getattr(exc, "reason", type(exc).__name__)
            _log.error("evidence pack %s failed its own verification (%s): %s", pack_id, reason, exc.message)
            self._finish(pack_id, status="failed", error=f"self-check refused the pack ({reason}): {exc.message}")
            return
        except Exception as exc:  # noqa: BLE001 - a failed build is a failed job, reported in its status
            _log.exception("evidence pack %s could not be built", pack_id)
            self._finish(pack_id, status="failed", error=str(exc))
            return
        path = self._path(tenant, pack_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".part").write_bytes(built.data)
        path.with_suffix(".part").replace(path)
        self._finish(pack_id, status="ready", scope=built.inputs.scope, size=len(built.data),
                     sm3=sm3(built.data).hex(), evidence_digest=report.evidence_digest, assurance=report.assurance)

    def _progress(self, pack_id: str, stage: str, done: int, total: int) -> None:
        """Record the stage; ``done`` and ``total`` count events, so only the ``events`` stage moves them."""
        counts = {"done": done, "total": total} if stage == "events" else {}
        with self._engine.begin() as conn:
            conn.execute(update(db.evidence_packs).where(db.evidence_packs.c.id == pack_id).values(
                stage=stage, updated_at=self._clock.stamp(), **counts))

    def _finish(self, pack_id: str, *, status: str, scope: dict[str, Any] | None = None, **values: Any) -> None:
        extra = {"scope": json.dumps(scope, ensure_ascii=False)} if scope is not None else {}
        with self._engine.begin() as conn:
            conn.execute(update(db.evidence_packs).where(db.evidence_packs.c.id == pack_id).values(
                status=status, stage="done" if status == "ready" else "failed", updated_at=self._clock.stamp(),
                **extra, **values))

    def _fail_interrupted(self) -> None:
        """Packs still ``building`` from a previous run will never finish: say so."""
        p = db.evidence_packs.c
        with self._engine.begin() as conn:
            conn.execute(update(db.evidence_packs).where(p.status == "building").values(
                status="failed", stage="failed", error="the service stopped while building it; POST the scope again",
                updated_at=self._clock.stamp()))

    def _path(self, tenant: str, pack_id: str) -> Path:
        return self._folder / tenant / f"{pack_id}.zip"
