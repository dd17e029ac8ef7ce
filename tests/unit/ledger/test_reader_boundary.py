"""Nothing outside ``ledger/`` reads the log's tables: no import of ``ledger.storage`` and no SQL naming
them, in the service, ingest or the verifier (the read interface is ``TransparencyLog``, ledger/reader.py).

The import-linter contract in pyproject.toml checks imports too; this test also catches raw SQL and an
import hidden from static analysis (``importlib``), and it runs with the unit tests.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("evidence_api", "ingest", "verifier")
LOG_TABLES = ("events", "attestations", "permit_heads", "merkle_nodes", "log_state", "checkpoints", "anchors")
# the schema list Alembic migrates, and the migrations themselves (they create the tables)
ALLOWED = {Path("evidence_api/db.py")}
ALLOWED_DIRS = (Path("evidence_api/migrations"),)

_IMPORT = re.compile(r"ledger\.storage\b|from\s+ledger\s+import\s+[^\n]*\bstorage\b|[\"']ledger\.storage[\"']")
_SQL = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+\"?(?:" + "|".join(LOG_TABLES) + r")\b\"?")


def _sources() -> list[Path]:
    files = [path.relative_to(ROOT) for package in PACKAGES for path in (ROOT / package).rglob("*.py")]
    return sorted(f for f in files if f not in ALLOWED and not any(d in f.parents for d in ALLOWED_DIRS))


def offenders(pattern: re.Pattern[str]) -> list[str]:
    """``path:line: text`` of every source line outside ``ledger/`` matching ``pattern``."""
    found = []
    for path in _sources():
        for number, line in enumerate((ROOT / path).read_text(encoding="utf-8").splitlines(), start=1):
            if pattern.search(line):
                found.append(f"{path}:{number}: {line.strip()}")
    return found


def test_no_module_outside_ledger_imports_ledger_storage() -> None:
    assert offenders(_IMPORT) == [], "read the log through TransparencyLog (ledger/reader.py), not ledger.storage"


def test_no_module_outside_ledger_writes_sql_against_the_log_tables() -> None:
    assert offenders(_SQL) == [], "read the log through TransparencyLog (ledger/reader.py), not its tables"


def test_boundary_patterns_catch_the_forms_they_are_for() -> None:
    assert _IMPORT.search("from ledger import storage as db")
    assert _IMPORT.search("from ledger.storage import events")
    assert _IMPORT.search('importlib.import_module("ledger.storage")')
    assert _SQL.search('conn.exec_driver_sql("SELECT leaf FROM events WHERE tenant = ?")')
    assert _SQL.search('text("UPDATE anchors SET receipt = :r")')
    assert not _SQL.search("projections are built from events that are committed")
    assert _sources(), "the scan found no source files: is ROOT right?"
