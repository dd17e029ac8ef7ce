"""``Id``: the string type of every identifier in a request body, with the one pattern of ``ledger.ids``."""

from __future__ import annotations

from typing import Annotated

from pydantic import StringConstraints

from ledger.ids import ID_PATTERN

__all__ = ["Id"]

Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""An id of a tenant, site, area, person, worker, device, key, permit or certificate (``ledger.ids``)."""
