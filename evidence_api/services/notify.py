"""Notifications: queued in the ``notifications`` table in the same transaction as the event that causes
them, then delivered by a background sender through the tenant's channel.

Queuing inside the event's transaction means an alarm is never lost between "logged" and "sent"; delivery
is at least once.
"""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import Connection, insert

from evidence_api import db
from ledger.log import utc_now

__all__ = ["enqueue"]


def enqueue(conn: Connection, tenant: str, topic: str, body: dict[str, Any]) -> None:
    """Queue a notification on ``conn`` (inside the caller's transaction); ``topic`` like ``permit.suspended``."""
    conn.execute(insert(db.notifications).values(
        tenant=tenant, topic=topic, body=orjson.dumps(body).decode(), status="pending", attempts=0,
        created_at=utc_now()))
