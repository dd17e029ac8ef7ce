"""Object storage for media: one ``ObjectStore`` protocol, the local filesystem (embedded default) and S3
buckets through the ``minio`` SDK (MinIO, SeaweedFS), with S3 Object Lock where the bucket has it.

>>> import tempfile
>>> store = FilesystemObjectStore(tempfile.mkdtemp())
>>> store.put("permits/p-1/photo.jpg", iter([b"\\xff\\xd8", b"jpeg bytes"])).size
12
>>> store.get("permits/p-1/photo.jpg", offset=2, length=4)
b'jpeg'
>>> store.get("../etc/passwd")
Traceback (most recent call last):
ingest.objectstore.base.InvalidKey: object key '../etc/passwd' has a '..' segment; '..', '.' and '//' are refused so no key can leave its folder
"""

from ingest.objectstore.base import (
    AccessDenied,
    InvalidKey,
    InvalidRange,
    InvalidRetention,
    KeyConflict,
    LengthMismatch,
    LockMode,
    ObjectExists,
    ObjectInfo,
    ObjectLocked,
    ObjectLockUnsupported,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    PutData,
    Retention,
    SourceError,
    StoreMisconfigured,
    StoreUnavailable,
)
from ingest.objectstore.filesystem import FilesystemObjectStore
from ingest.objectstore.s3 import S3ObjectStore

__all__ = [
    "AccessDenied", "FilesystemObjectStore", "InvalidKey", "InvalidRange", "InvalidRetention", "KeyConflict",
    "LengthMismatch", "LockMode", "ObjectExists", "ObjectInfo", "ObjectLockUnsupported", "ObjectLocked",
    "ObjectNotFound", "ObjectStore", "ObjectStoreError", "PutData", "Retention", "S3ObjectStore",
    "SourceError", "StoreMisconfigured", "StoreUnavailable",
]
