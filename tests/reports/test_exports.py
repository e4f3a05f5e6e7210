"""Every export neutralizes formulas: text a person typed never runs in Excel.

A reason or a name beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return is written with a leading ``'`` (OWASP, CSV injection), in CSV and in .xlsx;
numbers stay numbers.
"""

from __future__ import annotations

import csv
import io

import httpx
from openpyxl import load_workbook

from edge.reports import Column, Report, Table
from edge.reports import files as report_files
from edge.school import auth
from tests.roster_files import CARD
from tests.servers import LiveServer

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def bearer(server: LiveServer, staff_id: str) -> dict[str, str]:
    member = server.node.roster.staff[staff_id]
    token = auth.issue(server.node.secret, staff_id, member.role, server.node.clock.now(), 12)
    return {"authorization": f"Bearer {token}"}


def test_a_typed_formula_in_a_name_or_reason_is_text_in_the_csv_and_xlsx(
    server: LiveServer, client: httpx.Client
) -> None:
    def tap(station: str, who: str) -> dict:
        return client.post("/api/v1/sim/taps", json={"station": station, "uid": CARD[who]}).json()

    tap("K1", "S2")
    name = '=HYPERLINK("http://x.example","点")'
    delegate = {"student_id": "S2", "name": name, "phone": "13900001111"}
    grant = client.post("/api/v1/delegates", headers=bearer(server, "T1"), json=delegate)
    assert grant.status_code == 201, grant.text
    ask = {"student_id": "S2", "adult_kind": "delegate", "adult_id": grant.json()["grant_id"],
           "reason": "@SUM(1+1)*cmd|' /C calc'!A0"}  # fmt: skip
    assert client.post("/api/v1/stations/P1/manual-release", json=ask).status_code == 200
    server.node.clock.advance(seconds=11)  # type: ignore[attr-defined]
    assert tap("P1", "GU")["code"] == "released_manually"
    admin = bearer(server, "A1")
    asked = {"student": "S2", "format": "csv"}
    text = client.get("/api/v1/reports/timeline", params=asked, headers=admin)
    assert text.status_code == 200, text.text
    cells = [c for row in csv.reader(io.StringIO(text.content.decode("utf-8-sig"))) for c in row]
    assert any(c.startswith("'@SUM") for c in cells)
    assert [c for c in cells if c.startswith(DANGEROUS)] == []
    book = client.get("/api/v1/reports/timeline", params={**asked, "format": "xlsx"},
                      headers=admin)  # fmt: skip
    assert book.status_code == 200
    workbook = load_workbook(io.BytesIO(book.content))
    values = []
    for sheet in workbook.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                values.append(cell.value)
    texts = [v for v in values if isinstance(v, str)]
    assert any(v.startswith("'@SUM") for v in texts)
    assert any(v.startswith("'=HYPERLINK") for v in texts), texts
    assert [v for v in texts if v.startswith(DANGEROUS)] == []


def test_every_dangerous_first_character_is_neutralized_and_numbers_stay_numbers() -> None:
    columns = [Column("a", "甲", "a"), Column("n", "数", "n", "int")]
    rows = [[f"{c}1+1", -5] for c in DANGEROUS] + [["小明", 3], [None, -0.5]]
    table = Table("t", "表", "table", columns, rows)
    report = Report("timeline", "测试", "test", [("说明", "note", "=1+1")], [table])
    cells = [c for row in csv.reader(io.StringIO(report_files.to_csv(table).decode("utf-8-sig")))
             for c in row]  # fmt: skip
    assert cells[2:] == [item for c in DANGEROUS for item in (f"'{c}1+1", "-5")] + [
        "小明", "3", "", "-0.5"]  # fmt: skip
    workbook = load_workbook(io.BytesIO(report_files.to_xlsx(report)))
    about, sheet = workbook.worksheets
    assert about["B2"].value == "'=1+1"
    shown = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    xml = [c.replace("\r", "\n") for c in DANGEROUS]  # XML reads a lone CR as a newline
    assert shown == [[f"'{c}1+1", -5] for c in xml] + [["小明", 3], [None, -0.5]]
