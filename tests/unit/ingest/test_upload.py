"""Staged resumable uploads: only whole segments count; a crash's torn tail is cut off; after a restart the
SM3 is rebuilt from the staged ciphertext and a segment torn or altered on disk is found and sent again."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest

from ingest.media import DEFAULT_SEGMENT_SIZE, Header, SizeMismatch
from ingest.media.upload import HashCache, StagedUpload, UploadBusy, create_staging, staged_offset

SEG = DEFAULT_SEGMENT_SIZE
KEY = bytes(range(16))


def _staging(tmp_path: Path) -> tuple[Path, Header]:
    header = Header(uuid.uuid4(), uuid.uuid4(), SEG, os.urandom(7))
    path = tmp_path / "u.part"
    create_staging(path, header)
    return path, header


def test_offset_counts_whole_segments_and_the_hash_survives_a_restart(tmp_path: Path) -> None:
    path, header = _staging(tmp_path)
    data = os.urandom(3 * SEG + 10)
    with StagedUpload.open(path, header, KEY, len(data), HashCache()) as upload:
        upload.append(data[:SEG + 5])
        assert upload.offset == SEG
    assert staged_offset(path, header, len(data)) == SEG
    with StagedUpload.open(path, header, KEY, len(data), HashCache()) as upload:  # a new cache: a restart
        upload.append(data[SEG:])
        assert upload.complete and upload.digest() == hashlib.new("sm3", data).digest()


def test_a_torn_tail_is_cut_off(tmp_path: Path) -> None:
    path, header = _staging(tmp_path)
    data = os.urandom(2 * SEG)
    with StagedUpload.open(path, header, KEY, len(data), HashCache()) as upload:
        upload.append(data[:SEG])
    with open(path, "ab") as out:
        out.write(b"\x00" * 1000)  # a crash mid-write of segment 1
    with StagedUpload.open(path, header, KEY, len(data), HashCache()) as upload:
        assert upload.offset == SEG
        upload.append(data[SEG:])
        assert upload.digest() == hashlib.new("sm3", data).digest()


def test_an_altered_staged_segment_is_sent_again(tmp_path: Path) -> None:
    path, header = _staging(tmp_path)
    data = os.urandom(3 * SEG)
    with StagedUpload.open(path, header, KEY, len(data), HashCache()) as upload:
        upload.append(data[:2 * SEG])
    raw = bytearray(path.read_bytes())
    raw[48 + SEG + 16 + 7] ^= 0xFF  # segment 1 damaged on disk
    path.write_bytes(bytes(raw))
    with StagedUpload.open(path, header, KEY, len(data), HashCache()) as upload:
        assert upload.offset == SEG  # segment 1 does not authenticate: the client sends it again
        upload.append(data[SEG:])
        assert upload.digest() == hashlib.new("sm3", data).digest()


def test_one_writer_at_a_time_and_no_bytes_past_the_length(tmp_path: Path) -> None:
    path, header = _staging(tmp_path)
    with StagedUpload.open(path, header, KEY, 10, HashCache()) as upload:
        with pytest.raises(UploadBusy, match="is being written by another request"):
            StagedUpload.open(path, header, KEY, 10, HashCache())
        with pytest.raises(SizeMismatch, match="is declared as 10 bytes; these bytes would end at 11"):
            upload.append(b"x" * 11)
        upload.append(b"x" * 10)
        assert upload.complete
