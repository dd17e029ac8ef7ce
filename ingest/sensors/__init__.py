"""Field sensors: BLE gas detectors, their declarative decoders, and the gateway relay into the outbox.

The radio adapters are imported by name where they are used (``ingest.sensors.bleak_link`` in production,
``ingest.sensors.bumble_link`` and ``ingest.sensors.virtual`` with bumble, a test dependency), so this
package imports neither.
"""

from ingest.sensors.decoder import Measurement, Reading, decode, encode
from ingest.sensors.detector import Advertisement, DetectorConnection, DetectorLink
from ingest.sensors.errors import (
    AdapterUnavailable,
    DetectorError,
    ModelFileError,
    NotificationSizeError,
    OutOfRange,
    ReadingRefused,
    SensorError,
    UnknownUnit,
)
from ingest.sensors.gateway import Binding, Relay, reading_payload, watch
from ingest.sensors.model import (
    BUILTIN_MODELS,
    DetectorModel,
    FieldSpec,
    load_model,
    load_models,
    parse_model,
)

__all__ = [
    "BUILTIN_MODELS", "AdapterUnavailable", "Advertisement", "Binding", "DetectorConnection", "DetectorError",
    "DetectorLink", "DetectorModel", "FieldSpec", "Measurement", "ModelFileError", "NotificationSizeError",
    "OutOfRange", "Reading", "ReadingRefused", "Relay", "SensorError", "UnknownUnit", "decode", "encode",
    "load_model", "load_models", "parse_model", "reading_payload", "watch",
]
