"""Exceptions of ``ingest.media``: one base, one subclass per way a media object can be wrong.

``MalformedObject`` means the bytes do not have the segment format's structure (docs/formats.md, "Media
segments"); the ``SegmentTampered`` family means the structure is fine but a segment does not authenticate
where it stands; ``DigestMismatch`` and ``SizeMismatch`` mean the plaintext is not what its uploader declared.
"""

from __future__ import annotations

__all__ = [
    "DigestMismatch",
    "MalformedObject",
    "MediaError",
    "SegmentTampered",
    "SizeMismatch",
    "TrailingData",
    "TruncatedObject",
]


class MediaError(Exception):
    """Base of every error raised by ``ingest.media``."""

    def diagnostics(self) -> str:
        """A human explanation of what went wrong, for the CLI and the logs."""
        return str(self)


class MalformedObject(MediaError):
    """The object's header or a segment's length does not fit the format (bad magic, version, sizes)."""


class SegmentTampered(MediaError):
    """A segment fails SM4-GCM authentication at its position: altered, moved, or from another object."""


class TruncatedObject(SegmentTampered):
    """The object ends before its final segment (segments were cut off the end)."""


class TrailingData(SegmentTampered):
    """Bytes follow the final segment (a segment or garbage was appended)."""


class DigestMismatch(MediaError):
    """The SM3 of the plaintext differs from the one its uploader declared; nothing was stored."""


class SizeMismatch(MediaError):
    """The plaintext is longer or shorter than declared; nothing was stored."""
