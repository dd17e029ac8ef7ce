"""The ``counts`` object of a regulator digest: counts, and the enumerations they are keyed by, nothing else
(docs/formats.md, "Regulator digest")."""

from __future__ import annotations

import re
from typing import Any

from verifier._json import (
    JSONObject,
    int_field,
    list_field,
    object_field,
    require_fields,
    require_object,
    str_field,
)
from verifier.errors import MalformedInput

__all__ = ["COUNT_FIELDS", "check_counts"]

COUNT_FIELDS = ("events", "suspensions", "gas_alarms", "guardian_absences")
_PER_TYPE = ("permits_opened", "permits_closed")
_ENUM = re.compile(r"[a-z0-9_-]{1,32}")
_MAX_ROWS = 512


def check_counts(counts: JSONObject) -> None:
    """Refuse (``MalformedInput``) a ``counts`` object with a missing, extra or mistyped field: per-type rows
    must be ``{"type", "level", "count"}`` with enumeration labels, sorted and unique."""
    where = "digest.counts"
    require_fields(counts, where, required=(*COUNT_FIELDS, *_PER_TYPE, "certificate_lapses"))
    for name in COUNT_FIELDS:
        int_field(counts, name, where)
    lapses = object_field(counts, "certificate_lapses", where)
    require_fields(lapses, f"{where}.certificate_lapses", required=("expired", "review_overdue"))
    for name in ("expired", "review_overdue"):
        int_field(lapses, name, f"{where}.certificate_lapses")
    for name in _PER_TYPE:
        rows = [_row(row, f"{where}.{name}[{i}]")
                for i, row in enumerate(list_field(counts, name, where, max_items=_MAX_ROWS))]
        if rows != sorted(set(rows)):
            raise MalformedInput(f"{where}.{name} must list each (type, level) once, sorted")


def _row(value: Any, where: str) -> tuple[str, str]:
    row = require_object(value, where)
    require_fields(row, where, required=("type", "level", "count"))
    labels = (str_field(row, "type", where), str_field(row, "level", where))
    if not all(_ENUM.fullmatch(label) for label in labels):
        raise MalformedInput(f"{where}: type and level must be enumeration labels ([a-z0-9_-], up to 32), "
                             f"got {labels[0][:40]!r}, {labels[1][:40]!r}")
    if int_field(row, "count", where) == 0:
        raise MalformedInput(f"{where}.count must be positive (rows with no events are left out)")
    return labels
