"""Notifications: queued in the ``notifications`` table by the projector, in the same transaction as it
folds the event that causes them, then delivered by a background sender (``Notifier``) through the
tenant's channel, chosen by ``rules.notify``: a signed JSON webhook, or a 企业微信 (WeCom) group robot.

Queuing with the projection's cursor means an alarm is never lost between "logged" and "sent" (after a
crash the projector folds the event again and queues it then); delivery is at least once (a receiver
deduplicates by the ``id`` of the notification).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
import orjson
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from evidence_api import db
from evidence_api.services.errors import ServiceError
from evidence_api.services.people import Organisation
from ledger.canonical import canonical
from ledger.clock import Clock
from ledger.sm import Signer

__all__ = ["Channel", "DeliveryError", "Notification", "Notifier", "SmsChannel", "WeComChannel", "WebhookChannel",
           "enqueue"]

_log = logging.getLogger(__name__)


def enqueue(conn: Connection, tenant: str, topic: str, body: dict[str, Any], *, created_at: str) -> None:
    """Queue a notification on ``conn`` (inside the caller's transaction); ``topic`` like ``permit.suspended``,
    ``created_at`` the RFC 3339 time of the event that causes it."""
    conn.execute(insert(db.notifications).values(
        tenant=tenant, topic=topic, body=orjson.dumps(body).decode(), status="pending", attempts=0,
        created_at=created_at))


_n = db.notifications.c
_SENT = update(db.notifications).where(_n.id == bindparam("b_id")).values(
    status="sent", attempts=bindparam("b_attempts"), sent_at=bindparam("b_at"))
_FAILED = update(db.notifications).where(_n.id == bindparam("b_id")).values(
    status=bindparam("b_status"), attempts=bindparam("b_attempts"), last_error=bindparam("b_error"))


@dataclass
class _Round:
    """What one round of ``Notifier.send_pending_once`` did (saved at its end) and the webhooks it read."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    urls: dict[str, str | None] = field(default_factory=dict)


class DeliveryError(ServiceError):
    """A notification could not be delivered this time; the message says why (it is retried)."""


class _Off(DeliveryError):
    """The tenant turned notifications off: not retried."""


@dataclass(frozen=True)
class Notification:
    """One queued notification."""

    id: int
    tenant: str
    topic: str
    body: dict[str, Any]
    created_at: str

    def envelope(self) -> dict[str, Any]:
        """What a webhook receives: the notification with its id (for deduplication), tenant and topic."""
        return {"id": self.id, "tenant": self.tenant, "topic": self.topic, "created_at": self.created_at,
                "body": self.body}


class Channel(Protocol):
    """A way to deliver notifications."""

    def send(self, target: str | None, notification: Notification) -> None:
        """Deliver ``notification`` to ``target`` (the tenant's configured address; None if it has none);
        raises ``DeliveryError`` when it could not, so the notifier retries."""
        ...


class SmsChannel(Channel, Protocol):
    """An SMS gateway, for sites where a phone message is the only alarm that is read.

    No vendor is built in: an operator implements ``send`` over their provider's API (e.g. 阿里云短信 or
    腾讯云短信 with a registered signature and template), with ``target`` a comma-separated list of phone
    numbers, and translates every transport error to ``DeliveryError``. Texts must fit the provider's template,
    so render only the topic, the certificate or permit and the due date, never a whole payload.
    """


def _post(client: httpx.Client, url: str | None, content: bytes, headers: Mapping[str, str]) -> httpx.Response:
    """POST ``content`` to ``url``; every failure (no URL, transport, non-2xx) becomes ``DeliveryError``."""
    if not url:
        raise DeliveryError("no webhook_url is configured for the tenant (PUT /v1/settings/rules)")
    try:
        resp = client.post(url, content=content, headers=headers)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"POST {url} failed: {type(exc).__name__}: {exc}") from exc
    if not resp.is_success:
        raise DeliveryError(f"POST {url} answered HTTP {resp.status_code}")
    return resp


class WebhookChannel:
    """POSTs the notification's envelope as canonical JSON (RFC 8785) to the tenant's ``webhook_url``.

    With a ``signer`` the request carries ``X-Tiezheng-Signature``, the base64 SM2 signature over the exact
    body, and ``X-Tiezheng-Key-Id``, the service key that checks it (registered in the tenant's actor keys).
    """

    def __init__(self, signer: Signer | None = None, *, key_id: str = "", timeout: float = 10.0) -> None:
        self._signer, self._key_id = signer, key_id
        self._client = httpx.Client(timeout=timeout)

    def send(self, target: str | None, notification: Notification) -> None:
        """POST the signed envelope to ``target``; raises ``DeliveryError``."""
        if not target:  # refused before anything is signed (an SM2 signature for nothing, on every retry)
            _post(self._client, target, b"", {})
        content = canonical(notification.envelope())
        headers = {"Content-Type": "application/json", "X-Tiezheng-Topic": notification.topic,
                   "X-Tiezheng-Delivery": str(notification.id)}
        if self._signer is not None:
            headers |= {"X-Tiezheng-Signature": self._signer.sign_b64(content), "X-Tiezheng-Key-Id": self._key_id}
        _post(self._client, target, content, headers)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class WeComChannel:
    """Posts a markdown message to a 企业微信 group robot (``target`` is its webhook URL with the key).

    The robot answers HTTP 200 with ``{"errcode": 0}`` on success; any other errcode is a failure.
    """

    MAX_BYTES = 4096  # the robot's limit for markdown content

    def __init__(self, *, timeout: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout)

    @classmethod
    def markdown(cls, notification: Notification) -> str:
        """The message: the topic as a heading, then one quoted line per field of the body."""
        lines = [f"**{notification.topic}**"] + [f"> {k}: {v}" for k, v in notification.body.items()]
        text = "\n".join(lines)
        while len(text.encode()) > cls.MAX_BYTES:
            text = text[: len(text) * 9 // 10]
        return text

    def send(self, target: str | None, notification: Notification) -> None:
        """Post the markdown message; raises ``DeliveryError``."""
        body = {"msgtype": "markdown", "markdown": {"content": self.markdown(notification)}}
        resp = _post(self._client, target, orjson.dumps(body), {"Content-Type": "application/json"})
        try:
            answer = resp.json()
        except ValueError as exc:
            raise DeliveryError(f"WeCom robot answer is not JSON: {resp.text[:100]!r}") from exc
        if not isinstance(answer, dict) or answer.get("errcode") != 0:
            raise DeliveryError(f"WeCom robot refused the message: {answer!r}")

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class Notifier:
    """Delivers pending notifications through each tenant's channel, with retries and exponential backoff.

    ``channels`` maps a ``rules.notify`` name to its channel (a tenant with ``"none"`` has its notifications
    marked failed, saying so). A failed attempt is retried after ``base_delay * 2**(attempts-1)`` seconds
    (at most ``max_delay``) until ``max_attempts``, then the row is marked ``failed`` with the last error.
    Retry times are kept in memory: after a restart, pending rows are tried at once.
    """

    def __init__(self, engine: Engine, org: Organisation, channels: Mapping[str, Channel], *,
                 max_attempts: int = 6, base_delay: float = 5.0, max_delay: float = 600.0, batch: int = 100,
                 clock: Clock | None = None) -> None:
        self._engine, self._org, self._channels = engine, org, dict(channels)
        self._clock = clock or Clock()
        self._max_attempts, self._base, self._max_delay = max_attempts, base_delay, max_delay
        self._batch = batch
        self._retry_at: dict[int, float] = {}
        self._lock = threading.Lock()

    def send_pending_once(self, *, now: float | None = None) -> int:
        """Try every pending notification that is due at ``now`` (``time.monotonic()`` by default), oldest
        first, up to ``batch``; returns how many were delivered. The outcomes of one round are saved together,
        in one transaction at its end (also when a delivery raised something unexpected): a write transaction
        per notification took the database's write lock from the log writer once per attempt. A crash within
        a round may send its delivered ones again (delivery is at least once; receivers deduplicate by ``id``)."""
        n = db.notifications.c
        with self._lock:
            moment = time.monotonic() if now is None else now
            with self._engine.connect() as conn:
                rows = conn.execute(select(db.notifications).where(n.status == "pending").order_by(n.id)).all()
            due = [r for r in rows if self._retry_at.get(r.id, 0.0) <= moment][: self._batch]
            round_ = _Round()
            try:
                return sum(self._attempt(dict(r._mapping), moment, round_) for r in due)
            finally:
                self._save(round_)

    def _attempt(self, row: Mapping[str, Any], moment: float, round_: _Round) -> bool:
        notification = Notification(row["id"], row["tenant"], row["topic"], orjson.loads(row["body"]), row["created_at"])
        attempts = row["attempts"] + 1
        try:
            self._deliver(notification, round_)
        except DeliveryError as exc:
            final = attempts >= self._max_attempts or isinstance(exc, _Off)
            self._retry_at[notification.id] = moment + min(self._max_delay, self._base * 2 ** (attempts - 1))
            round_.failed.append({"b_id": notification.id, "b_status": "failed" if final else "pending",
                                  "b_attempts": attempts, "b_error": str(exc)})
            level = logging.INFO if isinstance(exc, _Off) else logging.WARNING  # off by the tenant's choice
            _log.log(level, "notification %d attempt %d failed: %s", notification.id, attempts, exc)
            return False
        self._retry_at.pop(notification.id, None)
        round_.sent.append({"b_id": notification.id, "b_attempts": attempts, "b_at": self._clock.stamp()})
        return True

    def _deliver(self, notification: Notification, round_: _Round) -> None:
        choice = self._org.rules(notification.tenant).notify
        if choice == "none":
            raise _Off(f"notifications are off for tenant {notification.tenant!r} (rules.notify = 'none')")
        channel = self._channels.get(choice)
        if channel is None:
            raise DeliveryError(f"no channel {choice!r} for tenant {notification.tenant!r} (rules.notify)")
        if notification.tenant not in round_.urls:  # read once per tenant and round
            round_.urls[notification.tenant] = self._org.webhook_url(notification.tenant)
        channel.send(round_.urls[notification.tenant], notification)

    def _save(self, round_: _Round) -> None:
        if not round_.sent and not round_.failed:
            return
        with self._engine.begin() as conn:
            for statement, rows in ((_SENT, round_.sent), (_FAILED, round_.failed)):
                if rows:
                    conn.execute(statement, rows)

    def close(self) -> None:
        """Close the channels that hold connections (stop the thread running ``send_pending_once`` first)."""
        for channel in self._channels.values():
            close = getattr(channel, "close", None)
            if callable(close):
                close()
