"""The canonical pack zip: deterministic bytes any unzip reads, and the writer's and reader's refusals."""

from __future__ import annotations

import io
import zipfile

import pytest

from evidence_api.services.pack_zip import PackZipError, write_pack_zip
from tests.tamper.zipraw import raw_zip
from verifier.pack_errors import PackUnusable
from verifier.pack_zip import read_pack_zip

FILES = {"manifest.json": b"{}", "events.jsonl": b"a\n", "media/m-1/0.jpg": b"\xff\xd8", "empty.txt": b""}


def test_write_pack_zip_is_deterministic_sorted_and_readable_by_zipfile() -> None:
    data = write_pack_zip(FILES)
    assert data == write_pack_zip(dict(reversed(list(FILES.items()))))
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None
    assert [i.filename for i in archive.infolist()] == ["empty.txt", "events.jsonl", "manifest.json", "media/m-1/0.jpg"]
    assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert [(e.path, e.data) for e in read_pack_zip(data)] == sorted(FILES.items())


@pytest.mark.parametrize("path", ["../evil", "/abs", "a\\b", "a/./b", "a//b", "dir/", "x" * 256, "中文.txt",
                                  "/".join("a" * 9)])
def test_write_pack_zip_refuses_paths_outside_v1(path: str) -> None:
    with pytest.raises(PackZipError, match="outside the v1 rules|name over 255"):
        write_pack_zip({path: b"x"})


def test_read_pack_zip_refuses_a_zip_of_another_writer() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("manifest.json", b"{}")
    with pytest.raises(PackUnusable, match="not a v1 stored entry|differs") as caught:
        read_pack_zip(buffer.getvalue())
    assert caught.value.reason == "zip"


@pytest.mark.parametrize(("entries", "message"), [
    ([("b", b""), ("a", b"")], "names must ascend"),
    ([("a", b""), ("a", b"")], "names must ascend"),
    ([("A", b""), ("a", b"")], "equals another ignoring case"),
    ([("../x", b"")], "outside"),
])
def test_read_pack_zip_refuses_order_duplicates_and_names(entries: list[tuple[str, bytes]], message: str) -> None:
    with pytest.raises(PackUnusable, match=message):
        read_pack_zip(raw_zip(entries))


@pytest.mark.parametrize("data", [b"", b"PK\x05\x06", b"x" * 100, write_pack_zip(FILES) + b"\n",
                                  write_pack_zip(FILES)[:-3]])
def test_read_pack_zip_refuses_garbage_and_trailing_bytes(data: bytes) -> None:
    with pytest.raises(PackUnusable) as caught:
        read_pack_zip(data)
    assert caught.value.reason == "zip"
