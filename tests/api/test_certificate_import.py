"""Bulk certificate import: CSV and .xlsx, Chinese and English headers; good rows go in together with their
events, each bad row is reported with its column and changes nothing."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import httpx
import openpyxl
import pytest

from evidence_api.services.cert_import import XLSX, read_table
from ledger.errors import MalformedInput
from tests.api.support import Api, assert_problem, bearer

ZH = "证书编号,姓名,工号,类别,操作项目,初领日期,有效期至,复审日期,发证机关,序号\n"
EN = "number,holder_name,worker,category,sub_type,issued_on,expires_on,review_due_on,authority\n"


def _workers(api: Api) -> None:
    for worker_id, team in (("w1", "维修一班"), ("w2", "电仪班")):
        resp = api.client.post("/v1/workers", json={"id": worker_id, "name": "王五", "team": team},
                               headers=bearer(api.admin))
        assert resp.status_code == 201


def _import(api: Api, body: bytes, content_type: str = "text/csv; charset=utf-8") -> httpx.Response:
    resp: httpx.Response = api.client.post("/v1/certificates/import", content=body,
                                           headers=bearer(api.admin) | {"Content-Type": content_type})
    return resp


def _numbers(api: Api) -> list[str]:
    return sorted(c["number"] for c in api.client.get("/v1/certificates", headers=bearer(api.reader)).json())


def _report(resp: httpx.Response) -> dict[str, Any]:
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def test_import_csv_chinese_headers_mixed_rows(api: Api) -> None:
    _workers(api)
    rows_text = """\
T-1,王五,w1,1,1.1,2024-03-01,,,杭州市应急管理局,1
T-2,王五,w1,2,1.1,2024-03-01,,,杭州市应急管理局,2
T-3,李四,w9,1,1.2,2024-03-01,,,杭州市应急管理局,3
T-4,李四,w2,电工作业,低压电工作业,2024年3月1日,,,杭州市应急管理局,4
T-5,李四,w2,1,1.2,03/01/2024,,,杭州市应急管理局,5
T-1,李四,w2,1,1.2,2024-03-01,,,杭州市应急管理局,6
,,,,,,,,,
"""  # rows 3-7: another category's sub-type, unknown worker, names for codes (fine), bad date, repeated number
    csv = (ZH + rows_text).encode()
    size = api.tree_size
    report = _report(_import(api, csv))
    assert (report["imported"], report["failed"], report["ignored_columns"]) == (2, 4, ["序号"])
    rows = {r["row"]: r for r in report["rows"]}
    assert sorted(rows) == [2, 3, 4, 5, 6, 7]
    assert rows[2]["ok"] and rows[5]["ok"]
    assert rows[3]["column"] == "操作项目"
    assert rows[3]["message"] == "操作项目: sub-type '1.1' (高压电工作业) belongs to category '1', not '2'"
    assert rows[4]["column"] == "工号" and rows[4]["message"].startswith("工号: no worker 'w9'")
    assert rows[6]["message"] == "初领日期: '03/01/2024' is not a date like 2024-03-01"
    assert rows[7]["column"] == "证书编号" and "appears twice" in rows[7]["message"]
    assert _numbers(api) == ["T-1", "T-4"] and api.tree_size == size + 2
    cert = api.client.get(f"/v1/certificates/{rows[5]['id']}", headers=bearer(api.reader)).json()
    assert (cert["sub_type"], cert["expires_on"]) == ("1.2", "2030-03-01")


def test_import_csv_english_headers_gbk_and_existing_number(api: Api) -> None:
    _workers(api)
    assert _report(_import(api, (EN + "T-1,王五,w1,1,1.1,2024-03-01,,,杭州市应急管理局\n").encode()))["imported"] == 1
    body = (EN + "T-1,王五,w1,1,1.1,2024-03-01,,,杭州市应急管理局\n"
                 "T-2,王五,w1,1,1.1,2024-03-01,2030-03-01,2027-03-01,杭州市应急管理局\n").encode("gb18030")
    report = _report(_import(api, body))
    assert [(r["row"], r["ok"], r.get("column")) for r in report["rows"]] == [(2, False, "number"), (3, True, None)]
    assert _numbers(api) == ["T-1", "T-2"]


def test_import_xlsx_built_with_openpyxl(api: Api) -> None:
    _workers(api)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["证书编号", "姓名", "工号", "类别", "操作项目", "初领日期", "有效期至", "复审日期", "发证机关"])
    sheet.append(["T-10", "王五", "w1", 2, "2.1", datetime(2024, 5, 6), None, None, "宁波市应急管理局"])
    sheet.append([20001, "李四", "w2", 1, 1.1, "2024-05-06", None, None, "宁波市应急管理局"])
    sheet.append(["T-12", "李四", "w2", 9, 9.1, "2024-05-06", None, None, "宁波市应急管理局"])  # 9.1 or 9.10?
    sheet.append(["T-13", "李四", "w2", 1, "1.2", None, None, None, "宁波市应急管理局"])
    data = io.BytesIO()
    book.save(data)
    report = _report(_import(api, data.getvalue(), XLSX))
    assert [(r["row"], r["ok"]) for r in report["rows"]] == [(2, True), (3, True), (4, False), (5, False)]
    assert report["rows"][2]["message"].startswith("操作项目: number 9.1 is ambiguous")
    assert report["rows"][3]["message"] == "初领日期: is empty"
    assert _numbers(api) == ["20001", "T-10"]


def test_import_refused_whole_file_changes_nothing(api: Api) -> None:
    _workers(api)
    size = api.tree_size
    assert_problem(_import(api, b"number,holder_name\nT-1,x\n"), 422, "malformed-input",
                   r"the header lacks columns \['worker', 'category', 'sub_type', 'issued_on', 'authority'\]")
    assert_problem(_import(api, b"not a zip", XLSX), 422, "malformed-input", "not a readable .xlsx workbook")
    assert_problem(_import(api, b"{}", "application/json"), 415, "unsupported-media-type",
                   r"Content-Type must be one of \['text/csv', 'application/vnd.openxmlformats")
    assert_problem(_import(api, b""), 422, "malformed-input", "the file is empty")
    resp = api.client.post("/v1/certificates/import", content=ZH.encode(),
                           headers=bearer(api.reader) | {"Content-Type": "text/csv"})
    assert_problem(resp, 403, "forbidden", "role 'reader'")
    assert _numbers(api) == [] and api.tree_size == size


def test_import_more_rows_than_a_batch_in_one_append(api: Api) -> None:
    _workers(api)
    rows = [f"T-{n},王五,w1,1,1.1,2024-03-01,,,杭州市应急管理局" for n in range(20)]  # MAX_BATCH is 8
    size = api.tree_size
    report = _report(_import(api, (EN + "\n".join(rows)).encode()))
    assert report["imported"] == 20 and api.tree_size == size + 20


def test_import_csv_with_bare_carriage_returns(api: Api) -> None:
    """A bare CR ends a record (old Excel exports) instead of a 500; a field over the csv limit is a 422."""
    _workers(api)
    row = "T-9,王五,w1,1,1.1,2024-03-01,,,杭州市应急管理局"
    report = _report(_import(api, EN.replace("\n", "\r").encode() + row.encode() + b"\r"))
    assert (report["imported"], report["failed"]) == (1, 0)
    with pytest.raises(MalformedInput, match="not a readable CSV file: field larger than field limit"):
        read_table(EN.encode() + b"x" * 200_000 + b"\n", "text/csv")  # beyond this test's body limit
