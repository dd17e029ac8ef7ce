"""One behavioural suite over every object store: the filesystem, a real MinIO and a real SeaweedFS server
(``TIEZHENG_TEST_MINIO_URL`` / ``TIEZHENG_TEST_SEAWEEDFS_URL``, started by ``scripts/test.sh``), plus Object
Lock on MinIO: a locked object can be neither deleted nor overwritten, and it is the server that refuses."""

from __future__ import annotations

import io
import os
import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from minio.deleteobjects import DeleteObject
from minio.error import S3Error

from ingest.objectstore import (
    AccessDenied,
    FilesystemObjectStore,
    InvalidKey,
    InvalidRange,
    InvalidRetention,
    KeyConflict,
    LengthMismatch,
    LockMode,
    ObjectExists,
    ObjectLocked,
    ObjectLockUnsupported,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    SourceError,
    StoreMisconfigured,
    StoreUnavailable,
)
from ingest.objectstore.s3 import MIN_PART_SIZE
from ledger.clock import Clock, ManualClock

MIB = 1 << 20
PART = MIN_PART_SIZE  # S3 part size in these tests; the filesystem store writes in 1 MiB chunks
S3_ENV = {"minio": "TIEZHENG_TEST_MINIO_URL", "seaweedfs": "TIEZHENG_TEST_SEAWEEDFS_URL"}
BAD_KEYS = ["..", "../escape", "a/../../escape", "a/..", "./a", "a/./b", "a//b", "/abs", "a\\b", "a\x00b", ""]


def _s3_url(config: pytest.Config, server: str) -> str:
    url = os.environ.get(S3_ENV[server])
    if not url:
        reason = f"{S3_ENV[server]} is not set (start {server} with: bash network/nodes/{server}.sh up)"
        if config.getoption("--require-services"):
            pytest.fail(f"required service missing: {reason}")
        pytest.skip(reason)
    return url


@pytest.fixture
def clock() -> ManualClock:
    # S3 servers judge retention by their own clock, so the manual clock starts at the real time
    return ManualClock(Clock().now())


def _s3_store(url: str, clock: ManualClock, *, object_lock: bool = False, **options: object) -> S3ObjectStore:
    return S3ObjectStore.connect(url, f"tz-{uuid.uuid4().hex[:16]}", clock=clock, create=True,
                                 object_lock=object_lock, part_size=PART, **options)  # type: ignore[arg-type]


def _drop_bucket(store: S3ObjectStore) -> None:
    """Remove every version (bypassing GOVERNANCE) and the bucket; COMPLIANCE-locked ones stay."""
    versions = [DeleteObject(o.object_name, o.version_id) for o in store.client.list_objects(
        store.bucket, recursive=True, include_version=True)]
    errors = list(store.client.remove_objects(store.bucket, versions, bypass_governance_mode=True))
    if not errors:
        store.client.remove_bucket(store.bucket)


@pytest.fixture(params=["filesystem", pytest.param("minio", marks=pytest.mark.minio),
                        pytest.param("seaweedfs", marks=pytest.mark.seaweedfs)])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: ManualClock) -> Iterator[ObjectStore]:
    """The same tests on the filesystem store and on a fresh bucket of each real S3 server."""
    if request.param == "filesystem":
        yield FilesystemObjectStore(tmp_path / "objects")
        return
    s3 = _s3_store(_s3_url(request.config, request.param), clock)
    yield s3
    _drop_bucket(s3)


@pytest.fixture
def minio_url(pytestconfig: pytest.Config) -> str:
    return _s3_url(pytestconfig, "minio")


def _chunks(total: int, size: int = MIB) -> Iterator[bytes]:
    """``total`` bytes in ``size`` chunks; each chunk's bytes differ, so misordering is caught."""
    for n, start in enumerate(range(0, total, size)):
        yield (n.to_bytes(4, "big") * (size // 4 + 1))[: min(size, total - start)]


class _RecordingFile(io.BytesIO):
    """A file that remembers the largest read asked of it."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        self.largest = max(self.largest, size if size is not None and size >= 0 else 1 << 62)
        return super().read(size)


def test_put_streams_unknown_length_in_bounded_memory(store: ObjectStore) -> None:
    size = 8 * PART + 12345  # 9 parts on S3
    tracemalloc.start()
    try:
        info = store.put("media/video.mp4", _chunks(size))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == size and store.stat("media/video.mp4").size == size
    # a whole-object buffer would need >= 40 MiB; the SDK holds one 5 MiB part (plus its copies)
    assert peak < 4 * PART, f"put buffered {peak} bytes for a {size}-byte object"
    if isinstance(store, S3ObjectStore):
        assert info.etag is not None and info.etag.endswith("-9"), info.etag  # 9 multipart parts
    assert store.get("media/video.mp4") == b"".join(_chunks(size))


def test_put_from_file_with_known_length_reads_bounded_pieces(store: ObjectStore) -> None:
    data = b"".join(_chunks(2 * PART + 777, 4096))
    source = _RecordingFile(data)
    info = store.put("media/photo.jpg", source, length=len(data))
    assert info.size == len(data) and store.get("media/photo.jpg") == data
    assert 0 < source.largest <= PART
    if isinstance(store, S3ObjectStore):
        assert info.etag is not None and info.etag.endswith("-3"), info.etag


def test_put_bytes_and_empty_object(store: ObjectStore) -> None:
    store.put("a/empty", b"")
    store.put("a/small", b"hello")
    assert store.get("a/empty") == b"" and store.stat("a/empty").size == 0
    assert store.get("a/small") == b"hello"


@pytest.mark.parametrize(("data", "length", "message"), [
    (b"short", 6, "ended after 5 bytes, but its declared length is 6"),
    (b"longer", 5, "longer than its declared length of 5 bytes"),
])
def test_put_length_mismatch_stores_nothing(store: ObjectStore, data: bytes, length: int, message: str) -> None:
    with pytest.raises(LengthMismatch, match=message):
        store.put("x/mismatch", io.BytesIO(data), length=length)
    assert not store.exists("x/mismatch")


def test_put_length_mismatch_after_several_parts_stores_nothing(store: ObjectStore) -> None:
    with pytest.raises(LengthMismatch, match=f"ended after {2 * PART} bytes"):
        store.put("x/truncated", _chunks(2 * PART), length=3 * PART)
    assert not store.exists("x/truncated")


def test_put_source_failure_is_source_error_and_stores_nothing(store: ObjectStore) -> None:
    def broken() -> Iterator[bytes]:
        yield b"x" * MIB
        raise ConnectionResetError("phone went offline")

    with pytest.raises(SourceError, match="reading the data for 'x/broken' failed after 1048576 bytes: "
                                          "ConnectionResetError: phone went offline"):
        store.put("x/broken", broken())
    with pytest.raises(SourceError, match="yielded str, not bytes"):
        store.put("x/broken", iter(["text"]))  # type: ignore[list-item]
    assert not store.exists("x/broken")


def test_get_ranges(store: ObjectStore) -> None:
    data = b"".join(_chunks(PART + 1000, 1000))
    store.put("r", data)
    assert store.get("r", offset=PART - 10, length=20) == data[PART - 10:PART + 10]  # across a part edge
    assert store.get("r", offset=PART) == data[PART:]
    assert store.get("r", offset=PART + 990, length=100) == data[PART + 990:]  # cut at the end
    assert store.get("r", length=3) == data[:3]
    assert b"".join(store.stream("r", offset=7, length=2 * MIB)) == data[7:7 + 2 * MIB]


@pytest.mark.parametrize(("offset", "length", "message"), [
    (-1, None, "offset must be >= 0, got -1"),
    (0, 0, "length must be >= 1 or None"),
    (5, None, "range starts at|starts at or after its end"),
    (9, 1, "range starts at|starts at or after its end"),
])
def test_get_bad_range_is_refused(store: ObjectStore, offset: int, length: int | None, message: str) -> None:
    store.put("r", b"12345")
    with pytest.raises(InvalidRange, match=message):
        store.get("r", offset=offset, length=length)
    with pytest.raises(InvalidRange, match=message):
        store.stream("r", offset=offset, length=length)


def test_put_existing_key_needs_replace(store: ObjectStore) -> None:
    store.put("p/1", b"first")
    with pytest.raises(ObjectExists, match="an object 'p/1' already exists.*pass replace=True"):
        store.put("p/1", b"second")
    assert store.get("p/1") == b"first"
    assert store.put("p/1", b"second!", replace=True).size == 7
    assert store.get("p/1") == b"second!"


def test_missing_object_is_not_found(store: ObjectStore) -> None:
    assert not store.exists("no/such")
    for call in (store.get, store.stat, store.delete, store.stream):
        with pytest.raises(ObjectNotFound, match="no object 'no/such'"):
            call("no/such")


def test_delete_removes_the_object(store: ObjectStore) -> None:
    store.put("d/1", b"bye")
    store.put("d/2", b"stay")
    store.delete("d/1")
    assert not store.exists("d/1") and store.get("d/2") == b"stay"
    with pytest.raises(ObjectNotFound):
        store.get("d/1")


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_key_is_refused_everywhere(store: ObjectStore, key: str) -> None:
    for call in (lambda: store.put(key, b"x"), lambda: store.get(key), lambda: store.stat(key),
                 lambda: store.delete(key), lambda: store.exists(key), lambda: store.stream(key)):
        with pytest.raises(InvalidKey, match="object key"):
            call()


def test_retention_on_a_store_without_lock_is_refused(store: ObjectStore, clock: ManualClock) -> None:
    assert store.locking is None
    with pytest.raises(ObjectLockUnsupported, match="cannot (be )?lock"):
        store.put("l/1", b"x", retain_until=clock.now() + timedelta(days=1))
    assert not store.exists("l/1")


# --- filesystem only ---------------------------------------------------------------------------------

def test_filesystem_refuses_a_symlink_out_of_its_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    store = FilesystemObjectStore(tmp_path / "root")
    (tmp_path / "root" / "link").symlink_to(outside)
    with pytest.raises(InvalidKey, match="leads outside the store's root"):
        store.put("link/escaped", b"x")
    with pytest.raises(InvalidKey, match="is the store.s own folder"):
        store.put(".incoming/x", b"x")
    assert list(outside.iterdir()) == []


def test_filesystem_leaves_no_temporary_files_and_reports_key_conflicts(tmp_path: Path) -> None:
    store = FilesystemObjectStore(tmp_path)
    store.put("a/b", b"1")
    with pytest.raises(LengthMismatch):
        store.put("a/c", b"12", length=3)
    with pytest.raises(KeyConflict, match="cannot hold a key and keys below it"):
        store.put("a/b/c", b"2")
    with pytest.raises(ObjectNotFound):
        store.get("a")  # a folder is not an object
    assert list((tmp_path / ".incoming").iterdir()) == []
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]


def test_filesystem_unusable_root_is_misconfigured(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(StoreMisconfigured, match="object store root .* is unusable"):
        FilesystemObjectStore(tmp_path / "file")


# --- S3 only: configuration and transport errors -----------------------------------------------------

@pytest.mark.parametrize("server", [pytest.param("minio", marks=pytest.mark.minio),
                                    pytest.param("seaweedfs", marks=pytest.mark.seaweedfs)])
def test_s3_wrong_secret_is_access_denied(pytestconfig: pytest.Config, server: str, clock: ManualClock) -> None:
    url = _s3_url(pytestconfig, server)
    store = _s3_store(url, clock)
    try:
        scheme, _, rest = url.partition("://")
        user = rest.split(":", 1)[0]
        wrong = f"{scheme}://{user}:wrong-secret@{rest.rpartition('@')[2]}"
        with pytest.raises(AccessDenied, match="refused"):
            S3ObjectStore.connect(wrong, store.bucket, clock=clock)
    finally:
        _drop_bucket(store)


@pytest.mark.minio
def test_s3_missing_bucket_and_dead_server(minio_url: str, clock: ManualClock) -> None:
    with pytest.raises(StoreMisconfigured, match="bucket 'tz-no-such-bucket' does not exist"):
        S3ObjectStore.connect(minio_url, "tz-no-such-bucket", clock=clock)
    with pytest.raises(StoreUnavailable, match="is unreachable.*is it running"):
        S3ObjectStore.connect("http://k:s@127.0.0.1:9", "tz-any", clock=clock)
    with pytest.raises(StoreMisconfigured, match="S3 URL must look like"):
        S3ObjectStore.connect("ftp://127.0.0.1:9", "tz-any", clock=clock)


# --- Object Lock on MinIO ----------------------------------------------------------------------------

@pytest.fixture(params=[LockMode.GOVERNANCE, LockMode.COMPLIANCE])
def locked_store(request: pytest.FixtureRequest, minio_url: str, clock: ManualClock) -> Iterator[S3ObjectStore]:
    store = _s3_store(minio_url, clock, object_lock=True, lock_mode=request.param)
    yield store
    _drop_bucket(store)


@pytest.mark.minio
def test_object_lock_put_needs_a_future_retain_until(locked_store: S3ObjectStore, clock: ManualClock) -> None:
    with pytest.raises(InvalidRetention, match="writes objects locked .* pass an aware retain_until"):
        locked_store.put("v/1", b"x")
    with pytest.raises(InvalidRetention, match="is not in the future"):
        locked_store.put("v/1", b"x", retain_until=clock.now() - timedelta(seconds=1))
    assert not locked_store.exists("v/1")


@pytest.mark.minio
def test_object_lock_refuses_delete_and_overwrite(locked_store: S3ObjectStore, clock: ManualClock) -> None:
    until = clock.now() + timedelta(minutes=10)
    mode = locked_store.locking
    info = locked_store.put("v/video.mp4", b"process video", retain_until=until)
    assert mode is not None and info.retention is not None and info.retention.mode == mode
    assert abs(info.retention.until - until) < timedelta(seconds=1)
    with pytest.raises(ObjectLocked, match=f"cannot delete 'v/video.mp4': it is locked \\({mode}\\) until"):
        locked_store.delete("v/video.mp4")
    with pytest.raises(ObjectLocked, match="cannot overwrite 'v/video.mp4'"):
        locked_store.put("v/video.mp4", b"forged", replace=True, retain_until=until)
    assert locked_store.get("v/video.mp4") == b"process video"


@pytest.mark.minio
def test_object_lock_is_enforced_by_the_server(locked_store: S3ObjectStore, clock: ManualClock) -> None:
    """Even when this process's clock is wrong (past the date), the server keeps the locked version."""
    until = clock.now() + timedelta(minutes=10)
    locked_store.put("v/keyframe", b"original", retain_until=until)
    version = locked_store.client.stat_object(locked_store.bucket, "v/keyframe").version_id
    clock.advance(timedelta(hours=1))  # our own check now passes; only the server stands in the way
    with pytest.raises(ObjectLocked, match="the server says it is locked"):
        locked_store.delete("v/keyframe")
    with pytest.raises(S3Error, match="WORM protected"):
        locked_store.client.remove_object(locked_store.bucket, "v/keyframe", version_id=version)
    # S3 "overwrites" a locked key by adding a version; the locked bytes stay and stay undeletable
    locked_store.put("v/keyframe", b"forged", replace=True, retain_until=clock.now() + timedelta(minutes=1))
    original = locked_store.client.get_object(locked_store.bucket, "v/keyframe", version_id=version)
    assert original.read() == b"original"
    with pytest.raises(ObjectLocked):
        locked_store.delete("v/keyframe")
