"""What the evidence service's HTTP API answers, as frozen dataclasses (``ApiClient`` builds them).

Each record names the fields a caller relies on; the few open-ended documents (a permit, a bundle, an
anchor receipt) keep the JSON as sent in ``document`` so a field added by the server is not lost. Hashes
are bytes (the API sends them as lower-case hex), dates are ``datetime.date``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

__all__ = [
    "Anchors", "Area", "Bundle", "Certificate", "Checkpoint", "ConsistencyProof", "Contractor", "Device",
    "InclusionProof", "IssuedToken", "LogPublicKey", "PackStatus", "Permit", "PermitAnswer", "Receipt", "RegisteredKey",
    "Rules", "Site", "Tenant", "TimelineEntry", "User", "Worker",
]

Json = Mapping[str, Any]


def _hashes(values: list[str]) -> tuple[bytes, ...]:
    return tuple(bytes.fromhex(v) for v in values)


@dataclass(frozen=True)
class Tenant:
    """A tenant (an enterprise)."""

    id: str
    name: str

    @classmethod
    def from_json(cls, data: Json) -> Tenant:
        """From ``POST /v1/tenants``."""
        return cls(data["id"], data["name"])


@dataclass(frozen=True)
class IssuedToken:
    """A bearer token for ``tenant`` with ``role``; the secret is shown only once."""

    tenant: str
    role: str
    token: str

    @classmethod
    def from_json(cls, data: Json) -> IssuedToken:
        """From ``POST /v1/tokens``."""
        return cls(data["tenant"], data["role"], data["token"])


@dataclass(frozen=True)
class RegisteredKey:
    """An actor's registered SM2 public key."""

    tenant: str
    key_id: str
    actor_type: str
    actor_id: str
    fingerprint: str

    @classmethod
    def from_json(cls, data: Json) -> RegisteredKey:
        """From ``POST /v1/keys``."""
        return cls(data["tenant"], data["key_id"], data["actor_type"], data["actor_id"], data["fingerprint"])


@dataclass(frozen=True)
class Site:
    """A site (a plant)."""

    id: str
    name: str

    @classmethod
    def from_json(cls, data: Json) -> Site:
        """From ``POST/GET /v1/sites``."""
        return cls(data["id"], data["name"])


@dataclass(frozen=True)
class Area:
    """An area of a site with its geofence; ``qr_token`` only in the answer that created it."""

    id: str
    site: str
    name: str
    geofence: Json
    qr_token: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Area:
        """From ``POST/GET /v1/areas``."""
        return cls(data["id"], data["site"], data["name"], data.get("geofence") or {}, data.get("qr_token"))


@dataclass(frozen=True)
class Contractor:
    """A contractor company."""

    id: str
    name: str

    @classmethod
    def from_json(cls, data: Json) -> Contractor:
        """From ``POST /v1/contractors``."""
        return cls(data["id"], data["name"])


def _roles(value: str | list[str]) -> tuple[str, ...]:
    return tuple(value.split(",")) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True)
class User:
    """A person who signs permit actions, with their roles."""

    id: str
    name: str
    roles: tuple[str, ...]
    contractor: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> User:
        """From ``POST/GET /v1/users``."""
        return cls(data["id"], data["name"], _roles(data["roles"]), data.get("contractor"))


@dataclass(frozen=True)
class Worker:
    """A worker (own staff or a contractor's); ``violations`` only from ``GET /v1/workers/{id}``."""

    id: str
    name: str
    team: str
    contractor: str | None = None
    user_id: str | None = None
    violations: tuple[Json, ...] = ()

    @classmethod
    def from_json(cls, data: Json) -> Worker:
        """From ``POST/GET /v1/workers``."""
        return cls(data["id"], data["name"], data["team"], data.get("contractor"), data.get("user_id"),
                   tuple(data.get("violations") or ()))


@dataclass(frozen=True)
class Device:
    """A detector, camera or phone with a registered key."""

    id: str
    kind: str
    area: str | None = None

    @classmethod
    def from_json(cls, data: Json) -> Device:
        """From ``POST /v1/devices``."""
        return cls(data["id"], data["kind"], data.get("area"))


@dataclass(frozen=True)
class Rules:
    """The tenant's effective rules and the overrides it stored."""

    rules: Json
    overrides: Json

    @classmethod
    def from_json(cls, data: Json) -> Rules:
        """From ``GET/PUT /v1/settings/rules``."""
        return cls(data["rules"], data["overrides"])


@dataclass(frozen=True, slots=True)  # slots: a client builds one per event it sends
class Receipt:
    """The event ``event_id`` is durably in the log at ``leaf_index``; ``duplicate`` on a resubmission."""

    event_id: str
    leaf_index: int
    leaf_hash: bytes
    received_at: str
    duplicate: bool

    @classmethod
    def from_json(cls, data: Json) -> Receipt:
        """From a ``receipts`` entry."""
        return cls(data["event_id"], data["leaf_index"], bytes.fromhex(data["leaf_hash"]), data["received_at"],
                   bool(data.get("duplicate", False)))

    @classmethod
    def all_from_json(cls, entries: Sequence[Json]) -> tuple[Receipt, ...]:
        """``from_json`` of every entry of a ``receipts`` list, in order (one loop, no call per entry)."""
        fromhex = bytes.fromhex
        return tuple([cls(r["event_id"], r["leaf_index"], fromhex(r["leaf_hash"]), r["received_at"],
                          bool(r.get("duplicate", False))) for r in entries])


@dataclass(frozen=True)
class Permit:
    """A permit's current document (content, approvals, gas tests, guardian, history ...) in ``document``."""

    id: str
    state: str
    version: int
    document: Json

    @classmethod
    def from_json(cls, data: Json) -> Permit:
        """From ``GET /v1/permits/{id}`` or a permit action's answer."""
        return cls(data["id"], data["state"], data["version"], data)


@dataclass(frozen=True)
class PermitAnswer:
    """What a permit action answers: the permit after it, and the receipts (the action's first)."""

    permit: Permit
    receipts: tuple[Receipt, ...]

    @classmethod
    def from_json(cls, data: Json) -> PermitAnswer:
        """From ``POST /v1/permits`` or ``POST /v1/permits/{id}/actions``."""
        return cls(Permit.from_json(data["permit"]), tuple(Receipt.from_json(r) for r in data["receipts"]))


@dataclass(frozen=True)
class TimelineEntry:
    """One logged event of a permit, with its proof status (logged, checkpointed, anchored)."""

    event_id: str
    kind: str
    leaf_index: int
    actor: Json
    prev: str | None
    proof: str
    document: Json

    @classmethod
    def from_json(cls, data: Json) -> TimelineEntry:
        """From a ``GET /v1/permits/{id}/timeline`` entry."""
        return cls(data["event_id"], data["kind"], data["leaf_index"], data["actor"], data.get("prev"),
                   data["proof"], data)


@dataclass(frozen=True)
class Certificate:
    """A special-operations certificate (特种作业操作证) with its state on the day asked."""

    id: str
    worker: str
    sub_type: str
    number: str
    holder_name: str
    expires_on: date
    review_due_on: date
    state: str
    document: Json

    @classmethod
    def from_json(cls, data: Json) -> Certificate:
        """From ``POST/GET /v1/certificates``."""
        return cls(data["id"], data["worker"], data["sub_type"], data["number"], data["holder_name"],
                   date.fromisoformat(data["expires_on"]), date.fromisoformat(data["review_due_on"]),
                   data["state"], data)


@dataclass(frozen=True)
class Bundle:
    """An event's offline-verifiable bundle (``tiezheng.bundle/v1``), kept exactly as sent."""

    event_id: str
    document: Json


@dataclass(frozen=True)
class Checkpoint:
    """The newest signed tree head (C2SP checkpoint ``text``)."""

    origin: str
    tree_size: int
    root_hash: bytes
    text: str

    @classmethod
    def from_json(cls, data: Json) -> Checkpoint:
        """From ``GET /v1/log/checkpoint``."""
        return cls(data["origin"], data["tree_size"], bytes.fromhex(data["root_hash"]), data["text"])


@dataclass(frozen=True)
class LogPublicKey:
    """The log's SM2 public key."""

    origin: str
    public_key_pem: str
    fingerprint: str

    @classmethod
    def from_json(cls, data: Json) -> LogPublicKey:
        """From ``GET /v1/log/public-key``."""
        return cls(data["origin"], data["public_key_pem"], data["fingerprint"])


@dataclass(frozen=True)
class InclusionProof:
    """RFC 9162 inclusion proof of ``leaf_index`` in the tree of ``tree_size``."""

    leaf_index: int
    tree_size: int
    leaf_hash: bytes
    root_hash: bytes
    proof: tuple[bytes, ...]

    @classmethod
    def from_json(cls, data: Json) -> InclusionProof:
        """From ``GET /v1/log/proofs/inclusion``."""
        return cls(data["leaf_index"], data["tree_size"], bytes.fromhex(data["leaf_hash"]),
                   bytes.fromhex(data["root_hash"]), _hashes(data["proof"]))


@dataclass(frozen=True)
class ConsistencyProof:
    """RFC 9162 consistency proof between the trees of ``first`` and ``second``."""

    first: int
    second: int
    first_root: bytes
    second_root: bytes
    proof: tuple[bytes, ...]

    @classmethod
    def from_json(cls, data: Json) -> ConsistencyProof:
        """From ``GET /v1/log/proofs/consistency``."""
        return cls(data["first"], data["second"], bytes.fromhex(data["first_root"]),
                   bytes.fromhex(data["second_root"]), _hashes(data["proof"]))


@dataclass(frozen=True)
class Anchors:
    """Anchor receipts covering ``tree_size``, one per backend (empty until one is anchored)."""

    tree_size: int
    anchors: tuple[Json, ...]

    @classmethod
    def from_json(cls, data: Json) -> Anchors:
        """From ``GET /v1/log/anchors``."""
        return cls(data["tree_size"], tuple(data["anchors"]))


@dataclass(frozen=True)
class PackStatus:
    """An evidence pack's status (``building``, ``ready``, ``failed``), progress and, once ready, digests."""

    id: str
    scope: Json
    status: str
    stage: str
    done: int
    total: int
    size: int | None
    sm3: str | None
    evidence_digest: str | None
    assurance: str | None
    error: str | None

    @classmethod
    def from_json(cls, body: Json) -> PackStatus:
        """From ``GET /v1/evidence-packs/{id}``."""
        return cls(body["id"], body["scope"], body["status"], body["stage"], body["done"], body["total"],
                   body.get("size"), body.get("sm3"), body.get("evidence_digest"), body.get("assurance"),
                   body.get("error"))
