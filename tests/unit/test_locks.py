"""The two dependency locks: the runtime lock holds no development tool, and the dev lock pins the runtime
packages at the same versions."""

from __future__ import annotations

import re
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_DEV_ONLY = {"pytest", "hypothesis", "schemathesis", "ruff", "mypy", "import-linter", "interrogate", "py", "gmssl"}


def _pins(name: str) -> dict[str, str]:
    text = (_ROOT / name).read_text()
    return dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^ \\\n]+)", text, flags=re.MULTILINE))


def test_runtime_lock_has_no_development_tool() -> None:
    runtime = _pins("requirements.lock")
    assert "fastapi" in runtime and "gmssl-pyx" in runtime
    assert sorted(_DEV_ONLY & runtime.keys()) == []


def test_dev_lock_pins_runtime_packages_at_the_same_versions() -> None:
    runtime, dev = _pins("requirements.lock"), _pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime
    assert _DEV_ONLY <= dev.keys()


def test_locks_are_hash_locked() -> None:
    for name in ("requirements.lock", "requirements-dev.lock"):
        blocks = re.split(r"\n(?=[a-z0-9])", (_ROOT / name).read_text())
        pinned = [b for b in blocks if "==" in b.split("\n", 1)[0]]
        assert pinned and all("--hash=sha256:" in b for b in pinned), name
