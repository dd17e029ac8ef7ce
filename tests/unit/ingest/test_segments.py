"""Streaming SM4-GCM media segments (``ingest.media.segments``): round trips, ranges, tampering, commit rules."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.media import (
    DigestMismatch,
    FileSink,
    Header,
    Layout,
    MalformedObject,
    MemorySink,
    SegmentTampered,
    SizeMismatch,
    StoredObject,
    TrailingData,
    TruncatedObject,
    decrypt_stream,
    encrypt_stream,
    encrypt_upload,
    open_data_key,
    read_range,
)
from ingest.media.format import HEADER_SIZE, TAG_SIZE
from ledger.keystore import LocalKeyWrapper
from ledger.sm import sm3

SEG = 64
WRAPPER = LocalKeyWrapper(b"m" * 32)
OBJECT_ID = uuid.UUID("00000000-0000-4000-8000-000000000013")
SIZES = [0, 1, SEG - 1, SEG, SEG + 1, 7 * SEG + 5, 8 * SEG]


def _chunks(data: bytes, width: int) -> Iterator[bytes]:
    for i in range(0, len(data), width):
        yield data[i : i + width]


def _upload(data: bytes, *, width: int = 50, sm3_of: bytes | None = None) -> tuple[StoredObject, bytes]:
    sink = MemorySink()
    stored = encrypt_upload(_chunks(data, width), sink, tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                            expected_sm3=sm3(data if sm3_of is None else sm3_of), segment_size=SEG)
    return stored, sink.value()


def _decrypt(stored: StoredObject, blob: bytes, width: int = 33) -> bytes:
    key = open_data_key(stored, tenant="t1", wrapper=WRAPPER)
    return b"".join(decrypt_stream(key, _chunks(blob, width), object_id=OBJECT_ID))


def _range(stored: StoredObject, blob: bytes, start: int, end: int, fetched: list[int] | None = None) -> bytes:
    def fetch(offset: int, length: int) -> bytes:
        if fetched is not None:
            fetched.append(offset)
        return blob[offset : offset + length]

    key = open_data_key(stored, tenant="t1", wrapper=WRAPPER)
    return b"".join(read_range(key, fetch, object_id=OBJECT_ID, plaintext_size=stored.plaintext_size,
                               start=start, end=end))


@pytest.mark.parametrize("size", SIZES)
def test_upload_round_trip_at_segment_boundaries(size: int) -> None:
    data = os.urandom(size)
    stored, blob = _upload(data)
    assert _decrypt(stored, blob) == data
    assert len(blob) == stored.layout.object_size == HEADER_SIZE + size + TAG_SIZE * stored.layout.segment_count
    assert (stored.plaintext_size, stored.sm3) == (size, sm3(data))


@settings(max_examples=40, deadline=None)
@given(data=st.binary(max_size=12 * SEG), width=st.integers(1, 3 * SEG), read_width=st.integers(1, 3 * SEG))
def test_decrypt_of_encrypt_is_identity_for_any_chunking(data: bytes, width: int, read_width: int) -> None:
    stored, blob = _upload(data, width=width)
    assert _decrypt(stored, blob, read_width) == data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=10 * SEG), bounds=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_range_equals_slice(data: bytes, bounds: tuple[float, float]) -> None:
    start, end = sorted(int(b * len(data)) for b in bounds)
    stored, blob = _upload(data)
    assert _range(stored, blob, start, end) == data[start:end]


def test_range_fetches_only_touched_segments() -> None:
    data = os.urandom(10 * SEG)
    stored, blob = _upload(data)
    fetched: list[int] = []
    assert _range(stored, blob, 3 * SEG + 1, 4 * SEG + 2, fetched) == data[3 * SEG + 1 : 4 * SEG + 2]
    assert fetched == [0, HEADER_SIZE + 3 * (SEG + TAG_SIZE), HEADER_SIZE + 4 * (SEG + TAG_SIZE)]


def test_range_refuses_bounds_outside_plaintext() -> None:
    stored, blob = _upload(b"x" * 10)
    with pytest.raises(ValueError, match=r"range \[5, 11\) is not within the plaintext's 10 bytes"):
        _range(stored, blob, 5, 11)


def test_layout_span_and_sizes() -> None:
    layout = Layout(SEG, 3 * SEG)
    assert (layout.segment_count, list(layout.segment_span(SEG, SEG + 1)), list(layout.segment_span(4, 4))) == (
        3, [1], [])
    assert Layout(SEG, 0).segment_count == 1


def _segs(blob: bytes) -> tuple[bytes, list[bytes]]:
    body = blob[HEADER_SIZE:]
    return blob[:HEADER_SIZE], [body[i : i + SEG + TAG_SIZE] for i in range(0, len(body), SEG + TAG_SIZE)]


def _flip(blob: bytes, at: int) -> bytes:
    raw = bytearray(blob)
    raw[at] ^= 0x01
    return bytes(raw)


def test_decrypt_truncated_at_segment_boundary() -> None:
    stored, blob = _upload(os.urandom(3 * SEG + 9))
    head, segs = _segs(blob)
    with pytest.raises(TruncatedObject, match="ends after segment 2, which is not its final segment"):
        _decrypt(stored, head + b"".join(segs[:3]))


def test_decrypt_header_only_is_truncated() -> None:
    stored, blob = _upload(b"abc")
    with pytest.raises(TruncatedObject, match="has a header but no segments"):
        _decrypt(stored, blob[:HEADER_SIZE])


def test_decrypt_short_header_is_malformed() -> None:
    stored, blob = _upload(b"abc")
    with pytest.raises(MalformedObject, match="media header is 20 bytes, want 48"):
        _decrypt(stored, blob[:20])


def test_decrypt_reordered_segments() -> None:
    stored, blob = _upload(os.urandom(3 * SEG))
    head, segs = _segs(blob)
    with pytest.raises(SegmentTampered, match="segment 0 fails authentication: .* moved from another position"):
        _decrypt(stored, head + segs[1] + segs[0] + segs[2])


def test_decrypt_segment_spliced_from_another_object_with_the_same_key() -> None:
    key, prefix = os.urandom(16), os.urandom(7)
    headers = [Header(uuid.uuid4(), uuid.uuid4(), SEG, prefix) for _ in range(2)]
    blobs = [b"".join(encrypt_stream(key, h, [os.urandom(2 * SEG)])) for h in headers]
    spliced = blobs[0][: HEADER_SIZE + SEG + TAG_SIZE] + blobs[1][HEADER_SIZE + SEG + TAG_SIZE :]
    with pytest.raises(SegmentTampered, match="segment 1 fails authentication"):
        b"".join(decrypt_stream(key, [spliced], object_id=headers[0].object_id))


def test_decrypt_flipped_tag_bit() -> None:
    stored, blob = _upload(os.urandom(2 * SEG))
    with pytest.raises(SegmentTampered, match="segment 0 fails authentication"):
        _decrypt(stored, _flip(blob, HEADER_SIZE + SEG + TAG_SIZE - 1))


def test_decrypt_extra_segment_after_full_final() -> None:
    stored, blob = _upload(os.urandom(2 * SEG))
    _, segs = _segs(blob)
    with pytest.raises(TrailingData, match="segment 1 is the final segment but more bytes follow"):
        _decrypt(stored, blob + segs[0])


def test_decrypt_other_object_id_refused() -> None:
    stored, blob = _upload(b"abc")
    key = open_data_key(stored, tenant="t1", wrapper=WRAPPER)
    with pytest.raises(SegmentTampered, match="this is another object's data"):
        b"".join(decrypt_stream(key, [blob], object_id=uuid.uuid4()))


def test_wrapped_key_bound_to_header() -> None:
    stored, _ = _upload(b"abc")
    other = Header(uuid.uuid4(), stored.header.data_key_id, SEG, stored.header.nonce_prefix)
    moved = StoredObject(other, stored.wrapped_key, stored.plaintext_size, stored.sm3)
    with pytest.raises(Exception, match="sm4-gcm authentication failed"):
        open_data_key(moved, tenant="t1", wrapper=WRAPPER)


@settings(max_examples=40, deadline=None)
@given(data=st.binary(min_size=1, max_size=6 * SEG), where=st.floats(0, 1), bit=st.integers(0, 7))
def test_any_flipped_bit_is_refused(data: bytes, where: float, bit: int) -> None:
    stored, blob = _upload(data)
    raw = bytearray(blob)
    raw[int(where * (len(raw) - 1))] ^= 1 << bit
    with pytest.raises((SegmentTampered, MalformedObject), match="segment|header|object|magic|version|size"):
        _decrypt(stored, bytes(raw))


def test_range_reading_final_segment_detects_appended_data() -> None:
    data = os.urandom(2 * SEG + 3)
    stored, blob = _upload(data)
    assert _range(stored, blob, 0, SEG) == data[:SEG]
    with pytest.raises(TrailingData, match="continues after its final segment 2"):
        _range(stored, blob + b"junk", 2 * SEG, 2 * SEG + 3)


def test_range_on_truncated_object() -> None:
    stored, blob = _upload(os.urandom(3 * SEG))
    with pytest.raises(TruncatedObject, match="segment 2 should be 80 bytes at offset 208, the object holds 0"):
        _range(stored, blob[: HEADER_SIZE + 2 * (SEG + TAG_SIZE)], 2 * SEG, 2 * SEG + 1)


def test_range_with_wrong_recorded_size_is_refused() -> None:
    stored, blob = _upload(os.urandom(2 * SEG))
    key = open_data_key(stored, tenant="t1", wrapper=WRAPPER)
    with pytest.raises(TrailingData, match="segment 1 is the final segment but more bytes follow"):
        b"".join(read_range(key, lambda o, n: blob[o : o + n], object_id=OBJECT_ID, plaintext_size=2 * SEG + 1,
                            start=SEG, end=SEG + 1))


def test_upload_sm3_mismatch_stores_nothing(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "obj")
    with pytest.raises(DigestMismatch, match="nothing was stored: check the file and upload it again"):
        encrypt_upload([b"a" * 100], sink, tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(b"b" * 100), segment_size=SEG)
    assert list(tmp_path.iterdir()) == []


def test_upload_memory_sink_has_no_value_after_mismatch() -> None:
    sink = MemorySink()
    with pytest.raises(DigestMismatch):
        encrypt_upload([b"a"], sink, tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID, expected_sm3=sm3(b"b"))
    with pytest.raises(LookupError, match="nothing was committed"):
        sink.value()


def test_upload_longer_than_declared_stops_early(tmp_path: Path) -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"z" * 1000

    with pytest.raises(SizeMismatch, match="longer than the declared 5000 bytes"):
        encrypt_upload(endless(), FileSink(tmp_path / "obj"), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(b""), expected_size=5000)
    assert list(tmp_path.iterdir()) == []


def test_upload_shorter_than_declared(tmp_path: Path) -> None:
    with pytest.raises(SizeMismatch, match="upload is 3 bytes, declared 4"):
        encrypt_upload([b"abc"], MemorySink(), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(b"abc"), expected_size=4)


def test_upload_source_failure_aborts(tmp_path: Path) -> None:
    def broken() -> Iterator[bytes]:
        yield b"a" * 200
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        encrypt_upload(broken(), FileSink(tmp_path / "obj"), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(b""), segment_size=SEG)
    assert list(tmp_path.iterdir()) == []


def test_upload_file_sink_commits_and_refuses_overwrite(tmp_path: Path) -> None:
    data = os.urandom(300)
    stored = encrypt_upload([data], FileSink(tmp_path / "obj"), tenant="t1", wrapper=WRAPPER,
                            object_id=OBJECT_ID, expected_sm3=sm3(data), segment_size=SEG)
    assert [p.name for p in tmp_path.iterdir()] == ["obj"]
    assert _decrypt(stored, (tmp_path / "obj").read_bytes()) == data
    with pytest.raises(FileExistsError):
        encrypt_upload([data], FileSink(tmp_path / "obj"), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(data), segment_size=SEG)
    assert [p.name for p in tmp_path.iterdir()] == ["obj"]


def test_upload_refuses_bad_parameters() -> None:
    with pytest.raises(ValueError, match="expected sm3 must be 32 bytes, got 3"):
        encrypt_upload([b""], MemorySink(), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID, expected_sm3=b"abc")
    with pytest.raises(MalformedObject, match="segment size 8 is out of range: want 16 to 16777216"):
        encrypt_upload([b""], MemorySink(), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(b""), segment_size=8)


def test_header_bad_magic_and_version() -> None:
    raw = Header(OBJECT_ID, OBJECT_ID, SEG, b"p" * 7).to_bytes()
    with pytest.raises(MalformedObject, match="magic is b'XZMS', want b'TZMS'"):
        Header.from_bytes(b"X" + raw[1:])
    with pytest.raises(MalformedObject, match="version 9 is not supported, want 1"):
        Header.from_bytes(raw[:4] + b"\x09" + raw[5:])


@pytest.mark.parametrize("threaded", [True, False])
def test_sm3_helper_threaded_and_inline_agree(threaded: bool) -> None:
    from ingest.media.segments import _Sm3

    data = os.urandom(5 * SEG + 7)
    with _Sm3(threaded=threaded) as hasher:
        for block in _chunks(data, SEG):
            hasher.update(block)
        assert hasher.digest() == sm3(data)


def test_upload_bad_parameters_leave_no_partial_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="expected sm3 must be 32 bytes"):
        encrypt_upload([b"x"], FileSink(tmp_path / "a"), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=b"short")
    with pytest.raises(MalformedObject, match="segment size 1 is out of range"):
        encrypt_upload([b"x"], FileSink(tmp_path / "b"), tenant="t1", wrapper=WRAPPER, object_id=OBJECT_ID,
                       expected_sm3=sm3(b"x"), segment_size=1)
    assert list(tmp_path.iterdir()) == []
