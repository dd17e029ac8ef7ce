"""``verify.html`` in a real headless Chromium: opened from ``file://``, a pack chosen with its file input,
the verdict read from the page (marker ``browser``).

The page must show the same reason class as ``tiezheng verify --json`` and make no network request.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _missing_service
from tests.e2e.verify_html_kit import VerifyPage, chromium_missing, open_verifier
from verifier.web import VerifyHtmlMissing, verify_html_path

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def verify_html(pytestconfig: pytest.Config) -> Path:
    """The built verify.html (a missing build fails: scripts/install.sh builds it)."""
    missing = chromium_missing()
    if missing:
        _missing_service(pytestconfig, missing)
    try:
        return verify_html_path()
    except VerifyHtmlMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture
def page(verify_html: Path) -> Iterator[VerifyPage]:
    """verify.html open in headless Chromium."""
    with open_verifier(verify_html) as verifier:
        yield verifier


def test_verify_html_is_one_self_contained_file(verify_html: Path) -> None:
    html = verify_html.read_text(encoding="utf-8")
    assert "default-src 'none'" in html  # the page's CSP forbids every request
    assert "<script src" not in html and "<link" not in html
    assert "sm-crypto-v2" in html  # the bundled library's licence travels with it


def test_verify_html_refuses_a_file_that_is_not_a_zip(page: VerifyPage, tmp_path: Path) -> None:
    junk = tmp_path / "pack.zip"
    junk.write_bytes(b"not a zip at all, just text a clerk picked by mistake\n")
    verdict = page.verify(junk, None)
    assert (verdict.state, verdict.reason) == ("unusable", "zip")
    assert "不是规范的 v1 证据包压缩文件" in verdict.text and "not the canonical v1 evidence-pack zip" in verdict.text


def test_verify_html_refuses_a_zip_not_written_as_a_pack(page: VerifyPage, tmp_path: Path) -> None:
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("manifest.json", "{}")
    verdict = page.verify(other, None)
    assert (verdict.state, verdict.reason) == ("unusable", "zip")


def test_verify_html_makes_no_request_but_its_own_file(page: VerifyPage, tmp_path: Path, verify_html: Path) -> None:
    junk = tmp_path / "x.zip"
    junk.write_bytes(b"PK\x05\x06" + bytes(18))
    page.verify(junk, None)
    assert page.requests == [verify_html.as_uri()]
