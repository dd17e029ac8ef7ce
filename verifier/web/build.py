"""The bytes of ``verify.html`` for the pack builder, which copies it into every pack (``verify_html()``)."""

from __future__ import annotations

from functools import lru_cache

from verifier.web import verify_html_path

__all__ = ["verify_html"]


@lru_cache(maxsize=1)
def verify_html() -> bytes:
    """The built, self-contained ``verify.html``; ``VerifyHtmlMissing`` (saying how to build it) when absent."""
    return verify_html_path().read_bytes()
