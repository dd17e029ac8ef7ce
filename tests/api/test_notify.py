"""Notification delivery to a real local HTTP server: the signed webhook (by the background sender), retries
with backoff after a failure, giving up after the last attempt, the WeCom robot format, and notify = none."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import select

from evidence_api import db
from evidence_api.services.notify import DeliveryError, Notification, Notifier, WebhookChannel
from ledger.sm import Signer, SM2PrivateKey
from tests.api.support import Api, bearer
from tests.helpers import TENANT, wait_until


@dataclass
class Receiver:
    """A local HTTP server that records each POST and answers from ``answers`` (then 200 ``{"errcode":0}``)."""

    url: str
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(state.answers.pop(0) if state.answers else 200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"errcode": 0, "errmsg": "ok"}')

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield state
    server.shutdown()
    server.server_close()


def _services(api: Api) -> Any:
    return api.client.app.state.services  # type: ignore[attr-defined]


def _setup(api: Api, url: str, notify: str = "webhook") -> None:
    """A tenant with ``notify`` going to ``url`` and one notification queued by the warning job."""
    resp = api.client.put("/v1/settings/rules", json={"overrides": {"notify": notify}, "webhook_url": url},
                          headers=bearer(api.admin))
    assert resp.status_code == 200, resp.text
    api.client.post("/v1/workers", json={"id": "w1", "name": "王五", "team": "一班"}, headers=bearer(api.admin))
    cert = {"id": "c1", "worker": "w1", "category": "1", "sub_type": "1.1", "number": "T-1", "holder_name": "王五",
            "issued_on": "2021-03-01", "review_due_on": "2027-03-01", "authority": "杭州市应急管理局"}
    assert api.client.post("/v1/certificates", json=cert, headers=bearer(api.admin)).status_code == 201
    api.set_plant_day("2027-02-22")
    resp = api.client.post("/v1/jobs/certificate-warnings", headers=bearer(api.admin))
    assert resp.json()["made"] == 1


def _row(api: Api) -> dict[str, Any]:
    with _services(api).engine.connect() as conn:
        return dict(conn.execute(select(db.notifications)).one()._mapping)


def test_webhook_delivered_signed_by_background_sender(api: Api, receiver: Receiver) -> None:
    _setup(api, receiver.url)
    wait_until(lambda: _row(api)["status"] == "sent" or None)
    headers, body = receiver.received[0]
    envelope = json.loads(body)
    assert (envelope["tenant"], envelope["topic"]) == (TENANT, "certificate.expiry_warning")
    assert envelope["body"]["days_before"] == 7 and envelope["body"]["certificate"] == "c1"
    key = _services(api).keys.get(TENANT, headers["x-tiezheng-key-id"])
    key.public.verify_b64(body, headers["x-tiezheng-signature"])  # raises if the signature is wrong
    assert _row(api)["attempts"] == 1


def test_webhook_retried_with_backoff_after_failure(api: Api, receiver: Receiver) -> None:
    _services(api).sender.close()  # drive the sender by hand
    receiver.answers = [500]
    _setup(api, receiver.url)
    notifier = _services(api).notifier
    assert notifier.send_pending_once() == 0
    row = _row(api)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert row["last_error"] == f"POST {receiver.url} answered HTTP 500"
    assert notifier.send_pending_once() == 0 and len(receiver.received) == 1  # not yet due: backoff
    assert notifier.send_pending_once(now=time.monotonic() + 6) == 1
    row = _row(api)
    assert (row["status"], row["attempts"]) == ("sent", 2) and row["sent_at"] is not None
    assert receiver.received[0][1] == receiver.received[1][1]  # the same notification, redelivered


def test_webhook_unreachable_marked_failed_after_last_attempt(api: Api) -> None:
    _services(api).sender.close()
    _setup(api, "http://127.0.0.1:9/hook")
    services = _services(api)
    notifier = Notifier(services.engine, services.org, {"webhook": WebhookChannel(timeout=1)}, max_attempts=2,
                        base_delay=0)
    assert notifier.send_pending_once() == 0
    assert _row(api)["status"] == "pending"
    assert notifier.send_pending_once() == 0
    row = _row(api)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert row["last_error"].startswith("POST http://127.0.0.1:9/hook failed: ConnectError")
    notifier.close()


def test_wecom_robot_gets_markdown(api: Api, receiver: Receiver) -> None:
    _services(api).sender.close()
    _setup(api, receiver.url, notify="wecom")
    assert _services(api).notifier.send_pending_once() == 1
    message = json.loads(receiver.received[0][1])
    assert message["msgtype"] == "markdown"
    assert message["markdown"]["content"].startswith("**certificate.expiry_warning**\n> certificate: c1")


def test_notify_none_marked_failed_without_sending(api: Api, receiver: Receiver) -> None:
    _services(api).sender.close()
    _setup(api, receiver.url, notify="none")
    assert _services(api).notifier.send_pending_once() == 0
    row = _row(api)
    assert (row["status"], row["attempts"], receiver.received) == ("failed", 1, [])
    assert row["last_error"] == "notifications are off for tenant 'acme-chem' (rules.notify = 'none')"


def test_webhook_without_a_url_refused_before_anything_is_signed() -> None:
    class Counting(Signer):
        calls = 0

        def sign_b64(self, message: bytes) -> str:
            Counting.calls += 1
            return super().sign_b64(message)

    channel = WebhookChannel(Counting.from_private_key(SM2PrivateKey.generate()), key_id="svc")
    try:
        for target in (None, ""):
            with pytest.raises(DeliveryError, match="no webhook_url is configured for the tenant"):
                channel.send(target, Notification(1, TENANT, "permit.approved", {"permit": "HW-1"}, "2026-12-01T00:00:00Z"))
    finally:
        channel.close()
    assert Counting.calls == 0
