"""``verify.html`` for the pack: the browser verifier's single file, from its builder (the webverify part).

THE HOOK: the browser verifier's builder is the module ``verifier.web.build`` with a function
``verify_html() -> bytes`` returning the self-contained, inlined ``verify.html`` (built by
``verifier/web/build.sh``, which ``scripts/install.sh`` runs; it raises, saying how to build it, when the
file is missing). Without that module packs carry a placeholder page pointing to ``tiezheng verify``;
``tests/api/test_packs.py::test_verify_html_hook`` fails if a pack carries the placeholder while the builder
is present.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache

__all__ = ["PLACEHOLDER_MARK", "VIEWER_MODULE", "verify_html"]

VIEWER_MODULE = "verifier.web.build"
PLACEHOLDER_MARK = b"tiezheng-verify-html-placeholder"
_PLACEHOLDER = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>验证 / Verify</title>
<meta name="tiezheng-verify-html-placeholder" content="1"></head>
<body style="font-family: 'Noto Sans CJK SC', sans-serif">
<h1>离线验证 Offline verification</h1>
<p>本证据包生成时浏览器验证器尚未构建。请用命令行验证：<code>tiezheng verify pack.zip --trust-root trust-root.json</code></p>
<p>The browser verifier was not built into this pack. Verify it with the command line:
<code>tiezheng verify pack.zip --trust-root trust-root.json</code></p>
</body></html>
"""


@lru_cache(maxsize=1)
def verify_html() -> bytes:
    """The bytes of ``verify.html``: the builder's output when ``verifier.web.build`` exists, else a placeholder."""
    if importlib.util.find_spec("verifier.web") is None or importlib.util.find_spec(VIEWER_MODULE) is None:
        return _PLACEHOLDER.encode()
    built = importlib.import_module(VIEWER_MODULE).verify_html()
    if not isinstance(built, bytes) or not built:
        raise RuntimeError(f"{VIEWER_MODULE}.verify_html() returned no bytes; rebuild the browser verifier")
    return built
