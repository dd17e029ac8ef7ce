"""Content audit of what a regulator sees: every value of every digest served (and of the anchor receipts
served with it) must be a hash, a size or count, a date or time, a signature (or a signed checkpoint note),
or one of the enumerations the format names. Anything else (a name, an id, a coordinate, a payload) fails
the audit with its path; a second test plants such fields and shows the audit catches each.

Digests anchored on Fabric and the EVM registry, and what was written to the EVM chain itself, are audited
in ``test_chain_content_audit.py`` with the same ``audit``."""

from __future__ import annotations

import copy
import re
from datetime import datetime
from typing import Any

import pytest

from evidence_api.services.rules import DEFAULTS
from ledger.clock import ManualClock
from tests.api.digest_support import DAY, clock, day_api, day_client, digests, wait_anchored, worked_day
from tests.api.support import Api

__all__ = ["clock", "day_api", "day_client"]  # fixtures

_HASH = re.compile(r"[0-9a-f]{64}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{60,}={0,2}")  # also a Fabric receipt's block: the chain's own bytes
_HEX0X = re.compile(r"0x(?:[0-9a-f]{2})*|0x[0-9a-f]{1,16}")  # EVM hashes, addresses, raw bytes; quantities
_CHECKPOINT = re.compile(r"[^\s+]+\n\d+\n[A-Za-z0-9+/]{43}=\n\n(\u2014 [^\s+]+ [A-Za-z0-9+/]+={0,2}\n)+")
_TYPES = sorted(DEFAULTS["work_types"])
_LEVELS = sorted({lv for t in DEFAULTS["work_types"].values() for lv in t["levels"]})
_ENUMS: dict[str, list[str]] = {
    "type": ["tiezheng.digest/v1", *_TYPES], "level": _LEVELS, "timezone": ["Asia/Shanghai"],
    "origin": ["tiezheng.local/log"], "backend": ["local", "fabric", "evm"],
    "status": ["anchored", "pending", "missed", "none", "recorded", "failed", "not_configured"],
    "channel": ["evidence", "tiezheng"], "chaincode": ["checkpoints"], "validation_code": ["VALID"],
}


def audit(value: Any, path: str = "$", *, origins: tuple[str, ...] = ()) -> list[str]:
    """Every value under ``value`` that is not a hash, size, count, date, time, signature, checkpoint or a
    named enumeration (``origins``: further log origins allowed), as ``path: value``."""
    if isinstance(value, dict):
        return [bad for key, item in value.items() for bad in audit(item, f"{path}.{key}", origins=origins)]
    if isinstance(value, list):
        return [bad for i, item in enumerate(value) for bad in audit(item, f"{path}[{i}]", origins=origins)]
    key = path.rsplit(".", 1)[-1].split("[", 1)[0]
    if value is None or (type(value) is int and value >= 0):
        return []
    allowed = _ENUMS.get(key, []) + (list(origins) if key == "origin" else [])
    if isinstance(value, str) and (value in allowed or _is_opaque(value, origins)):
        return []
    return [f"{path}: {value!r}"]


def _is_opaque(text: str, origins: tuple[str, ...]) -> bool:
    if any(p.fullmatch(text) for p in (_HASH, _DATE, _TIME, _SIGNATURE, _HEX0X)):
        return True
    return _CHECKPOINT.fullmatch(text) is not None and text.split("\n", 1)[0] in ("tiezheng.local/log", *origins)


def test_every_served_digest_holds_only_hashes_sizes_dates_counts_and_signatures(day_api: Api,
                                                                                  clock: ManualClock) -> None:
    worked_day(day_api, clock)
    clock.set(datetime.fromisoformat("2026-12-02T03:00:00+08:00"))
    wait_anchored(day_api, DAY)

    served = digests(day_api, **{"from": "2026-11-29", "to": "2026-12-01"}).json()["digests"]

    assert [v["digest"]["date"] for v in served] == [DAY, "2026-12-01"]  # none before the tenant existed
    assert served[0]["digest"]["counts"]["events"] > 10
    assert [bad for view in served for bad in audit(view)] == []


def _plant(view: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    planted = copy.deepcopy(view)
    target = planted["digest"]
    *parents, last = where.split(".")
    for name in parents:
        target = target[name]
    target[last] = value
    return planted


@pytest.mark.parametrize(("where", "value", "caught"), [
    ("counts.worker_name", "张三", "$.digest.counts.worker_name: '张三'"),
    ("counts.location", {"lat": 31.2304, "lon": 121.4737}, "$.digest.counts.location.lat: 31.2304"),
    ("counts.permits_opened", [{"type": "welder-li", "level": "1", "count": 1}],
     "$.digest.counts.permits_opened[0].type: 'welder-li'"),
    ("counts.certificate", "T310101199001011234", "$.digest.counts.certificate: 'T310101199001011234'"),
    ("counts.events", -1, "$.digest.counts.events: -1"),
])
def test_audit_fails_on_a_planted_personal_field(day_api: Api, clock: ManualClock, where: str, value: Any,
                                                 caught: str) -> None:
    worked_day(day_api, clock)
    clock.set(datetime.fromisoformat("2026-12-01T03:00:00+08:00"))
    view = digests(day_api, date=DAY).json()["digests"][0]
    assert audit(view) == []

    assert caught in audit(_plant(view, where, value))
