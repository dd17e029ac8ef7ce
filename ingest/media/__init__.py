"""Media evidence: streaming SM4-GCM segments (``segments``), their byte layout (``format``), and sinks."""

from ingest.media.errors import (
    DigestMismatch,
    MalformedObject,
    MediaError,
    SegmentTampered,
    SizeMismatch,
    TrailingData,
    TruncatedObject,
)
from ingest.media.format import DEFAULT_SEGMENT_SIZE, Header, Layout
from ingest.media.segments import (
    StoredObject,
    decrypt_stream,
    encrypt_stream,
    encrypt_upload,
    open_data_key,
    read_range,
)
from ingest.media.sinks import FileSink, MemorySink, Sink

__all__ = [
    "DEFAULT_SEGMENT_SIZE",
    "DigestMismatch",
    "FileSink",
    "Header",
    "Layout",
    "MalformedObject",
    "MediaError",
    "MemorySink",
    "SegmentTampered",
    "Sink",
    "SizeMismatch",
    "StoredObject",
    "TrailingData",
    "TruncatedObject",
    "decrypt_stream",
    "encrypt_stream",
    "encrypt_upload",
    "open_data_key",
    "read_range",
]
