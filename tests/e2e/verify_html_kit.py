"""Drive ``verify.html`` in a real headless Chromium (Debian's ``/usr/bin/chromium`` through Playwright).

``open_verifier`` gives a page of the built ``verify.html`` opened from ``file://``; ``VerifyPage.verify``
chooses the trust root and the pack (zip or folder) with the page's own file inputs, waits for the verdict
and returns what the page shows: state (``valid``, ``invalid``, ``unusable``), reason class, file, text.
Every request the page makes is recorded, so a test can assert it made none beyond its own file.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
        self.page.wait_for_selector(_DONE, timeout=120_000)
        result = self.page.locator("#result")
        return Verdict(result.get_attribute("data-state") or "", result.get_attribute("data-reason") or "",
                       result.get_attribute("data-path") or "", result.inner_text())


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
