"""Offline check of an insurer risk record (docs/formats.md, "Insurer risk record").

Steps (the first that fails is reported):

1. Structure: exactly the fields of ``tiezheng.risk-record/v1``, every event entry with its label
   (``MalformedInput``, exit 2).
2. The signature verifies under a log key of the trust root; the checkpoint is that log's and has the
   record's origin, size and root.
3. Every counted event is in the log: its leaf index lies in the period's leaves, appears once, and its
   leaf hash and inclusion proof lead to the checkpoint's root.
4. Recounting the proven events' labels gives every figure of the record.

What this cannot check offline: that a label is right (that leaf really is a hot-work permit's start). The
labels are the service's signed statement; the events themselves are disclosed in an evidence pack.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import datetime
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
from verifier.checkpoint import Checkpoint, verify_checkpoint
from verifier.errors import AnchorMismatch, BadSignature, KeyMismatch, MalformedInput, VerificationFailed
from verifier.merkle import MAX_INCLUSION_HASHES, verify_inclusion
from verifier.sm import verify_sm2
from verifier.trust import TrustRoot

__all__ = ["MAX_RECORD_BYTES", "RISK_TYPE", "RiskReport", "recount", "verify_risk_record"]

RISK_TYPE = "tiezheng.risk-record/v1"
MAX_RECORD_BYTES = 64 * 1024 * 1024
_FIGURES = ("opened", "closed", "suspension", "gas_alarm", "guardian_absence", "accident", "action")
_FIELDS = ("v", "type", "tenant", "site", "from", "to", "timezone", "log", "from_tree_size", "events", "figures",
           "key_id", "signature")
_ENTRY = ("leaf_index", "leaf_hash", "figure", "type", "level", "cls", "at", "answered_by", "inclusion_proof")


@dataclass(frozen=True)
class RiskReport:
    """What ``verify_risk_record`` found."""

    valid: bool
    period: str
    origin: str
    tree_size: int
    events_proven: int
    figures: dict[str, Any]
    note: str = ("labels (what each event counts as) are the service's signed statement; the events themselves "
                 "are disclosed in an evidence pack")

    def to_json(self) -> str:
        """The report as indented JSON."""
        return json.dumps(asdict(self), indent=2, ensure_ascii=False)


def recount(events: list[JSONObject]) -> dict[str, Any]:
    """The figures recounted from the labelled events (docs/formats.md gives the definitions)."""
    rows = Counter((e["type"], e["level"]) for e in events if e["figure"] == "opened")
    n = Counter(e["figure"] for e in events)
    at = {e["leaf_index"]: _ms(e["at"]) for e in events}
    delays = []
    for e in events:
        if e["figure"] == "gas_alarm" and e["answered_by"] is not None:
            if e["answered_by"] not in at:
                raise VerificationFailed(f"gas alarm at leaf {e['leaf_index']} is answered by leaf "
                                         f"{e['answered_by']}, which the record does not carry")
            delays.append(max(0, at[e["answered_by"]] - at[e["leaf_index"]]))
    delays.sort()
    return {
        "high_risk_permits": [{"type": t, "level": lv, "count": c} for (t, lv), c in sorted(rows.items())],
        "closed_permits": {"closed": n["closed"],
                           "full_evidence": sum(1 for e in events if e["figure"] == "closed" and e["cls"] == "full")},
        "gas_alarms": {"count": n["gas_alarm"], "answered": len(delays),
                       "median_ms": delays[(len(delays) - 1) // 2] if delays else None,
                       "max_ms": delays[-1] if delays else None},
        "guardian_absences": n["guardian_absence"], "suspensions": n["suspension"], "accidents": n["accident"],
        "certificate_refusals": None,
    }


def verify_risk_record(data: bytes, *, trust_root: TrustRoot) -> RiskReport:
    """Check the risk record file ``data`` (``{"record": {...}}``) against ``trust_root``; returns the report,
    raises ``VerificationFailed`` (exit 1) or ``MalformedInput`` (exit 2)."""
    if len(data) > MAX_RECORD_BYTES:
        raise MalformedInput(f"risk record is larger than {MAX_RECORD_BYTES} bytes")
    top = require_object(loads(data, "risk record"), "risk record")
    require_fields(top, "risk record file", required=("record",))
    record = object_field(top, "record", "risk record file")
    require_fields(record, "record", required=_FIELDS)
    if type(record["v"]) is not int or record["v"] != 1 or record["type"] != RISK_TYPE:
        raise MalformedInput(f"record must be v 1 of type {RISK_TYPE!r}")
    log = object_field(record, "log", "record")
    require_fields(log, "record.log", required=("origin", "tree_size", "root_hash", "checkpoint"))
    origin, size = str_field(log, "origin", "record.log"), int_field(log, "tree_size", "record.log")
    root = hex_field(log, "root_hash", "record.log")
    events = [_entry(e, i) for i, e in enumerate(list_field(record, "events", "record", max_items=1_000_000))]
    _verify_signature(record, origin, trust_root, size, root)
    _verify_events(events, int_field(record, "from_tree_size", "record"), size, root)
    figures = recount(events)
    if canonical(figures) != canonical(record["figures"]):
        raise VerificationFailed(f"the figures do not match the recount of the proven events: record says "
                                 f"{json.dumps(record['figures'], sort_keys=True)[:400]}, recount gives "
                                 f"{json.dumps(figures, sort_keys=True)[:400]}")
    period = f"{str_field(record, 'from', 'record')}..{str_field(record, 'to', 'record')}"
    return RiskReport(True, period, origin, size, len(events), figures)


def _verify_signature(record: JSONObject, origin: str, trust_root: TrustRoot, size: int, root: bytes) -> None:
    key_id = str_field(record, "key_id", "record")
    keys = [k for k in trust_root.log_keys(origin) if k.fingerprint == key_id]
    if not keys:
        raise KeyMismatch(f"signed by key {key_id}, which the trust root does not name for log {origin!r}")
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    try:
        verify_sm2(keys[0].public_key, canonical(unsigned), b64_field(record, "signature", "record"))
    except BadSignature as exc:
        raise BadSignature(f"risk record signature does not verify under log key {key_id}: the record was changed "
                           "or not signed by this log") from exc
    text = record["log"]["checkpoint"]
    if text is None:
        if size != 0 or record["events"]:
            raise VerificationFailed("the record counts events but carries no checkpoint")
        return
    if not isinstance(text, str):
        raise MalformedInput("record.log.checkpoint must be a checkpoint note or null")
    cp = Checkpoint.from_text(text)
    verify_checkpoint(cp, public_key_pem=keys[0].public_key.to_pem())
    if (cp.origin, cp.tree_size, cp.root_hash) != (origin, size, root):
        raise AnchorMismatch(f"record tree {origin} size {size} is not its checkpoint's ({cp.origin} size "
                             f"{cp.tree_size})")


def _verify_events(events: list[JSONObject], start: int, size: int, root: bytes) -> None:
    seen: set[int] = set()
    for e in events:
        index = e["leaf_index"]
        if index in seen:
            raise VerificationFailed(f"leaf {index} is counted twice")
        if not start <= index < size:
            raise VerificationFailed(f"leaf {index} is outside the period's leaves [{start}, {size})")
        seen.add(index)
        verify_inclusion(index, size, bytes.fromhex(e["leaf_hash"]), e["inclusion_proof"], root)


def _entry(value: Any, index: int) -> JSONObject:
    where = f"record.events[{index}]"
    e = require_object(value, where)
    require_fields(e, where, required=_ENTRY)
    int_field(e, "leaf_index", where)
    hex_field(e, "leaf_hash", where)
    if e["figure"] not in _FIGURES:
        raise MalformedInput(f"{where}.figure must be one of {list(_FIGURES)}, got {str(e['figure'])[:40]!r}")
    for name in ("type", "level"):
        str_field(e, name, where)
    if e["cls"] is not None:
        str_field(e, "cls", where)
    if e["answered_by"] is not None:
        int_field(e, "answered_by", where)
    _ms(str_field(e, "at", where))
    proof = hex_list_field(e, "inclusion_proof", where, max_items=MAX_INCLUSION_HASHES)
    return {**e, "inclusion_proof": list(proof)}


def _ms(stamp: str) -> int:
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError as exc:
        raise MalformedInput(f"event time {stamp[:40]!r} is not an rfc 3339 time") from exc
