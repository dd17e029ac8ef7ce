"""Which events a pack's scope holds (docs/formats.md, "Scope"), read through the log's read interface.

``permit``: the permit's events (its ``prev`` chain). ``area``: the events of the area's permits (from the
permit table: those whose planned time overlaps the range) received in [from, to). ``worker``: events whose
``subject.worker`` is the worker — the log has no index by worker, so this reads the tenant's events in
pages (v1; an index comes with the first large tenant).
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Engine, select

from evidence_api import db
from ledger.log import LoggedEvent, TransparencyLog

__all__ = ["LogScopes"]

_PAGE = 5000


class LogScopes:
    """Resolves scopes against one log and the service's permit table."""

    def __init__(self, log: TransparencyLog, engine: Engine) -> None:
        self._log, self._engine = log, engine

    def events(self, tenant: str, scope: dict[str, Any]) -> list[LoggedEvent]:
        """The events of ``scope`` for ``tenant`` in log order; for an area, fills in ``scope["permits"]``."""
        kind = scope["kind"]
        if kind == "permit":
            return self._log.permit_events(tenant, scope["permit"])
        if kind == "area":
            scope["permits"] = self.area_permits(tenant, scope["area"], scope["from"], scope["to"])
            rows = [r for p in scope["permits"] for r in self._log.permit_events(tenant, p)
                    if scope["from"] <= r.received_at < scope["to"]]
            return sorted(rows, key=lambda r: r.leaf_index)
        return self._worker_events(tenant, scope["worker"])

    def area_permits(self, tenant: str, area: str, start: str, end: str) -> list[str]:
        """Ids of ``tenant``'s permits of ``area`` whose planned time overlaps [start, end), ascending."""
        p = db.permits.c
        with self._engine.connect() as conn:
            ids = conn.execute(select(p.id).where(p.tenant == tenant, p.area == area, p.starts_at < end,
                                                  p.ends_at > start)).scalars().all()
        return sorted(set(ids))

    def _worker_events(self, tenant: str, worker: str) -> list[LoggedEvent]:
        found: list[LoggedEvent] = []
        cursor = -1
        while True:
            page = self._log.events_since(cursor, limit=_PAGE)
            if not page:
                return found
            found += [r for r in page if r.tenant == tenant and b'"worker"' in r.leaf
                      and orjson.loads(r.leaf)["subject"].get("worker") == worker]
            cursor = page[-1].leaf_index
