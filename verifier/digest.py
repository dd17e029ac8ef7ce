"""Offline check of a regulator digest (docs/formats.md, "Regulator digest" and "Verifying a digest").

A digest file is what ``GET /v1/regulator/digests`` serves per day: ``{"digest", "digest_hash",
"anchors"}``. Steps (the first that fails is reported):

1. Structure: every field present, of its type and range; nothing else (``MalformedInput``, exit 2). The
   counts are counts and the labels enumerations: a digest carries no names, ids or payloads.
2. ``digest_hash`` is SM3 of the digest's canonical bytes.
3. The signature verifies under a log key of the trust root (never a key inside the file).
4. The day-end checkpoint is signed by that log and names the digest's origin, tree size and root.
5. The consistency proof leads from the previous day's tree to this one; with ``previous`` (the previous
   day's digest file, itself checked by steps 1-4) its date, tree, root and hash must be the ones named.
6. Each anchor with status ``anchored``: its receipt is of exactly this (size, root) and passes its
   backend's check (``CHAIN_CHECKS``: the local journal, Fabric and EVM, ``verifier.digest_chains``);
   backends this verifier does not know, or a chain the trust root does not name, are reported
   ``unchecked`` and not relied on.
7. A ``recorded`` registry record: the EVM registry's ``DigestRecorded`` log of exactly this tenant hash,
   date and digest hash (``REGISTRY_CHECK``).

Assurance: ``dual-chain`` only when a ``fabric`` and an ``evm`` receipt both verified for the digest's
(size, root); ``fabric`` with a verified Fabric receipt; otherwise ``signed``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any

from verifier._json import (
    JSONObject,
    b64_field,
    canonical,
    hex_field,
    hex_list_field,
    int_field,
    list_field,
    loads,
    object_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.anchors import JournalEntry, verify_journal_entry
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.digest_chains import ChainFinding, check_evm_anchor, check_fabric_anchor, check_registry_record
from verifier.digest_counts import check_counts
from verifier.errors import AnchorMismatch, BadSignature, KeyMismatch, MalformedInput, VerificationFailed
from verifier.hashing import empty_root
from verifier.merkle import MAX_CONSISTENCY_HASHES, verify_consistency
from verifier.report import chain_assurance
from verifier.sm import PublicKey, sm3, verify_sm2
from verifier.trust import TrustRoot

__all__ = ["CHAIN_CHECKS", "DIGEST_TYPE", "MAX_DIGEST_BYTES", "REGISTRY_CHECK", "DigestFile", "DigestReport",
           "verify_digest"]

DIGEST_TYPE = "tiezheng.digest/v1"
MAX_DIGEST_BYTES = 8 * 1024 * 1024
_BACKENDS = ("local", "fabric", "evm")
_BACKEND = re.compile(r"[a-z0-9_-]{1,32}")
_STATUSES = ("anchored", "pending", "missed", "none")


@dataclass(frozen=True)
class DigestFile:
    """A parsed digest file: the signed ``digest`` object and its fields, and the ``anchors`` entries."""

    digest: JSONObject
    digest_hash: bytes
    anchors: tuple[JSONObject, ...]
    day: date
    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: Checkpoint | None
    previous: JSONObject | None
    key_id: str
    signature: bytes
    registry: JSONObject | None = None

    @classmethod
    def from_bytes(cls, data: bytes) -> DigestFile:
        """Parse and check the structure of a digest file (step 1); raises ``MalformedInput``."""
        if len(data) > MAX_DIGEST_BYTES:
            raise MalformedInput(f"digest file is larger than {MAX_DIGEST_BYTES} bytes")
        top = require_object(loads(data, "digest file"), "digest file")
        require_fields(top, "digest file", required=("digest", "digest_hash", "anchors"), optional=("registry",))
        digest = object_field(top, "digest", "digest file")
        require_fields(digest, "digest", required=("v", "type", "tenant", "date", "timezone", "log", "previous",
                                                   "counts", "key_id", "signature"))
        if type(digest["v"]) is not int or digest["v"] != 1 or digest["type"] != DIGEST_TYPE:
            raise MalformedInput(f"digest must be v 1 of type {DIGEST_TYPE!r}, got v {digest['v']!r} type "
                                 f"{str(digest['type'])[:80]!r}")
        hex_field(digest, "tenant", "digest")
        str_field(digest, "timezone", "digest")
        log = object_field(digest, "log", "digest")
        require_fields(log, "digest.log", required=("origin", "tree_size", "root_hash", "checkpoint"))
        check_counts(object_field(digest, "counts", "digest"))
        text = log["checkpoint"]
        if text is not None and not isinstance(text, str):
            raise MalformedInput("digest.log.checkpoint must be a checkpoint note or null")
        anchors = tuple(_anchor(a, i) for i, a in enumerate(list_field(top, "anchors", "digest file", max_items=8)))
        if len({a["backend"] for a in anchors}) != len(anchors):
            raise MalformedInput("digest file.anchors names a backend more than once")
        return cls(
            digest=digest, digest_hash=hex_field(top, "digest_hash", "digest file"), anchors=anchors,
            day=_day(digest, "date", "digest"), origin=str_field(log, "origin", "digest.log"),
            tree_size=int_field(log, "tree_size", "digest.log"), root_hash=hex_field(log, "root_hash", "digest.log"),
            checkpoint=Checkpoint.from_text(text) if text is not None else None,
            previous=_previous(digest["previous"]), key_id=str_field(digest, "key_id", "digest"),
            signature=b64_field(digest, "signature", "digest"), registry=_registry(top.get("registry")),
        )


@dataclass(frozen=True)
class DigestReport:
    """What ``verify_digest`` found: the day, tree and assurance, and per backend what its anchor showed."""

    valid: bool
    date: str
    origin: str
    tree_size: int
    root_hash: str
    assurance: str
    anchors: dict[str, str]
    previous_checked: bool
    registry: str = "absent"
    notes: tuple[str, ...] = field(default=())
    details: dict[str, str] = field(default_factory=dict)
    confirmed: tuple[str, ...] = field(default=())

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)

    def to_text(self) -> str:
        """The report for a human."""
        lines = [f"VALID: digest of {self.date} for log {self.origin} (tree size {self.tree_size})"]
        lines += [f"  anchor {name}: {status}" + (f" ({self.details[name]})" if name in self.details else "")
                  for name, status in sorted(self.anchors.items())]
        lines.append(f"  digest hash on the evm registry: {self.registry}"
                     + (f" ({self.details['registry']})" if "registry" in self.details else ""))
        lines += [f"  confirmed online: {c}" for c in self.confirmed]
        lines += [f"assurance: {self.assurance}"] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


ChainCheck = Callable[[JSONObject, "DigestFile", TrustRoot], ChainFinding]
"""A backend's offline receipt check: returns what it showed, raises ``VerificationFailed`` or ``MalformedInput``."""


def _check_local(receipt: JSONObject, digest: DigestFile, trust_root: TrustRoot) -> ChainFinding:
    entry = JournalEntry.from_json(object_field(receipt, "entry", "local receipt"))
    key = _log_key(trust_root, digest.origin, entry.key_id)
    verify_journal_entry(entry, public_key_pem=key)
    if (entry.origin, entry.tree_size, entry.root_hash) != (digest.origin, digest.tree_size, digest.root_hash):
        raise AnchorMismatch(f"local journal entry anchors {entry.origin} size {entry.tree_size}, not the digest's "
                             f"tree {digest.origin} size {digest.tree_size}")
    return ChainFinding(True, f"journal entry {entry.seq} signed by the log key; proves nothing against the operator")


def _check_fabric(receipt: JSONObject, digest: DigestFile, trust_root: TrustRoot) -> ChainFinding:
    return check_fabric_anchor(receipt, checkpoint=digest.checkpoint, trust_root=trust_root)


def _check_evm(receipt: JSONObject, digest: DigestFile, trust_root: TrustRoot) -> ChainFinding:
    return check_evm_anchor(receipt, checkpoint=digest.checkpoint, trust_root=trust_root)


def _check_registry(receipt: JSONObject, digest: DigestFile, trust_root: TrustRoot) -> ChainFinding:
    return check_registry_record(receipt, tenant_hash=hex_field(digest.digest, "tenant", "digest"), day=digest.day,
                                 digest_hash=digest.digest_hash, trust_root=trust_root)


CHAIN_CHECKS: dict[str, ChainCheck] = {"local": _check_local, "fabric": _check_fabric, "evm": _check_evm}
"""The offline receipt check of each backend; a backend not named here is reported ``unchecked``."""

REGISTRY_CHECK: ChainCheck | None = _check_registry
"""The offline check of the EVM registry's record of the digest hash."""


def verify_digest(digest: DigestFile, *, trust_root: TrustRoot, previous: DigestFile | None = None) -> DigestReport:
    """Check ``digest`` (steps 2-6 of the module docstring) against ``trust_root``; ``previous`` is the
    previous day's digest file, if the caller has it. Returns the report; raises ``VerificationFailed``
    (exit 1) or ``MalformedInput`` / ``UntrustedLog`` (exit 2)."""
    _verify_signed(digest, trust_root)
    notes = list(_verify_previous(digest, previous, trust_root))
    findings = {a["backend"]: _verify_anchor(a, digest, trust_root) for a in digest.anchors}
    anchors = {name: status for name, (status, _) in findings.items()}
    details = {name: detail for name, (_, detail) in findings.items() if detail}
    notes += [f"{name}: {details.get(name, 'no offline check for this backend in this verifier')}; its receipt was "
              "not relied on" for name, status in anchors.items() if status == "unchecked"]
    registry, detail = _verify_registry(digest, trust_root)
    if detail:
        details["registry"] = detail
    if registry == "unchecked":
        notes.append(f"registry: {detail or 'no offline check of the evm registry record in this verifier'}")
    tree = (digest.tree_size, digest.root_hash)
    assurance = chain_assurance(fabric=[tree] if anchors.get("fabric") == "verified" else [],
                                evm=[tree] if anchors.get("evm") == "verified" else [])
    if assurance == "signed":
        notes.append("signed: only the log operator's own key vouches for this digest; no chain receipt verified")
    return DigestReport(True, digest.day.isoformat(), digest.origin, digest.tree_size, digest.root_hash.hex(),
                        assurance, anchors, previous is not None, registry, tuple(notes), details)


def _verify_registry(digest: DigestFile, trust_root: TrustRoot) -> tuple[str, str]:
    """Step 7: the registry record's status (``verified``, ``unchecked`` or as served) and its detail."""
    if digest.registry is None:
        return "absent", ""
    if digest.registry["status"] != "recorded":
        return str(digest.registry["status"]), ""
    if REGISTRY_CHECK is None:
        return "unchecked", ""
    found = REGISTRY_CHECK(object_field(digest.registry, "receipt", "registry"), digest, trust_root)
    return ("verified" if found.verified else "unchecked"), found.detail


def _verify_signed(digest: DigestFile, trust_root: TrustRoot) -> None:
    """Steps 2-4."""
    if sm3(canonical(digest.digest)) != digest.digest_hash:
        raise VerificationFailed(f"digest_hash {digest.digest_hash.hex()} is not the sm3 of the digest "
                                 f"({sm3(canonical(digest.digest)).hex()}): the digest was changed")
    key = _log_key(trust_root, digest.origin, digest.key_id)
    unsigned = {k: v for k, v in digest.digest.items() if k != "signature"}
    try:
        verify_sm2(PublicKey.from_pem(key), canonical(unsigned), digest.signature)
    except BadSignature as exc:
        raise BadSignature(f"digest signature does not verify under log key {digest.key_id}: the digest was "
                           "changed or not signed by this log") from exc
    if digest.checkpoint is None:
        if digest.tree_size != 0 or digest.root_hash != empty_root():
            raise VerificationFailed("digest names a non-empty tree but carries no checkpoint")
        return
    verify_checkpoint(digest.checkpoint, public_key_pem=key)
    cp = digest.checkpoint
    if (cp.origin, cp.tree_size, cp.root_hash) != (digest.origin, digest.tree_size, digest.root_hash):
        raise AnchorMismatch(f"digest tree {digest.origin} size {digest.tree_size} root {digest.root_hash.hex()} "
                             f"is not its checkpoint's ({cp.origin} size {cp.tree_size} root {cp.root_hash.hex()})")


def _verify_previous(digest: DigestFile, previous: DigestFile | None, trust_root: TrustRoot) -> list[str]:
    """Step 5."""
    named = digest.previous
    if named is None:
        if previous is not None and previous.tree_size > 0:
            raise VerificationFailed("the digest names no previous tree, but the previous digest given has one")
        return [] if previous is not None else ["no previous tree: the log was empty when the previous day ended"]
    size, root = int_field(named, "tree_size", "digest.previous"), hex_field(named, "root_hash", "digest.previous")
    proof = hex_list_field(named, "consistency_proof", "digest.previous", max_items=MAX_CONSISTENCY_HASHES)
    verify_consistency(size, digest.tree_size, root, digest.root_hash, proof)
    if previous is None:
        return ["previous digest not given (--previous): the previous tree named in the digest is unconfirmed"]
    _verify_signed(previous, trust_root)
    if previous.day != digest.day - timedelta(days=1):
        raise VerificationFailed(f"the previous digest is of {previous.day}, want {digest.day - timedelta(days=1)}")
    if (previous.tree_size, previous.root_hash) != (size, root):
        raise VerificationFailed(f"the previous digest's tree (size {previous.tree_size}, root "
                                 f"{previous.root_hash.hex()}) is not the one this digest extends (size {size}, "
                                 f"root {root.hex()})")
    if named.get("digest_hash") not in (None, previous.digest_hash.hex()):
        raise VerificationFailed(f"this digest names previous digest {named.get('digest_hash')}, the file given is "
                                 f"{previous.digest_hash.hex()}")
    return []


def _verify_anchor(anchor: JSONObject, digest: DigestFile, trust_root: TrustRoot) -> tuple[str, str]:
    """Step 6 for one anchor entry: what it showed (``verified``, ``unchecked`` or its status) and a detail."""
    name, status = anchor["backend"], anchor["status"]
    if status != "anchored":
        return str(status), ""
    receipt = object_field(anchor, "receipt", f"anchors.{name}")
    size, root = int_field(receipt, "tree_size", f"{name} receipt"), hex_field(receipt, "root_hash", f"{name} receipt")
    if (size, root) != (digest.tree_size, digest.root_hash):
        raise AnchorMismatch(f"{name} receipt is of tree size {size} root {root.hex()}, not the digest's tree size "
                             f"{digest.tree_size} root {digest.root_hash.hex()}")
    check = CHAIN_CHECKS.get(name)
    if check is None:
        return "unchecked", ""
    found = check(receipt, digest, trust_root)
    return ("verified" if found.verified else "unchecked"), found.detail


def _log_key(trust_root: TrustRoot, origin: str, key_id: str) -> str:
    keys = trust_root.log_keys(origin)
    for key in keys:
        if key.fingerprint == key_id:
            return key.public_key.to_pem()
    raise KeyMismatch(f"signed by key {key_id}, which the trust root does not name for log {origin!r} (it names "
                      f"{', '.join(k.fingerprint for k in keys)})")


def _anchor(value: Any, index: int) -> JSONObject:
    where = f"anchors[{index}]"
    obj = require_object(value, where)
    require_fields(obj, where, required=("backend", "status"), optional=("receipt",))
    if not isinstance(obj["backend"], str) or not _BACKEND.fullmatch(obj["backend"]) \
            or obj["status"] not in _STATUSES:
        raise MalformedInput(f"{where} must name a backend ([a-z0-9_-], e.g. {', '.join(_BACKENDS)}) and a status "
                             f"in {list(_STATUSES)}")
    if (obj["status"] == "anchored") != ("receipt" in obj):
        raise MalformedInput(f"{where}: a receipt comes with status anchored, and only then")
    return obj


def _registry(value: Any) -> JSONObject | None:
    if value is None:
        return None
    obj = require_object(value, "registry")
    require_fields(obj, "registry", required=("status",), optional=("receipt",))
    if obj["status"] not in ("recorded", "pending", "failed", "not_configured"):
        raise MalformedInput(f"registry.status must be recorded, pending, failed or not_configured, got "
                             f"{str(obj['status'])[:40]!r}")
    if (obj["status"] == "recorded") != ("receipt" in obj):
        raise MalformedInput("registry: a receipt comes with status recorded, and only then")
    return obj


def _previous(value: Any) -> JSONObject | None:
    if value is None:
        return None
    obj = require_object(value, "digest.previous")
    require_fields(obj, "digest.previous", required=("date", "tree_size", "root_hash", "digest_hash",
                                                     "consistency_proof"))
    _day(obj, "date", "digest.previous")
    if obj["digest_hash"] is not None:
        hex_field(obj, "digest_hash", "digest.previous")
    return obj


def _day(obj: JSONObject, key: str, where: str) -> date:
    text = str_field(obj, key, where)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as exc:
        raise MalformedInput(f"{where}.{key} must be a date YYYY-MM-DD, got {text[:40]!r}") from exc
