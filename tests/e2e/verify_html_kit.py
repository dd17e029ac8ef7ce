"""Drive ``verify.html`` in a real headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright).

``open_verifier`` gives a page of the built ``verify.html`` opened from ``file://``; ``VerifyPage.verify``
chooses the trust root and the pack (zip or folder) with the page's own file inputs, waits for the verdict
and returns what the page shows: state (``valid``, ``invalid``, ``unusable``), reason class, file, text.
Every request the page makes is recorded, so a test can assert it made none beyond its own file.

``node_reasons`` runs the same core on Node over many pack files at once, and ``python_reason`` asks the
Python verifier, for the agreement tests and ``bench/web_agreement.py``.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.tamper.packs import PATH_CLASSES
from verifier.pack import verify_pack
from verifier.pack_errors import PackInvalid, PackUnusable
from verifier.trust import TrustRoot

WEB = Path(__file__).resolve().parents[2] / "verifier" / "web"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
_DONE = "#result:is([data-state=valid],[data-state=invalid],[data-state=unusable])"


@dataclass(frozen=True)
class Verdict:
    """What the page shows once it has verified: state, reason class, file, and the result's text."""

    state: str
    reason: str
    path: str
    text: str


@dataclass
class VerifyPage:
    """One open ``verify.html``; ``requests`` lists every URL the page asked for."""

    page: Any
    requests: list[str] = field(default_factory=list)

    def verify(self, pack: Path, trust_root: Path | None) -> Verdict:
        """Choose ``trust_root`` (if any) and ``pack`` (a zip file, or a folder for the folder input)."""
        if trust_root is not None:
            self.page.set_input_files("#trust-root", str(trust_root))
        self.page.set_input_files("#folder" if pack.is_dir() else "#pack", str(pack))
        return self._verdict()


    def drop(self, *files: Path) -> Verdict:
        """Drop ``files`` on the page, as a clerk drags them from the file manager."""
        data = {f.name: base64.b64encode(f.read_bytes()).decode() for f in files}
        transfer = self.page.evaluate_handle(_DATA_TRANSFER, data)
        self.page.dispatch_event("body", "drop", {"dataTransfer": transfer})
        return self._verdict()

    def verify_in_page(self, packs: list[bytes], trust_root: bytes) -> list[dict[str, Any]]:
        """The bundled core's verdicts on ``packs``, run by the page's own script in the browser engine."""
        arg = [base64.b64encode(trust_root).decode(), [base64.b64encode(p).decode() for p in packs]]
        result: list[dict[str, Any]] = self.page.evaluate(_VERIFY_MANY, arg)
        return result

    def _verdict(self) -> Verdict:
        self.page.wait_for_selector(_DONE, timeout=120_000)
        result = self.page.locator("#result")
        return Verdict(result.get_attribute("data-state") or "", result.get_attribute("data-reason") or "",
                       result.get_attribute("data-path") or "", result.inner_text())


_VERIFY_MANY = """([root, packs]) => {
  const bytes = (b64) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const trust = bytes(root);
  return Promise.all(packs.map(async (p) => {
    const r = await window.tiezhengVerify({ zip: bytes(p) }, trust);
    return { reason: r.reason, path: r.path, exit_code: r.exit_code, assurance: r.valid ? r.assurance : null };
  }));
}"""

_DATA_TRANSFER = """(files) => {
  const transfer = new DataTransfer();
  for (const [name, b64] of Object.entries(files)) {
    transfer.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], name));
  }
  return transfer;
}"""


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if shutil.which(CHROMIUM) is None:
        return f"{CHROMIUM} is not installed (bash scripts/install-system.sh installs it)"
    return None


@contextmanager
def open_verifier(html: Path) -> Iterator[VerifyPage]:
    """A fresh headless Chromium page showing ``html`` from ``file://``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            verifier = VerifyPage(page)
            page.on("request", lambda request: verifier.requests.append(request.url))
            page.goto(html.as_uri())
            yield verifier
        finally:
            browser.close()


def python_reason(data: bytes, trust_root: TrustRoot) -> tuple[str | None, str | None]:
    """The Python verifier's (reason class, file) for a pack; (None, assurance) when it accepts it."""
    try:
        report = verify_pack(data, trust_root=trust_root)
    except (PackInvalid, PackUnusable) as exc:
        return exc.reason, exc.path
    return None, report.assurance


def python_verdict(data: bytes, trust_root: TrustRoot) -> tuple[str | None, str | None]:
    """What both verifiers must agree on: (reason class, the file for the classes that name one) of a refused
    pack, (None, assurance) of an accepted one."""
    reason, second = python_reason(data, trust_root)
    return reason, second if reason is None or reason in PATH_CLASSES else None


def node_verdict(got: dict[str, Any]) -> tuple[str | None, str | None]:
    """``python_verdict``'s pair from one of ``node_reasons``' (or ``VerifyPage.verify_in_page``'s) verdicts."""
    reason = got["reason"]
    return reason, got["assurance"] if reason is None else got["path"] if reason in PATH_CLASSES else None


def node_reasons(packs: list[Path], trust_root: Path) -> list[dict[str, Any]]:
    """The Node core's verdict on each pack file, in order: ``{"valid", "reason", "path", "exit_code",
    "assurance"}`` (``assurance`` null for a refused pack)."""
    node = shutil.which("node")
    if node is None or not (WEB / "node_modules").is_dir():
        raise AssertionError("node and verifier/web/node_modules are needed: run `bash verifier/web/build.sh`")
    result = subprocess.run([node, "cli.mjs", "batch", "--trust-root", str(trust_root)], cwd=WEB, check=False,
                            input="".join(f"{p}\n" for p in packs), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]
