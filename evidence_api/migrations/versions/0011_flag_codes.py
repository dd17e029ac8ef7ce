"""event flags stored as one-character codes (issue 12)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Before: ``events.flags`` holds the flag names, comma-separated ("occurred_long_before_receipt,received_late",
42 bytes). After: each flag the service sets as one character (``ledger.storage.encode_flags``; names it does
not know stay names, escaped with "=" if they could be read as a code), so a typical packed row fits six to a
4 KiB page instead of five. Readers also read rows left with names (no flag the service sets is a code or
starts with "="); the downgrade writes the names back.
"""

import logging
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

# ledger.storage._FLAGS as of this revision (that list only grows at its end, so these codes stay valid)
_FLAGS = ("occurred_long_before_receipt", "received_late", "occurred_in_future", "keyframe.bad_link",
          "keyframe.chain_break", "exif.no_time", "exif.time_mismatch", "exif.no_gps", "exif.place_mismatch")
_CODE = {flag: chr(ord("1") + n) for n, flag in enumerate(_FLAGS)}
_NAME = {code: flag for flag, code in _CODE.items()}
_BATCH = 5000
_log = logging.getLogger("alembic.runtime.migration")


def _encode(stored: str) -> str:
    return ",".join(_CODE.get(f) or (f"={f}" if f in _NAME or f[:1] == "=" else f) for f in stored.split(",") if f)


def _decode(stored: str) -> str:
    return ",".join(_NAME.get(t) or (t[1:] if t[:1] == "=" else t) for t in stored.split(",") if t)


def _rewrite(change: Callable[[str], str]) -> None:
    """Apply ``change`` to the flags of every flagged event, in leaf order, ``_BATCH`` rows at a time."""
    bind, after, done = op.get_bind(), -1, 0
    query = sa.text("SELECT leaf_index, flags FROM events WHERE leaf_index > :after AND flags <> '' "
                    "ORDER BY leaf_index LIMIT :n")
    while rows := bind.execute(query, {"after": after, "n": _BATCH}).fetchall():
        updates = [{"i": i, "f": new} for i, flags in rows if (new := change(flags)) != flags]
        if updates:
            bind.execute(sa.text("UPDATE events SET flags = :f WHERE leaf_index = :i"), updates)
        after, done = rows[-1][0], done + len(rows)
        if done % 100_000 < _BATCH:
            _log.info("0011: flags of %d events rewritten so far", done)


def upgrade() -> None:
    """Flag names -> codes."""
    _rewrite(_encode)


def downgrade() -> None:
    """Flag codes -> names."""
    _rewrite(_decode)
