"""Field types the request bodies and query parameters share."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import BeforeValidator

__all__ = ["IsoDate"]

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    """Only a calendar date written ``YYYY-MM-DD`` (pydantic alone would also take a number as a Unix time)."""
    if isinstance(value, date) or (isinstance(value, str) and _DAY.fullmatch(value)):
        return value
    raise ValueError(f"must be a date written YYYY-MM-DD, e.g. 2026-03-01; got {value!r}")


IsoDate = Annotated[date, BeforeValidator(_iso_day)]
"""A calendar date, ``YYYY-MM-DD`` only."""
