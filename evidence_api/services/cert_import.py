"""Bulk import of certificates from a CSV file or an Excel ``.xlsx`` sheet, with Chinese or English headers,
reported row by row.

Each row is checked on its own; the good rows are registered together (each with its ``certificate.registered``
event, in one transaction) and a bad row is reported with the column at fault, never half-imported.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from evidence_api.services.catalog import CATEGORIES, SUB_TYPES
from evidence_api.services.certificates import CertificateInput, Certificates
from evidence_api.services.errors import TooLarge
from ledger.errors import MalformedInput

__all__ = ["CSV", "HEADERS", "MAX_ROWS", "REQUIRED", "XLSX", "import_certificates", "read_table"]

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_ROWS = 10_000

HEADERS = {
    "证书编号": "number", "姓名": "holder_name", "工号": "worker", "类别": "category", "操作项目": "sub_type",
    "初领日期": "issued_on", "有效期至": "expires_on", "复审日期": "review_due_on", "发证机关": "authority",
    **{name: name for name in ("number", "holder_name", "worker", "category", "sub_type", "issued_on",
                               "expires_on", "review_due_on", "authority")},
}
"""Column label (Chinese, or English case-insensitively) → field."""

REQUIRED = ("number", "holder_name", "worker", "category", "sub_type", "issued_on", "authority")
_OPTIONAL_DATES = ("expires_on", "review_due_on")
_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?")
_CATEGORY_NAMES = {name: code for code, name in CATEGORIES.items()}
_SUB_TYPE_NAMES = {name: code for code, name in SUB_TYPES.items()}


class _CellError(Exception):
    """A cell that cannot be read: ``field`` and what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_table(body: bytes, content_type: str) -> list[list[Any]]:
    """The rows (header first) of a CSV (UTF-8, with or without BOM, or GB 18030 as Excel saves it in China) or
    of the first sheet of an ``.xlsx`` workbook; raises ``MalformedInput`` for another type or an unreadable file."""
    kind = content_type.split(";")[0].strip().lower()
    if kind == CSV:
        try:  # newline="": the reader itself splits records, also on a bare CR (old Mac/Excel exports)
            return [list(r) for r in csv.reader(io.StringIO(_decode(body), newline=""))]
        except csv.Error as exc:
            raise MalformedInput(f"not a readable CSV file: {exc}") from exc
    if kind == XLSX:
        return _xlsx_rows(body)
    raise MalformedInput(f"Content-Type must be {CSV!r} or {XLSX!r}, got {content_type!r}")


def _decode(body: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return body.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise MalformedInput("CSV is neither UTF-8 nor GB 18030 text")  # pragma: no cover - gb18030 decodes any bytes


def _xlsx_rows(body: bytes) -> list[list[Any]]:
    import openpyxl  # imported here: only imports need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(body), read_only=True, data_only=True)
        try:
            return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
        finally:
            book.close()
    except Exception as exc:  # openpyxl raises many kinds for a broken file; all mean the same
        raise MalformedInput(f"not a readable .xlsx workbook: {type(exc).__name__}: {exc}") from exc


def _columns(header: Sequence[Any]) -> tuple[dict[int, str], dict[str, str], list[str]]:
    """Field per column index, label per field, and the labels not understood."""
    fields: dict[int, str] = {}
    labels: dict[str, str] = {}
    ignored: list[str] = []
    for index, cell in enumerate(header):
        label = _text(cell)
        field = HEADERS.get(label) or HEADERS.get(label.lower())
        if field is None or field in labels:
            if label:
                ignored.append(label)
            continue
        fields[index], labels[field] = field, label
    missing = [f for f in REQUIRED if f not in labels]
    if missing:
        raise MalformedInput(f"the header lacks columns {missing} (e.g. 证书编号, 姓名, 工号, 类别, 操作项目, "
                             f"初领日期, 发证机关); got {[_text(c) for c in header]}")
    return fields, labels, ignored


def _text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def _code(field: str, cell: Any) -> str:
    names, catalog = (_CATEGORY_NAMES, CATEGORIES) if field == "category" else (_SUB_TYPE_NAMES, SUB_TYPES)
    if isinstance(cell, float) and field == "sub_type" and f"{cell}0" in catalog:
        raise _CellError(field, f"number {cell} is ambiguous ({cell} or {cell}0): format the column as text")
    text = _text(cell) if field == "category" or not isinstance(cell, float) else str(cell)
    return names.get(text, text)


def _date(field: str, cell: Any) -> date | None:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    text = _text(cell)
    if not text:
        return None
    match = _DATE.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        return date(*(int(g) for g in match.groups()))
    except ValueError:
        raise _CellError(field, f"{text!r} is not a date like 2024-03-01") from None


def _input(values: dict[str, Any]) -> CertificateInput:
    """The certificate of one row's cells by field; raises ``_CellError``."""
    issued = _date("issued_on", values.get("issued_on"))
    if issued is None:
        raise _CellError("issued_on", "is empty")
    return CertificateInput(
        worker=_text(values.get("worker")), category=_code("category", values.get("category")),
        sub_type=_code("sub_type", values.get("sub_type")), number=_text(values.get("number")),
        holder_name=_text(values.get("holder_name")), authority=_text(values.get("authority")), issued_on=issued,
        expires_on=_date("expires_on", values.get("expires_on")),
        review_due_on=_date("review_due_on", values.get("review_due_on")))


def _parse(rows: Iterable[tuple[int, Sequence[Any]]], fields: dict[int, str],
           ) -> list[tuple[int, CertificateInput | _CellError]]:
    parsed: list[tuple[int, CertificateInput | _CellError]] = []
    for number, cells in rows:
        if all(_text(c) == "" for c in cells):
            continue  # blank lines, common at the end of a sheet
        values = {field: cells[i] if i < len(cells) else None for i, field in fields.items()}
        try:
            parsed.append((number, _input(values)))
        except _CellError as exc:
            parsed.append((number, exc))
    return parsed


def import_certificates(certificates: Certificates, tenant: str, body: bytes, content_type: str, *,
                        on: date | None = None) -> dict[str, Any]:
    """Import the certificates in ``body`` (a CSV or ``.xlsx`` file, by ``content_type``) for ``tenant``.

    Returns ``{"imported", "failed", "ignored_columns", "rows"}``, where each row of the file (numbered as a
    spreadsheet shows it, the header being row 1) is ``{"row", "ok", "message"}`` plus the new ``id`` and
    ``number``, or the ``column`` at fault. Raises ``MalformedInput`` when the file or its header cannot be
    read and ``TooLarge`` beyond ``MAX_ROWS`` rows; otherwise bad rows are only reported.
    """
    table = read_table(body, content_type)
    if not table:
        raise MalformedInput("the file is empty; the first row must name the columns")
    if len(table) - 1 > MAX_ROWS:
        raise TooLarge(f"{len(table) - 1} rows exceed the import limit of {MAX_ROWS}; split the file")
    fields, labels, ignored = _columns(table[0])
    parsed = _parse(enumerate(table[1:], start=2), fields)
    inputs = [p for _, p in parsed if isinstance(p, CertificateInput)]
    results = iter(certificates.add_many(tenant, inputs, on=on))
    report = []
    for row, item in parsed:
        outcome = next(results) if isinstance(item, CertificateInput) else (item.field, str(item), MalformedInput)
        if isinstance(outcome, dict):
            report.append({"row": row, "ok": True, "id": outcome["id"], "number": outcome["number"],
                           "message": f"imported as {outcome['id']}"})
        else:
            label = labels.get(outcome[0], outcome[0])
            report.append({"row": row, "ok": False, "column": label, "message": f"{label}: {outcome[1]}"})
    imported = sum(1 for r in report if r["ok"])
    return {"imported": imported, "failed": len(report) - imported, "ignored_columns": ignored, "rows": report}
