"""The reports of edge.reports as JSON, CSV, Excel or a printable page.

A report taken away as a file (anything but JSON) is recorded first: who took
personal data away, and which.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse

from edge import reports
from edge.http.deps import (
    ALL_STAFF,
    PAY_ROLES,
    PRESENCE_ROLES,
    RECORD_ROLES,
    STAFF_ERRORS,
    NodeDep,
    Staff,
    school_day,
)
from edge.http.responses import Problem, json_response
from edge.node import Node
from edge.reports import files as report_files
from edge.school import auth

Format = Annotated[
    str, Query(pattern="^(json|csv|xlsx|html)$", description="json, csv, xlsx or html")
]
Lang = Annotated[str, Query(pattern="^(zh|en)$", description="headers in zh or en")]
TableName = Annotated[str | None, Query(description="csv: which table (default: the first)")]
Month = Annotated[str | None, Query(description="a month, YYYY-MM (default: this month)")]
TermName = Annotated[str | None, Query(description="a term named in school.toml")]
Day = Annotated[dt.date | None, Query(description="YYYY-MM-DD")]

_FILES: dict[str, Any] = {
    kind: {} for kind in ("text/csv", "text/html", report_files.MEDIA_TYPES["xlsx"])
}
ANSWERS: dict[int | str, dict[str, Any]] = {
    **STAFF_ERRORS,
    200: {"description": "the report, as format= asks", "content": _FILES},
    404: {"model": Problem},
}

router = APIRouter(tags=["reports"])


def _answer(node: Node, who: auth.Principal, name: str, fmt: str, lang: str,
            table: str | None, **asked: Any) -> Response:  # fmt: skip
    """Make the report asked for and answer it in its format (a file's export recorded)."""
    if asked.get("date") is not None:
        school_day(asked["date"])
    source = reports.LedgerSource(node.ledger, node.roster)
    made = reports.make(name, source, now=node.clock.now(), **asked)
    if fmt == "json":
        return json_response(made.to_json())
    shown = {k: str(v) for k, v in asked.items() if v is not None}
    node.writer.record_action(
        "report_exported", {"report": name, "format": fmt, **shown}, who.staff_id
    ).result(timeout=30)  # who took personal data away, recorded before it leaves
    if fmt == "html":
        return HTMLResponse(report_files.to_html(made, lang))
    if fmt == "csv":
        body = report_files.to_csv(made.table(table) if table else made.tables[0], lang)
    else:
        body = report_files.to_xlsx(made, lang)
    filename = quote("-".join([name, *shown.values()]) + f".{fmt}")
    return Response(
        body,
        media_type=report_files.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f"attachment; filename*=UTF-8''{filename}"},
    )


def _by_period(name: str) -> Callable[..., Response]:
    """Return the route of a report over a period (attendance and workload: a PIN sign-in)."""

    def by_period(
        node: NodeDep,
        who: Staff,
        month: Month = None,
        term: TermName = None,
        start: Annotated[Day, Query(alias="from")] = None,
        end: Annotated[Day, Query(alias="to")] = None,
        format: Format = "json",  # noqa: A002 - the query parameter's name
        table: TableName = None,
        lang: Lang = "zh",
    ) -> Response:
        auth.require(who, PAY_ROLES, full=True)
        return _answer(node, who, name, format, lang, table, month=month, term=term,
                       start=start, end=end)  # fmt: skip

    return by_period


for _name, _summary in (
    ("attendance", "Student attendance per student and group, by month, term or dates"),
    ("workload", "Staff sessions (on time, late, complete, absent) and pay units"),
):
    router.get(f"/api/v1/reports/{_name}", responses=ANSWERS, name=_name, summary=_summary,
               description=_summary)(_by_period(_name))  # fmt: skip


@router.get("/api/v1/reports/supervision", responses=ANSWERS)
def supervision(
    node: NodeDep,
    who: Staff,
    group: Annotated[str, Query(description="the group_id")],
    date: Day = None,
    format: Format = "json",  # noqa: A002
    table: TableName = None,
    lang: Lang = "zh",
) -> Response:
    """Return the daily supervision record (看管记录) of one group."""
    auth.require(who, RECORD_ROLES)
    return _answer(node, who, "supervision", format, lang, table, group=group, date=date)


@router.get("/api/v1/reports/timeline", responses=ANSWERS)
def timeline(
    node: NodeDep,
    who: Staff,
    student: Annotated[str, Query(description="the student_id")],
    date: Day = None,
    format: Format = "json",  # noqa: A002
    table: TableName = None,
    lang: Lang = "zh",
) -> Response:
    """One child's day: every tap, what was decided and why, and the chain of custody."""
    auth.require(who, PRESENCE_ROLES)
    return _answer(node, who, "timeline", format, lang, table, student=student, date=date)


@router.get("/api/v1/reports/parents", responses=ANSWERS)
def parents(
    node: NodeDep,
    who: Staff,
    month: Month = None,
    format: Format = "json",  # noqa: A002
    lang: Lang = "zh",
) -> Response:
    """Return the month's attendance summary for parents, per group, nobody named."""
    auth.require(who, ALL_STAFF)
    return _answer(node, who, "parents", format, lang, None, month=month)


@router.get("/api/v1/reports/duty", responses=ANSWERS)
def duty(
    node: NodeDep,
    who: Staff,
    date: Day = None,
    format: Format = "json",  # noqa: A002
    table: TableName = None,
    lang: Lang = "zh",
) -> Response:
    """Return the day's duty log (值班日志): on duty, handovers, late pickups, alerts, notes."""
    auth.require(who, PRESENCE_ROLES)
    return _answer(node, who, "duty", format, lang, table, date=date)
