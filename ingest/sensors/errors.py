"""Exceptions of ``ingest.sensors``: one base, one subclass per way a detector or its data can be wrong.

``ModelFileError`` means a detector-model file (``models/*.json|toml``) is not a valid decoder; the
``ReadingRefused`` family means one notification cannot become a reading (wrong size, unknown unit, a value
outside the detector's range) and is refused, never guessed; ``DetectorError`` covers the radio side
(no adapter, connection lost, characteristic missing).
"""

from __future__ import annotations

__all__ = [
    "AdapterUnavailable",
    "DetectorError",
    "ModelFileError",
    "NotificationSizeError",
    "OutOfRange",
    "ReadingRefused",
    "SensorError",
    "UnknownUnit",
]


class SensorError(Exception):
    """Base of every error raised by ``ingest.sensors``."""

    def diagnostics(self) -> str:
        """A human explanation of what went wrong, for the CLI and the logs."""
        return str(self)


class ModelFileError(SensorError):
    """A detector-model file is missing, unparsable, or describes an impossible layout; names file and field."""


class ReadingRefused(SensorError):
    """One notification cannot be turned into a reading; the message names the model, field and values."""


class NotificationSizeError(ReadingRefused):
    """The notification is shorter (truncated) or longer (oversized) than the model's layout."""


class UnknownUnit(ReadingRefused, ModelFileError):
    """A unit that has no defined conversion to the unit the rules use (never guessed)."""


class OutOfRange(ReadingRefused):
    """A decoded value lies outside the detector's measuring range or outside physical bounds."""


class DetectorError(SensorError):
    """The radio side failed: scan, connect, subscribe or disconnect; names the detector and the stage."""


class AdapterUnavailable(DetectorError):
    """No usable Bluetooth adapter on this machine (no BlueZ, no D-Bus, no controller)."""
