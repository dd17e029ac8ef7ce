"""Where the built ``verify.html`` is: the self-contained offline pack verifier for the browser.

``verify.html`` is written in JavaScript under ``verifier/web/src`` (independent of the Python verifier, checked
against the same golden vectors) and bundled into one file by ``verifier/web/build.sh``, which
``scripts/install.sh`` runs. The pack builder copies it into every pack::

    data = verify_html_path().read_bytes()
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["VERIFY_HTML", "VerifyHtmlMissing", "verify_html_path"]

VERIFY_HTML = Path(__file__).resolve().parent / "dist" / "verify.html"
"""Where ``verifier/web/build.sh`` writes the bundle (git-ignored: a build output, not source)."""


class VerifyHtmlMissing(FileNotFoundError):
    """``verify.html`` has not been built on this machine; the message says how to build it."""


def verify_html_path() -> Path:
    """The path of the built ``verify.html``.

    Raises ``VerifyHtmlMissing`` when it has not been built, telling the command that builds it
    (``bash verifier/web/build.sh``, run by ``bash scripts/install.sh``; it needs node and npm).
    """
    if not VERIFY_HTML.is_file():
        raise VerifyHtmlMissing(
            f"verify.html is not built ({VERIFY_HTML} is missing): run `bash verifier/web/build.sh` "
            "(or `bash scripts/install.sh`, which runs it); it needs node >= 18 and npm"
        )
    return VERIFY_HTML
