"""The evidence event: claim, signatures (single or batch attestation), payload commitment, leaf bytes.

See docs/formats.md. The actor signs the *claim* (the event without the server-assigned fields
``received_at``, ``prev``, ``attestation`` and without ``signature``); the server adds its fields and the
leaf bytes are the RFC 8785 canonical form of the whole event.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from ledger.canonical import canonical
from ledger.errors import CommitmentMismatch, InvalidSignature, MalformedInput
from ledger.ids import check_id
from ledger.sm import SM2PublicKey, sm3

__all__ = [
    "SERVER_FIELDS",
    "LeafTemplate",
    "attestation_digest",
    "check_attestation",
    "check_claim",
    "check_commitment",
    "claim_fast_safe",
    "claim_hash",
    "claim_of",
    "clock_flags",
    "leaf_parts",
    "leaf_template",
    "parse_rfc3339",
    "payload_commitment",
    "reference_check_claim",
    "verify_event_signature",
]

SERVER_FIELDS = ("received_at", "prev", "attestation")
_CLAIM_REQUIRED = ("v", "event_id", "tenant", "kind", "subject", "actor", "occurred_at", "payload_commitment")
_CLAIM_OPTIONAL = ("location", "signature")
_KIND = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_HEX32 = re.compile(r"[0-9a-f]{64}")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")
_SUBJECT_KEYS = {"permit", "certificate", "worker", "media"}
_ACTOR_TYPES = {"user", "device", "service"}
_SALT_BYTES = 16


def claim_of(event: Mapping[str, Any]) -> dict[str, Any]:
    """The part of ``event`` the actor signs: without server fields and without ``signature``."""
    return {k: v for k, v in event.items() if k not in SERVER_FIELDS and k != "signature"}


def claim_hash(claim: Mapping[str, Any], *, known_fast: bool = False) -> bytes:
    """SM3 of the canonical claim: what a batch attestation lists (``known_fast`` as in ``canonical``)."""
    return sm3(canonical(claim, known_fast=known_fast))


def parse_rfc3339(value: object, field: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset; raises ``MalformedInput`` naming ``field``."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise MalformedInput(f"{field} must be an RFC 3339 time with offset, e.g. 2026-11-23T08:00:00Z; got {value!r}")
    try:
        return datetime.fromisoformat(value)
    except ValueError as exc:
        raise MalformedInput(f"{field} is not a real date and time: {value!r}") from exc


def check_claim(event: Mapping[str, Any], *, tenant: str) -> None:
    """Check the structure of a submitted event (before any crypto); raises ``MalformedInput``.

    ``tenant`` is the tenant of the caller; an event for another tenant is refused. The usual well-formed
    event passes ``_plainly_valid`` (one pass, no message built); anything else is decided, and the refusal
    worded, by ``reference_check_claim`` (a property test holds that ``_plainly_valid`` accepts nothing the
    reference refuses).
    """
    if not _plainly_valid(event, tenant):
        reference_check_claim(event, tenant=tenant)


_CLAIM_KEYS = frozenset(_CLAIM_REQUIRED)
_CLAIM_KEYS_LOCATED = _CLAIM_KEYS | {"location"}
_CLAIM_KEYS_SIGNED = _CLAIM_KEYS | {"signature"}
_CLAIM_KEYS_ALL = _CLAIM_KEYS_LOCATED | {"signature"}
_ID_MATCH = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@#-]{0,63}").fullmatch  # ledger.ids.ID_PATTERN


def _plainly_valid(event: Mapping[str, Any], tenant: str) -> bool:
    """True only for an event ``reference_check_claim`` accepts (False: let the reference decide and say why)."""
    if type(event) is not dict or event.keys() not in (_CLAIM_KEYS, _CLAIM_KEYS_LOCATED, _CLAIM_KEYS_SIGNED,
                                                       _CLAIM_KEYS_ALL):
        return False
    subject, actor, occurred = event["subject"], event["actor"], event["occurred_at"]
    if not (type(event["v"]) is int and event["v"] == 1 and type(event["event_id"]) is str
            and _UUID.fullmatch(event["event_id"]) and event["tenant"] == tenant and type(event["kind"]) is str
            and _KIND.fullmatch(event["kind"]) and type(event["payload_commitment"]) is str
            and _HEX32.fullmatch(event["payload_commitment"]) and type(occurred) is str
            and _RFC3339.fullmatch(occurred)):
        return False
    if type(subject) is not dict or not subject.keys() <= _SUBJECT_KEYS or not all(
            value is None or (type(value) is str and _ID_MATCH(value)) for value in subject.values()):
        return False
    if type(actor) is not dict or actor.keys() != {"type", "id", "key_id"} or type(actor["type"]) is not str \
            or actor["type"] not in _ACTOR_TYPES \
            or type(actor["id"]) is not str or not _ID_MATCH(actor["id"]) or type(actor["key_id"]) is not str \
            or not _ID_MATCH(actor["key_id"]):
        return False
    if "location" in event and not _plain_location(event["location"]):
        return False
    try:
        datetime.fromisoformat(occurred)
    except ValueError:
        return False
    return True


def _plain_location(location: object) -> bool:
    if type(location) is not dict or location.keys() not in ({"lat", "lon"}, {"lat", "lon", "accuracy_m"}):
        return False
    lat, lon, accuracy = location["lat"], location["lon"], location.get("accuracy_m", 0)
    return type(lat) in _NUMBER_TYPES and type(lon) in _NUMBER_TYPES and type(accuracy) in _NUMBER_TYPES \
        and -90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= accuracy <= 100_000


_NUMBER_TYPES = (int, float)


def claim_fast_safe(claim: Mapping[str, Any]) -> bool:
    """``canonical.fast_path_safe(claim)`` for a claim of an event that passed ``check_claim``, without the walk:
    such a claim has ASCII keys and, as values, strings, the integer 1, ids or None, and numbers only in
    ``location`` (ints there are in range), so only a location float can fail it (a property test holds both
    equal)."""
    location = claim.get("location")
    if location is None:
        return True
    for number in location.values():
        if type(number) is float and (number.is_integer() or not 1e-5 <= abs(number) < 1e15):
            return False
    return True


def reference_check_claim(event: Mapping[str, Any], *, tenant: str) -> None:
    """``check_claim`` as first written (the reference its fast path is tested against); raises ``MalformedInput``."""
    missing = [k for k in _CLAIM_REQUIRED if k not in event]
    unknown = [k for k in event if k not in _CLAIM_REQUIRED and k not in _CLAIM_OPTIONAL]
    if missing or unknown:
        raise MalformedInput(f"event fields: missing {missing}, not allowed {unknown} (server sets {list(SERVER_FIELDS)})")
    if type(event["v"]) is not int or event["v"] != 1:
        raise MalformedInput(f"event version must be 1, got {event['v']!r}")
    _check_uuid(event["event_id"])
    if event["tenant"] != tenant:
        raise MalformedInput(f"event tenant {event['tenant']!r} is not the caller's tenant {tenant!r}")
    if not isinstance(event["kind"], str) or not _KIND.fullmatch(event["kind"]):
        raise MalformedInput(f"kind must look like 'permit.signed', got {event['kind']!r}")
    _check_subject(event["subject"])
    _check_actor(event["actor"])
    parse_rfc3339(event["occurred_at"], "occurred_at")
    if not isinstance(event["payload_commitment"], str) or not _HEX32.fullmatch(event["payload_commitment"]):
        raise MalformedInput("payload_commitment must be 64 lower-case hex characters (SM3)")
    if "location" in event:
        _check_location(event["location"])


def _check_uuid(value: object) -> None:
    # the canonical form exactly: what str(uuid.UUID(value)) == value accepts (the reference, in the tests)
    if not isinstance(value, str) or not _UUID.fullmatch(value):
        raise MalformedInput(f"event_id must be a lower-case UUID string, got {value!r}")


def _check_subject(subject: object) -> None:
    if not isinstance(subject, dict) or not set(subject) <= _SUBJECT_KEYS:
        raise MalformedInput(f"subject must be an object with keys among {sorted(_SUBJECT_KEYS)}")
    for key, value in subject.items():
        if value is not None:
            check_id(value, f"subject.{key}")


def _check_actor(actor: object) -> None:
    if not isinstance(actor, dict) or set(actor) != {"type", "id", "key_id"}:
        raise MalformedInput("actor must be an object with exactly type, id and key_id")
    if actor["type"] not in _ACTOR_TYPES:
        raise MalformedInput(f"actor.type must be one of {sorted(_ACTOR_TYPES)}, got {actor['type']!r}")
    check_id(actor["id"], "actor.id")
    check_id(actor["key_id"], "actor.key_id")


def _check_location(location: object) -> None:
    if not isinstance(location, dict) or not {"lat", "lon"} <= set(location) <= {"lat", "lon", "accuracy_m"}:
        raise MalformedInput("location must be an object with lat, lon and optionally accuracy_m")
    lat, lon, accuracy = location["lat"], location["lon"], location.get("accuracy_m", 0)
    numbers = all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lat, lon, accuracy))
    if not numbers or not (-90 <= lat <= 90 and -180 <= lon <= 180 and 0 <= accuracy <= 100_000):
        raise MalformedInput(f"location out of range: lat {lat!r}, lon {lon!r}, accuracy_m {accuracy!r}")


def payload_commitment(salt: bytes, payload: Any) -> str:
    """Hex SM3(salt || canonical(payload)); the salt keeps low-entropy payloads unguessable."""
    return sm3(salt + canonical(payload)).hex()


def check_commitment(event: Mapping[str, Any], salt_hex: object, payload: Any) -> bytes:
    """Check that ``payload`` with ``salt_hex`` matches the event's commitment; returns the salt bytes."""
    try:
        salt = bytes.fromhex(salt_hex) if isinstance(salt_hex, str) else b""
    except ValueError:
        salt = b""
    if len(salt) != _SALT_BYTES:
        raise MalformedInput(f"salt must be {_SALT_BYTES} bytes as hex ({2 * _SALT_BYTES} characters)")
    if payload_commitment(salt, payload) != event["payload_commitment"]:
        raise CommitmentMismatch(f"payload does not match payload_commitment of event {event['event_id']}")
    return salt


def verify_event_signature(claim: Mapping[str, Any], signature_b64: object, key: SM2PublicKey, *,
                           canonical_claim: bytes | None = None) -> None:
    """Check the actor's SM2 signature over canonical(claim); raises ``InvalidSignature``. ``canonical_claim``
    is that canonical form when the caller has it already (intake does: it hashed it)."""
    if not isinstance(signature_b64, str):
        raise InvalidSignature(f"event {claim.get('event_id')} has no signature (and is not in a signed batch)")
    try:
        key.verify_b64(canonical(claim) if canonical_claim is None else canonical_claim, signature_b64)
    except InvalidSignature as exc:
        raise InvalidSignature(f"event {claim.get('event_id')}: {exc}") from exc


def attestation_digest(attestation: Mapping[str, Any]) -> bytes:
    """SM3 of the canonical attestation, signature included: what each batched event points to."""
    return sm3(canonical(attestation))


def check_attestation(attestation: Mapping[str, Any], claim_hashes: list[bytes], key: SM2PublicKey) -> None:
    """Check a batch attestation: shape, that it lists exactly ``claim_hashes`` in order, and its signature."""
    if set(attestation) != {"v", "tenant", "actor", "event_hashes", "signature"} or type(attestation["v"]) is not int or attestation["v"] != 1:
        raise MalformedInput("attestation must have exactly v (1), tenant, actor, event_hashes and signature")
    _check_actor(attestation["actor"])
    listed = attestation["event_hashes"]
    if not isinstance(listed, list) or listed != [h.hex() for h in claim_hashes]:
        raise InvalidSignature("attestation event_hashes do not match the SM3 claim hashes of the batch, in order")
    unsigned = {k: v for k, v in attestation.items() if k != "signature"}
    try:
        key.verify_b64(canonical(unsigned), attestation["signature"])
    except InvalidSignature as exc:
        raise InvalidSignature(f"batch attestation: {exc}") from exc


def clock_flags(occurred_at: datetime, received_at: datetime, *, max_skew: timedelta, max_age: timedelta) -> list[str]:
    """Flags for an implausible actor clock; the event is kept either way (ARCHITECTURE: flagged, not dropped)."""
    flags = []
    if occurred_at - received_at > max_skew:
        flags.append("occurred_in_future")
    if received_at - occurred_at > max_age:
        flags.append("occurred_long_before_receipt")
    return flags


_PREV_NULL = b'"prev":null'


@dataclass(frozen=True, slots=True)
class LeafTemplate:
    """The canonical leaf of an event, complete but for the value of ``prev``.

    Everything in a leaf is known when intake checks the event except ``prev``, the hash of the permit's
    previous leaf, which only the log writer knows. Intake (in worker processes) canonicalizes the event
    once with ``"prev": null``; the writer puts in the real value. ``prev`` is a top-level key whose value
    is null or a hex string (no escaping), so the result is still the RFC 8785 form of the whole event.
    """

    head: bytes  # canonical bytes up to and including '"prev":'
    tail: bytes  # what follows the value
    # ``ledger.packing.pack_template(head, tail)``, made by the intake worker so the log writer does not pack
    # (None: not computed, or a half holds a byte < 0x20; the writer then packs itself, with the same result)
    packed: tuple[bytes, bytes] | None = None

    def fill(self, prev: bytes | None) -> bytes:
        """The leaf bytes with ``prev`` (a leaf hash, or None for the first event of a permit)."""
        value = b'"' + prev.hex().encode() + b'"' if prev is not None else b"null"
        return self.head + value + self.tail


def leaf_template(event: Mapping[str, Any], *, known_fast: bool = False) -> LeafTemplate:
    """The template of ``event``, which carries every field of its leaf but ``prev``.

    Requires an event whose structure passed ``check_claim`` (nested objects cannot have a ``prev`` key);
    ``known_fast`` as in ``canonical``. Raises ``MalformedInput`` if ``prev`` is not found exactly once.
    """
    body = canonical({**event, "prev": None}, known_fast=known_fast)
    if body.count(_PREV_NULL) != 1:
        raise MalformedInput("event has a nested 'prev' key; only the top-level one is allowed")
    head, _, tail = body.partition(_PREV_NULL)
    return LeafTemplate(head + b'"prev":', tail)


_BEFORE_EVENT_ID = b',"event_id":'
_BEFORE_SUBJECT = b',"subject":'


def leaf_parts(canonical_claim: bytes, *, received_at: str, signature: str | None = None,
               attestation: str | None = None) -> tuple[bytes, bytes]:
    """The ``head`` and ``tail`` of ``leaf_template(claim | server fields | signature)``, spliced into the
    claim's canonical bytes instead of canonicalizing the whole event again (``leaf_template`` is the
    reference; a differential test holds them byte-identical).

    Requires ``canonical_claim`` = ``canonical(claim)`` of a claim that passed ``check_claim``: its top-level
    keys are known, so in RFC 8785 order ``attestation`` goes just before ``event_id`` (after ``actor``,
    whose keys are type, id and key_id) and ``prev``, ``received_at``, ``signature`` just before
    ``subject`` (after ``payload_commitment``). ``,"event_id":`` and ``,"subject":`` occur in the claim
    first as those top-level members: a quote after a comma opens a string, and no object before them has
    such a key. The server's values are strings, whose canonical form is orjson's.
    """
    at_event_id, at_subject = canonical_claim.find(_BEFORE_EVENT_ID), canonical_claim.find(_BEFORE_SUBJECT)
    if not 0 < at_event_id < at_subject:
        raise MalformedInput("claim lacks event_id or subject where a checked claim has them")
    head = canonical_claim[:at_event_id]
    if attestation is not None:
        head += b',"attestation":' + orjson.dumps(attestation)
    head += canonical_claim[at_event_id:at_subject] + b',"prev":'
    tail = b',"received_at":' + orjson.dumps(received_at)
    if signature is not None:
        tail += b',"signature":' + orjson.dumps(signature)
    return head, tail + canonical_claim[at_subject:]
