"""A report as a file: CSV for scripts, .xlsx for the school office, HTML for printing.

The cells are the report's own values in every format. Excel files carry Chinese
headers (English with ``lang="en"``), a frozen header row and column widths that fit
their text; the first sheet says what the report is, the others hold its tables.
CSV is UTF-8 with a byte-order mark, which Excel on a Chinese Windows needs to read
it as UTF-8 rather than GBK.

Text that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (a name or
reason someone typed) is written with a leading ``'`` in CSV and .xlsx, so a
spreadsheet shows it as text and never runs it as a formula (OWASP, CSV injection).
Numbers stay numbers. Every file export goes through ``to_csv`` or ``to_xlsx``;
``to_files`` names the files a report is written to.
"""

from __future__ import annotations

import csv
import html
import io
import unicodedata
from pathlib import Path
from typing import Any

import orjson

from edge.reports.tables import Column, Report, Table

FORMATS = ("json", "csv", "xlsx", "html")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "html": "text/html; charset=utf-8",
}


def header(column: Column, lang: str) -> str:
    """Return a column's header in the language asked for."""
    return column.en if lang == "en" else column.zh


def text(value: Any, column: Column) -> str:
    """Return a cell as text, the way CSV and the printed page show it."""
    if value is None:
        return ""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return str(value)
    if column.kind == "percent":
        return f"{value * 100:.1f}%"
    if column.kind == "units":
        return f"{value:g}"
    return str(value)


def neutral(value: Any) -> Any:
    """Return a cell that a spreadsheet cannot run: text like a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def to_csv(table: Table, lang: str = "zh") -> bytes:
    """Return one table as CSV text (UTF-8 with BOM), header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutral(header(c, lang)) for c in table.columns])
    for row in table.rows:
        writer.writerow(
            [neutral(text(v, c)) if isinstance(v, str) else text(v, c)
             for v, c in zip(row, table.columns, strict=True)]
        )  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _width(value: str) -> int:
    """Return how many character cells a text takes in Excel (a CJK character takes two)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in value)


def _sheet_title(title: str, used: set[str]) -> str:
    name = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28] or "表"
    candidate, n = name, 2
    while candidate in used:
        candidate, n = f"{name}{n}", n + 1
    used.add(candidate)
    return candidate


def to_xlsx(report: Report, lang: str = "zh") -> bytes:
    """Return the report as an Excel workbook: an information sheet, then one per table."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    used: set[str] = set()
    info = book.active
    assert info is not None
    info.title = _sheet_title("报表信息" if lang != "en" else "About", used)
    info.append([report.en if lang == "en" else report.zh])
    info["A1"].font = Font(bold=True, size=14)
    for zh, en, value in report.meta:
        info.append([neutral(en if lang == "en" else zh), neutral(value)])
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = max(
        [20, *(min(80, _width(str(v)) + 2) for _, _, v in report.meta)]
    )
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    for table in report.tables:
        sheet = book.create_sheet(_sheet_title(table.en if lang == "en" else table.zh, used))
        sheet.append([neutral(header(c, lang)) for c in table.columns])
        for cell in sheet[1]:
            cell.font, cell.fill = bold, fill
            cell.alignment = Alignment(vertical="center", wrap_text=False)
        widths = [_width(header(c, lang)) for c in table.columns]
        formats = {"percent": "0.0%", "units": "0.0#"}
        for row in table.rows:
            sheet.append([neutral(value) for value in row])
            for index, (value, column) in enumerate(zip(row, table.columns, strict=True)):
                widths[index] = max(widths[index], _width(text(value, column)))
        for index, column in enumerate(table.columns, start=1):
            number_format = formats.get(column.kind)
            if number_format and table.rows:
                for (cell,) in sheet.iter_rows(
                    min_row=2, min_col=index, max_col=index, max_row=len(table.rows) + 1
                ):
                    cell.number_format = number_format
            letter = get_column_letter(index)
            sheet.column_dimensions[letter].width = min(60, max(6, widths[index - 1] + 2))
        sheet.freeze_panes = "A2"
        if table.rows:
            sheet.auto_filter.ref = sheet.dimensions
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


_STYLE = """
body { font-family: "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; margin: 24px;
       color: #111; }
h1 { font-size: 20px; margin: 0 0 4px; } h1 small { color: #555; font-weight: normal; }
h2 { font-size: 16px; margin: 20px 0 6px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
dt { color: #555; } dd { margin: 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #999; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eef3fa; } th small { display: block; color: #555; font-weight: normal; }
td.num { text-align: right; } .empty { color: #777; }
.sign { margin-top: 28px; display: flex; gap: 64px; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; }
               thead { display: table-header-group; } }
"""


def to_html(report: Report, lang: str = "zh") -> str:
    """Return the report as a printable page, headers in Chinese with English beneath."""
    esc = html.escape
    title = report.en if lang == "en" else report.zh
    parts = [
        "<!doctype html>",
        f'<html lang="{"en" if lang == "en" else "zh-CN"}"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{esc(report.zh)} <small>{esc(report.en)}</small></h1><dl>",
    ]
    for zh, en, value in report.meta:
        parts.append(f"<dt>{esc(zh)} {esc(en)}</dt><dd>{esc(str(value))}</dd>")
    parts.append("</dl>")
    for table in report.tables:
        parts.append(f"<h2>{esc(table.zh)} <small>{esc(table.en)}</small></h2>")
        if not table.rows:
            parts.append(f'<p class="empty">（{esc(table.empty or "无 none")}）</p>')
            continue
        parts.append("<table><thead><tr>")
        parts.extend(f"<th>{esc(c.zh)}<small>{esc(c.en)}</small></th>" for c in table.columns)
        parts.append("</tr></thead><tbody>")
        for row in table.rows:
            parts.append("<tr>")
            for value, column in zip(row, table.columns, strict=True):
                css = ' class="num"' if column.kind != "text" else ""
                parts.append(f"<td{css}>{esc(text(value, column))}</td>")
            parts.append("</tr>")
        parts.append("</tbody></table>")
    if report.name in ("supervision", "timeline"):
        parts.append('<div class="sign"><span>记录人签字 Recorded by：</span>'
                     "<span>值班领导签字 Duty leader：</span></div>")  # fmt: skip
    if report.name == "duty":
        parts.append('<div class="sign"><span>值班领导签字 Duty leader：</span>'
                     "<span>日期 Date：</span></div>")  # fmt: skip
    parts.append("</body></html>")
    return "".join(parts)


def to_files(
    report: Report, tables: list[Table], out: Path, fmt: str, lang: str = "zh"
) -> dict[Path, bytes]:
    """Return the files that hold a report at ``out`` in a format of ``FORMATS``.

    CSV holds one table per file: ``out`` itself for one table, else ``out``'s stem
    with each table's name; the others hold the whole report in one file.
    """
    if fmt == "csv":
        if len(tables) == 1:
            return {out: to_csv(tables[0], lang)}
        return {out.with_name(f"{out.stem}.{t.name}.csv"): to_csv(t, lang) for t in tables}
    if fmt == "xlsx":
        return {out: to_xlsx(report, lang)}
    if fmt == "html":
        return {out: to_html(report, lang).encode("utf-8")}
    return {out: orjson.dumps(report.to_json(), option=orjson.OPT_INDENT_2)}
