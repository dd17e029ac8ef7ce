"""One typed, synchronous client for the evidence service's HTTP API (``/v1``, docs/formats.md).

Used by the demo, the benchmarks, the tests, and later the gateway outbox and the console. It speaks to a
server through an ``httpx.Client`` (a real one from ``ApiClient.connect``, or starlette's ``TestClient``,
which is one, to run in-process). Answers are frozen dataclasses (``ingest.records``); every refusal is one
``ApiError`` carrying the RFC 9457 problem; transport failures become ``ApiUnreachable``, translated here
once. Only idempotent calls are retried: reads, and event submissions and permit actions, which the server
deduplicates by ``event_id`` (a resubmitted event answers its first receipt, marked ``duplicate``).

>>> ApiError.from_problem("POST", "/v1/permits/HW-1/actions", 422, {
...     "type": "https://tiezheng.dev/problems/rule-violation", "title": "A safety rule refuses this action",
...     "detail": "gas test is 40 min old; test again", "rule": "gas.stale"})
ApiError('POST /v1/permits/HW-1/actions answered 422 (A safety rule refuses this action): gas test is 40 min old; test again [rule gas.stale]')
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import date
from types import TracebackType
from typing import Any, Self

import httpx
import orjson

from ingest import records as rec
from ingest.signing import Actor, attest_batch

__all__ = ["ApiClient", "ApiError", "ApiUnreachable", "ClientError", "tls_context"]

Body = Mapping[str, Any] | Sequence[Any] | bytes
_RETRY_STATUSES = frozenset({502, 503, 504})


def _present(body: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


_TLS: list[ssl.SSLContext] = []
_TLS_LOCK = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CAs, or ``SSL_CERT_FILE``/``SSL_CERT_DIR`` as set when first
    called), built once per process and shared by every ``ApiClient.connect``: building one reads the whole CA
    bundle (≈20 ms of CPU), which a client per thread or per call would otherwise pay each time, even for
    plain ``http://``. A context is safe to share between threads and connections."""
    with _TLS_LOCK:
        if not _TLS:
            _TLS.append(httpx.create_ssl_context())
        return _TLS[0]


class ClientError(Exception):
    """Base of the client's errors."""


class ApiUnreachable(ClientError):
    """The request did not get an answer (connection refused or reset, timeout); names the call and cause."""


class ApiError(ClientError):
    """The server refused the request; carries the status and the RFC 9457 problem (type, title, detail,
    and ``rule`` when a safety rule refused a permit action)."""

    def __init__(self, method: str, path: str, status: int, problem: Mapping[str, Any]) -> None:
        self.method, self.path, self.status, self.problem = method, path, status, problem
        self.type: str = str(problem.get("type", "about:blank"))
        self.title: str = str(problem.get("title", ""))
        self.detail: str = str(problem.get("detail", ""))
        self.rule: str | None = problem.get("rule")
        rule = f" [rule {self.rule}]" if self.rule else ""
        super().__init__(f"{method} {path} answered {status} ({self.title}): {self.detail}{rule}")

    @classmethod
    def from_problem(cls, method: str, path: str, status: int, problem: Mapping[str, Any]) -> ApiError:
        """The error for a problem-details body."""
        return cls(method, path, status, problem)

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        """The error for a non-2xx answer; a body that is no problem (a proxy's page) becomes the detail."""
        method, path = response.request.method, response.request.url.path
        try:
            problem = response.json()
        except ValueError:
            problem = None
        if not isinstance(problem, dict):
            problem = {"title": response.reason_phrase, "detail": response.text[:500] or "(empty body)"}
        return cls(method, path, response.status_code, problem)

    @property
    def slug(self) -> str:
        """The last part of the problem type, e.g. ``rule-violation``."""
        return self.type.rsplit("/", 1)[-1]


class ApiClient:
    """The API of one server, as one token (an admin, ingest or reader token of a tenant, or the bootstrap
    admin token). ``retries`` extra attempts for idempotent calls, ``backoff`` seconds doubling each time."""

    def __init__(self, http: httpx.Client, *, token: str | None = None, retries: int = 3,
                 backoff: float = 0.2, owns_http: bool = False) -> None:
        self.http, self.token, self._retries, self._backoff = http, token, retries, backoff
        self._owns_http = owns_http

    @classmethod
    def connect(cls, base_url: str, token: str | None = None, *, timeout: float = 30.0,
                **options: Any) -> ApiClient:
        """A client with its own connection pool to ``base_url`` (closed by ``close`` or ``with``). Its TLS
        settings are httpx's defaults, in one context per process (``tls_context``)."""
        http = httpx.Client(base_url=base_url, timeout=timeout, verify=tls_context())
        return cls(http, token=token, owns_http=True, **options)

    def with_token(self, token: str) -> ApiClient:
        """The same server and connections as another token (closing it leaves the connections open)."""
        return ApiClient(self.http, token=token, retries=self._retries, backoff=self._backoff)

    def close(self) -> None:
        """Close the connections if this client opened them."""
        if self._owns_http:
            self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- transport -------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, body: Body | None = None,
                params: Mapping[str, Any] | None = None, idempotent: bool = False) -> Any:
        """Send one request and return its JSON; raises ``ApiError`` for a refusal, ``ApiUnreachable`` when
        no answer came. Idempotent calls are retried on no answer and on 502/503/504."""
        return self._answer(method, path, body=body, params=params, idempotent=idempotent).json()

    def _answer(self, method: str, path: str, *, body: Body | None = None,
                params: Mapping[str, Any] | None = None, idempotent: bool = False) -> httpx.Response:
        """``request`` up to its successful response (retries and refusals included), unparsed."""
        attempts = 1 + (self._retries if idempotent else 0)
        for attempt in range(attempts):
            last = attempt == attempts - 1
            try:
                response = self._send(method, path, body, params)
            except ApiUnreachable:
                if last:
                    raise
            else:
                if response.is_success:
                    return response
                if last or response.status_code not in _RETRY_STATUSES:
                    raise ApiError.from_response(response)
            time.sleep(self._backoff * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self.request("GET", path, params=params, idempotent=True)

    def _send(self, method: str, path: str, body: Body | None,
              params: Mapping[str, Any] | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        content = None
        if body is not None:
            content = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = "application/json"
        query = {k: v.isoformat() if isinstance(v, date) else v for k, v in _present(params or {}).items()}
        try:
            return self.http.request(method, path, content=content, params=query, headers=headers)
        except httpx.TransportError as exc:
            raise ApiUnreachable(f"{method} {path}: no answer from {self.http.base_url} ({exc!r}); "
                                 "is the server running and reachable?") from exc

    # -- tenants, tokens, keys -------------------------------------------------------------------
    def create_tenant(self, tenant: str, name: str) -> rec.Tenant:
        """Create a tenant (the bootstrap admin token)."""
        return rec.Tenant.from_json(self.request("POST", "/v1/tenants", body={"id": tenant, "name": name}))

    def issue_token(self, tenant: str, role: str, label: str) -> rec.IssuedToken:
        """Issue a token of ``role`` (admin, ingest, reader) for ``tenant``."""
        body = {"tenant": tenant, "role": role, "label": label}
        return rec.IssuedToken.from_json(self.request("POST", "/v1/tokens", body=body))

    def register_key(self, tenant: str, actor: Actor) -> rec.RegisteredKey:
        """Register ``actor``'s public key under its key id (only the public key is sent)."""
        body = {"tenant": tenant, "key_id": actor.key_id, "actor_type": actor.type, "actor_id": actor.id,
                "public_key_pem": actor.signer.public.to_pem()}
        return rec.RegisteredKey.from_json(self.request("POST", "/v1/keys", body=body))

    # -- organisation ----------------------------------------------------------------------------
    def rules(self) -> rec.Rules:
        """The tenant's effective rules and stored overrides."""
        return rec.Rules.from_json(self._get("/v1/settings/rules"))

    def set_rules(self, overrides: Mapping[str, Any], *, webhook_url: str | None = None) -> rec.Rules:
        """Replace the tenant's rule overrides (and its webhook)."""
        body = {"overrides": overrides} | ({"webhook_url": webhook_url} if webhook_url else {})
        return rec.Rules.from_json(self.request("PUT", "/v1/settings/rules", body=body))

    def create_site(self, site: str, name: str) -> rec.Site:
        """Register a site."""
        return rec.Site.from_json(self.request("POST", "/v1/sites", body={"id": site, "name": name}))

    def sites(self) -> list[rec.Site]:
        """The tenant's sites."""
        return [rec.Site.from_json(s) for s in self._get("/v1/sites")]

    def create_area(self, area: str, *, site: str, name: str, geofence: Mapping[str, Any]) -> rec.Area:
        """Register an area with its geofence; the answer carries its QR token (shown only here)."""
        body = {"id": area, "site": site, "name": name, "geofence": geofence}
        return rec.Area.from_json(self.request("POST", "/v1/areas", body=body))

    def areas(self, *, site: str | None = None) -> list[rec.Area]:
        """The tenant's areas, optionally of one site."""
        return [rec.Area.from_json(a) for a in self._get("/v1/areas", {"site": site})]

    def create_contractor(self, contractor: str, name: str) -> rec.Contractor:
        """Register a contractor company."""
        body = {"id": contractor, "name": name}
        return rec.Contractor.from_json(self.request("POST", "/v1/contractors", body=body))

    def create_user(self, actor: Actor, *, name: str, roles: Sequence[str],
                    contractor: str | None = None) -> rec.User:
        """Register the user ``actor.id`` with ``roles`` and the actor's public key."""
        body = {"id": actor.id, "name": name, "roles": list(roles), "key_id": actor.key_id,
                "public_key_pem": actor.signer.public.to_pem(), "contractor": contractor}
        return rec.User.from_json(self.request("POST", "/v1/users", body=_present(body)))

    def users(self) -> list[rec.User]:
        """The tenant's users."""
        return [rec.User.from_json(u) for u in self._get("/v1/users")]

    def create_worker(self, worker: str, *, name: str, team: str, contractor: str | None = None,
                      user_id: str | None = None) -> rec.Worker:
        """Register a worker."""
        body = {"id": worker, "name": name, "team": team, "contractor": contractor, "user_id": user_id}
        return rec.Worker.from_json(self.request("POST", "/v1/workers", body=_present(body)))

    def workers(self, *, team: str | None = None, contractor: str | None = None) -> list[rec.Worker]:
        """The tenant's workers, optionally of one team or contractor."""
        params = {"team": team, "contractor": contractor}
        return [rec.Worker.from_json(w) for w in self._get("/v1/workers", params)]

    def worker(self, worker: str) -> rec.Worker:
        """One worker with their violations."""
        return rec.Worker.from_json(self._get(f"/v1/workers/{worker}"))

    def create_device(self, actor: Actor, *, kind: str, area: str | None = None) -> rec.Device:
        """Register the device ``actor.id`` (detector, camera, phone) with the actor's public key."""
        body = {"id": actor.id, "kind": kind, "key_id": actor.key_id, "area": area,
                "public_key_pem": actor.signer.public.to_pem()}
        return rec.Device.from_json(self.request("POST", "/v1/devices", body=_present(body)))

    def create_detector(self, detector_id: str, *, area: str | None = None) -> rec.Device:
        """Register a detector whose readings a gateway relays (it signs nothing, so it has no key): the id
        its readings name (``gateway bind --detector``)."""
        body = {"id": detector_id, "kind": "detector", "area": area}
        return rec.Device.from_json(self.request("POST", "/v1/devices", body=_present(body)))

    # -- evidence events -------------------------------------------------------------------------
    def submit(self, items: Sequence[Mapping[str, Any]], *, attestation: Mapping[str, Any] | None = None
               ) -> tuple[rec.Receipt, ...]:
        """Submit intake items (each signed, or all covered by ``attestation``); receipts in their order."""
        body = {"events": list(items)} | ({"attestation": attestation} if attestation is not None else {})
        return self.submit_encoded(orjson.dumps(body))

    def submit_attested(self, actor: Actor, tenant: str,
                        items: Sequence[Mapping[str, Any]]) -> tuple[rec.Receipt, ...]:
        """Submit unsigned ``items`` of ``actor`` under one attestation it signs (a detector's readings)."""
        return self.submit(items, attestation=attest_batch(actor, tenant, [dict(i) for i in items]))

    def submit_encoded(self, body: bytes) -> tuple[rec.Receipt, ...]:
        """Submit an already serialised ``POST /v1/events`` body (benchmarks build theirs ahead of time).
        The answer (one receipt per event) is parsed with orjson: a gateway or a benchmark spends its CPU here."""
        answer = orjson.loads(self._answer("POST", "/v1/events", body=body, idempotent=True).content)
        return rec.Receipt.all_from_json(answer["receipts"])

    def media_event(self, media_id: str, item: Mapping[str, Any]) -> tuple[rec.Receipt, ...]:
        """Log the signed ``media.stored`` / ``media.keyframe`` item of stored media ``media_id`` (retried safely:
        the server deduplicates by event id). Upload the bytes first (``ingest.media.tus``)."""
        answer = self.request("POST", f"/v1/media/{media_id}/event", body=item, idempotent=True)
        return tuple(rec.Receipt.from_json(r) for r in answer["receipts"])

    def bundle(self, event_id: str) -> rec.Bundle:
        """The offline-verifiable bundle of one logged event."""
        return rec.Bundle(event_id, self._get(f"/v1/events/{event_id}/bundle"))

    # -- evidence packs --------------------------------------------------------------------------
    def create_pack(self, scope: Mapping[str, Any]) -> rec.PackStatus:
        """Ask for the evidence pack of ``scope`` (built now when small, else in the background)."""
        return rec.PackStatus.from_json(self.request("POST", "/v1/evidence-packs", body={"scope": dict(scope)}))

    def pack_status(self, pack_id: str) -> rec.PackStatus:
        """A pack's status and progress."""
        return rec.PackStatus.from_json(self._get(f"/v1/evidence-packs/{pack_id}"))

    def download_pack(self, pack_id: str) -> bytes:
        """The zip of a ready pack."""
        response = self._send("GET", f"/v1/evidence-packs/{pack_id}/zip", None, None)
        if not response.is_success:
            raise ApiError.from_response(response)
        return response.content

    # -- permits ---------------------------------------------------------------------------------
    def draft(self, item: Mapping[str, Any] | bytes) -> rec.PermitAnswer:
        """Create a permit from an applicant's signed ``permit.drafted`` item."""
        return rec.PermitAnswer.from_json(self.request("POST", "/v1/permits", body=item, idempotent=True))

    def act(self, permit: str, item: Mapping[str, Any] | bytes) -> rec.PermitAnswer:
        """Apply a signed action item to ``permit``; a refusal is an ``ApiError`` (409 state, 422 rule)."""
        answer = self.request("POST", f"/v1/permits/{permit}/actions", body=item, idempotent=True)
        return rec.PermitAnswer.from_json(answer)

    def send_action(self, item: Mapping[str, Any]) -> rec.PermitAnswer:
        """``draft`` or ``act``, chosen by the item's kind and ``subject.permit``."""
        event = item["event"]
        if event["kind"] == "permit.drafted":
            return self.draft(item)
        return self.act(event["subject"]["permit"], item)

    def permit(self, permit: str) -> rec.Permit:
        """The permit's current document."""
        return rec.Permit.from_json(self._get(f"/v1/permits/{permit}"))

    def permits(self, *, state: str | None = None, area: str | None = None, work_type: str | None = None
                ) -> list[rec.Permit]:
        """The tenant's permits, filtered by state, area and work type."""
        params = {"state": state, "area": area, "type": work_type}
        return [rec.Permit.from_json(p) for p in self._get("/v1/permits", params)]

    def timeline(self, permit: str) -> list[rec.TimelineEntry]:
        """Every logged event of the permit in log order, with its proof status."""
        entries = self._get(f"/v1/permits/{permit}/timeline")
        return [rec.TimelineEntry.from_json(e) for e in entries]

    # -- certificates ----------------------------------------------------------------------------
    def register_certificate(self, *, worker: str, sub_type: str, number: str, holder_name: str,
                             issued_on: date, authority: str, expires_on: date | None = None,
                             review_due_on: date | None = None, certificate: str | None = None
                             ) -> rec.Certificate:
        """Register a worker's certificate; its category is the sub-type's first part (``2.1`` → ``2``), and
        the server derives expiry and review dates that are not given."""
        body = {"id": certificate, "worker": worker, "category": sub_type.split(".")[0], "sub_type": sub_type,
                "number": number, "holder_name": holder_name, "issued_on": issued_on.isoformat(),
                "authority": authority, "expires_on": expires_on and expires_on.isoformat(),
                "review_due_on": review_due_on and review_due_on.isoformat()}
        answer = self.request("POST", "/v1/certificates", body=_present(body))
        return rec.Certificate.from_json(answer)

    def certificates(self, *, state: str | None = None, team: str | None = None, sub_type: str | None = None,
                     work_type: str | None = None, on: date | None = None) -> list[rec.Certificate]:
        """The tenant's certificates with their state on ``on``, filtered."""
        params = {"state": state, "team": team, "sub_type": sub_type, "work_type": work_type, "on": on}
        return [rec.Certificate.from_json(c) for c in self._get("/v1/certificates", params)]

    # -- the log ---------------------------------------------------------------------------------
    def checkpoint(self) -> rec.Checkpoint:
        """The newest signed checkpoint."""
        return rec.Checkpoint.from_json(self._get("/v1/log/checkpoint"))

    def public_key(self) -> rec.LogPublicKey:
        """The log's public key (pin it out of band before trusting it)."""
        return rec.LogPublicKey.from_json(self._get("/v1/log/public-key"))

    def inclusion_proof(self, leaf_index: int, tree_size: int) -> rec.InclusionProof:
        """The inclusion proof of ``leaf_index`` in the tree of ``tree_size``."""
        params = {"leaf_index": leaf_index, "tree_size": tree_size}
        return rec.InclusionProof.from_json(self._get("/v1/log/proofs/inclusion", params))

    def consistency_proof(self, first: int, second: int) -> rec.ConsistencyProof:
        """The consistency proof between the trees of sizes ``first`` and ``second``."""
        params = {"first": first, "second": second}
        answer = self._get("/v1/log/proofs/consistency", params)
        return rec.ConsistencyProof.from_json(answer)

    def anchors(self, tree_size: int) -> rec.Anchors:
        """The anchor receipts covering ``tree_size``."""
        return rec.Anchors.from_json(self._get("/v1/log/anchors", {"tree_size": tree_size}))
