"""The one pattern every identifier follows: tenants, sites, areas, people, workers, devices, keys, permits,
certificates, media (docs/formats.md, "Identifiers").

Ids are ASCII on purpose. They are compared byte for byte (a permit's ``prev`` chain, a key's owner, a
tenant's rows), so two ids must never look alike while differing. NFC normalisation would merge composed and
decomposed forms, but would still keep Cyrillic "а" apart from Latin "a" and full-width "Ｐ" apart from "P",
and would let zero-width and bidi controls through unless each were refused by name. ASCII letters, digits
and ``. _ : @ # -`` leave nothing that renders alike; text meant for people (``name``, ``team``) keeps its
Chinese. An id starts with a letter or digit and has no ``/`` or ``\\``, so none is ``.``, ``..`` or a path:
ids end up in URLs, file names and object-store keys.
"""

from __future__ import annotations

import re

from ledger.errors import MalformedInput

__all__ = ["ID_PATTERN", "check_id"]

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@#-]{0,63}$"
"""An id: an ASCII letter or digit, then up to 63 ASCII letters, digits and ``. _ : @ # -``."""

_ID = re.compile(ID_PATTERN)


def check_id(value: object, field: str) -> str:
    """Return ``value`` if it is an id (``ID_PATTERN``); raises ``MalformedInput`` naming ``field`` otherwise.

    >>> check_id("P-2026-001", "subject.permit")
    'P-2026-001'
    >>> check_id("P\\u200b1", "subject.permit")
    Traceback (most recent call last):
    ...
    ledger.errors.MalformedInput: subject.permit must be an id (an ASCII letter or digit, then up to 63 ASCII letters, digits or . _ : @ # -), got 'P\\u200b1'
    """
    if not isinstance(value, str) or _ID.fullmatch(value) is None:
        raise MalformedInput(f"{field} must be an id (an ASCII letter or digit, then up to 63 ASCII letters, digits "
                             f"or . _ : @ # -), got {value!r}")
    return value
