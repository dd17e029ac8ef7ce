"""An S3 bucket as the object store, through the ``minio`` SDK (Apache-2.0); tested on MinIO and SeaweedFS.

Puts stream as multipart uploads of ``part_size`` bytes, one part in memory at a time. When the bucket has
S3 Object Lock enabled, every object is written locked (``lock_mode``, until the put's ``retain_until``),
and the server, not this code, refuses to delete a version before that date. ``delete`` removes every
version of a key, so the bytes are really gone (a plain S3 delete on a versioned bucket only hides them).
SDK, HTTP and socket errors are translated here, once, into the ``ObjectStoreError`` tree.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import urllib3
from minio import Minio
from minio.error import InvalidResponseError, MinioException, S3Error, ServerError
from minio.retention import Retention as SdkRetention

from ingest.objectstore.base import (
    AccessDenied,
    InvalidRange,
    InvalidRetention,
    LockMode,
    ObjectExists,
    ObjectInfo,
    ObjectLocked,
    ObjectLockUnsupported,
    ObjectNotFound,
    ObjectStoreError,
    PutData,
    PutReader,
    Retention,
    StoreMisconfigured,
    StoreUnavailable,
    check_key,
    check_range,
)
from ledger.clock import Clock

__all__ = ["MIN_PART_SIZE", "S3ObjectStore"]

MIN_PART_SIZE = 5 << 20  # S3's smallest multipart part (except the last)
_MAX_PARTS = 10_000
_NOT_FOUND = {"NoSuchKey", "NoSuchObject", "NoSuchVersion", "MethodNotAllowed", "ResourceNotFound"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}


class S3ObjectStore:
    """The objects of ``bucket`` on the S3 server behind ``client``.

    ``clock`` checks retain-until dates; ``lock_mode`` is the Object Lock mode used when the bucket has
    Object Lock enabled; ``part_size`` (>= 5 MiB) bounds the memory of a put. Raises ``StoreMisconfigured``
    if the bucket does not exist, ``AccessDenied`` or ``StoreUnavailable`` if it cannot be checked.
    """

    def __init__(self, client: Minio, bucket: str, *, clock: Clock, lock_mode: LockMode = LockMode.GOVERNANCE,
                 part_size: int = 8 << 20, chunk_size: int = 1 << 20) -> None:
        if part_size < MIN_PART_SIZE:
            raise StoreMisconfigured(f"part_size must be >= {MIN_PART_SIZE} bytes (S3's minimum), got {part_size}")
        self.client, self.bucket, self.clock = client, bucket, clock
        self.part_size, self.chunk_size = part_size, chunk_size
        self._endpoint = str(client._base_url.host)
        with self._errors("open bucket", ""):
            if not client.bucket_exists(bucket):
                raise StoreMisconfigured(f"bucket {bucket!r} does not exist on {self._endpoint}; create it "
                                         "(S3ObjectStore.connect(..., create=True)) or fix the name")
        self._lock_mode = lock_mode if self._bucket_locks() else None

    @classmethod
    def connect(cls, url: str, bucket: str, *, clock: Clock, create: bool = False, object_lock: bool = False,
                **options: Any) -> S3ObjectStore:
        """A store for ``bucket`` at ``url`` (``http[s]://ACCESS_KEY:SECRET@host:port``, percent-encoded).

        With ``create`` a missing bucket is made, with Object Lock if ``object_lock``. ``options`` go to the
        constructor (``lock_mode``, ``part_size``, ``chunk_size``).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is None:
            raise StoreMisconfigured(f"S3 URL must look like http[s]://ACCESS_KEY:SECRET@host:port, got "
                                     f"{parts.scheme}://{parts.hostname}:{parts.port} (credentials hidden)")
        http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=5, read=120),
                                   retries=urllib3.Retry(total=2, backoff_factor=0.2,
                                                         status_forcelist=[500, 502, 503, 504]))
        client = Minio(parts.netloc.rpartition("@")[2], access_key=unquote(parts.username),
                       secret_key=unquote(parts.password or ""), secure=parts.scheme == "https",
                       http_client=http)
        if create:
            with _errors(parts.netloc.rpartition("@")[2], bucket, "create bucket", ""):
                if not client.bucket_exists(bucket):
                    client.make_bucket(bucket, object_lock=object_lock)
        return cls(client, bucket, clock=clock, **options)

    @property
    def locking(self) -> LockMode | None:
        """The lock mode of every put if the bucket has Object Lock enabled, else ``None``."""
        return self._lock_mode

    def put(self, key: str, data: PutData, *, length: int | None = None, replace: bool = False,
            retain_until: datetime | None = None) -> ObjectInfo:
        """See ``ObjectStore.put``. A new key is checked and then written; two writers racing for the same
        new key may both succeed (S3 conditional writes are not in the SDK), the later one winning."""
        check_key(key)
        retention = self._retention(key, retain_until)
        self._check_overwrite(key, replace)
        reader = PutReader(key, data, length)
        with self._errors("put", key):
            self.client.put_object(self.bucket, key, reader, -1 if reader.length is None else reader.length,  # type: ignore[arg-type]
                                   part_size=self._part_size(reader.length), num_parallel_uploads=1,
                                   retention=retention)
        return self.stat(key)

    def get(self, key: str, *, offset: int = 0, length: int | None = None) -> bytes:
        """See ``ObjectStore.get``."""
        return b"".join(self.stream(key, offset=offset, length=length))

    def stream(self, key: str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """See ``ObjectStore.stream``."""
        check_key(key)
        check_range(offset, length)
        with self._errors("get", key):
            response = self.client.get_object(self.bucket, key, offset=offset, length=length or 0)
        return self._chunks(response, key)

    def stat(self, key: str) -> ObjectInfo:
        """See ``ObjectStore.stat``."""
        check_key(key)
        with self._errors("stat", key):
            obj = self.client.stat_object(self.bucket, key)
        mode, until = (obj.metadata or {}).get("x-amz-object-lock-mode"), \
            (obj.metadata or {}).get("x-amz-object-lock-retain-until-date")
        retention = Retention(LockMode(mode), datetime.fromisoformat(until)) if mode and until else None
        return ObjectInfo(key=key, size=obj.size or 0, modified=obj.last_modified or self.clock.now(),
                          etag=obj.etag, retention=retention)

    def exists(self, key: str) -> bool:
        """See ``ObjectStore.exists``."""
        try:
            self.stat(key)
        except ObjectNotFound:
            return False
        return True

    def delete(self, key: str) -> None:
        """See ``ObjectStore.delete``: every version goes, newest last; the server refuses locked ones."""
        self._refuse_if_locked(self.stat(key), "delete")
        with self._errors("list versions of", key):
            versions = [o.version_id for o in self.client.list_objects(
                self.bucket, prefix=key, include_version=True) if o.object_name == key]
        for version in reversed(versions):
            with self._errors("delete", key):
                self.client.remove_object(self.bucket, key, version_id=version)

    def _bucket_locks(self) -> bool:
        try:
            self.client.get_object_lock_config(self.bucket)
        except S3Error as exc:
            if exc.code in _DENIED:
                raise AccessDenied(f"S3 server {self._endpoint} refused the credentials for bucket "
                                   f"{self.bucket!r} ({exc.code}); check the access key and secret") from exc
            return False  # no Object Lock configuration (or the server has no Object Lock at all)
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise _translate(exc, self._endpoint, self.bucket, "read the Object Lock configuration of", "") from exc
        return True

    def _retention(self, key: str, retain_until: datetime | None) -> SdkRetention | None:
        if self._lock_mode is None:
            if retain_until is not None:
                raise ObjectLockUnsupported(f"bucket {self.bucket!r} has no Object Lock, so {key!r} cannot be "
                                            "locked; create the bucket with Object Lock or pass no retain_until")
            return None
        if retain_until is None or retain_until.tzinfo is None:
            raise InvalidRetention(f"bucket {self.bucket!r} writes objects locked ({self._lock_mode}): pass an "
                                   f"aware retain_until for {key!r}, got {retain_until!r}")
        if retain_until <= self.clock.now():
            raise InvalidRetention(f"retain_until {retain_until.isoformat()} for {key!r} is not in the future "
                                   f"(now {self.clock.now().isoformat()})")
        return SdkRetention(str(self._lock_mode), retain_until)

    def _check_overwrite(self, key: str, replace: bool) -> None:
        try:
            info = self.stat(key)
        except ObjectNotFound:
            return
        if not replace:
            raise ObjectExists(f"an object {key!r} already exists in bucket {self.bucket!r}; "
                               "pass replace=True to overwrite it")
        self._refuse_if_locked(info, "overwrite")

    def _refuse_if_locked(self, info: ObjectInfo, action: str) -> None:
        if info.retention is not None and info.retention.until > self.clock.now():
            raise ObjectLocked(f"cannot {action} {info.key!r}: it is locked ({info.retention.mode}) until "
                               f"{info.retention.until.isoformat()}")

    def _part_size(self, length: int | None) -> int:
        if length is None:
            return self.part_size
        return max(self.part_size, math.ceil(length / _MAX_PARTS))

    def _chunks(self, response: Any, key: str) -> Iterator[bytes]:
        try:
            with self._errors("get", key):
                yield from response.stream(self.chunk_size)
        finally:
            response.close()
            response.release_conn()

    def _errors(self, action: str, key: str) -> contextlib.AbstractContextManager[None]:
        return _errors(self._endpoint, self.bucket, action, key)


@contextlib.contextmanager
def _errors(endpoint: str, bucket: str, action: str, key: str) -> Iterator[None]:
    try:
        yield
    except ObjectStoreError:
        raise
    except (MinioException, ValueError, urllib3.exceptions.HTTPError, OSError) as exc:
        raise _translate(exc, endpoint, bucket, action, key) from exc


def _translate(exc: Exception, endpoint: str, bucket: str, action: str, key: str) -> ObjectStoreError:
    """The one mapping from SDK, HTTP and socket errors to the object-store tree."""
    where = f"{key!r} in bucket {bucket!r}" if key else f"bucket {bucket!r}"
    if isinstance(exc, S3Error):
        detail = f"{exc.code}: {exc.message}"
        if exc.code in _NOT_FOUND:
            return ObjectNotFound(f"no object {where}")
        if exc.code == "NoSuchBucket":
            return StoreMisconfigured(f"bucket {bucket!r} does not exist on {endpoint}")
        if exc.code == "InvalidRange":
            return InvalidRange(f"cannot {action} {where}: the range starts at or after its end ({detail})")
        if exc.code == "ObjectLocked" or "WORM" in (exc.message or ""):  # MinIO: "Object is WORM protected"
            return ObjectLocked(f"cannot {action} {where}: the server says it is locked ({detail})")
        if exc.code in _DENIED:
            return AccessDenied(f"S3 server {endpoint} refused to {action} {where} ({detail}); "
                                "check the access key, secret and bucket policy")
        return ObjectStoreError(f"S3 {action} of {where} failed: {detail}")
    if isinstance(exc, ServerError):
        return StoreUnavailable(f"S3 server {endpoint} failed to {action} {where}: {exc}; retry later")
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and isinstance(exc.reason, urllib3.exceptions.ResponseError):
        return StoreUnavailable(f"S3 server {endpoint} kept failing (HTTP 5xx) to {action} {where}; "
                                "see the server's log, then retry")
    if isinstance(exc, InvalidResponseError | ValueError):
        return ObjectStoreError(f"S3 {action} of {where} failed: {exc}")
    return StoreUnavailable(f"S3 server {endpoint} is unreachable to {action} {where} "
                            f"({type(exc).__name__}: {exc}); is it running (network/network.sh status)?")
