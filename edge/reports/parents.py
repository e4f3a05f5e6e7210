"""The month's attendance summary for parents: per group, with no one's name."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from edge.reports.attendance import attendance
from edge.reports.period import Period
from edge.reports.source import Progress, Source
from edge.reports.tables import Column, Report, Table
from edge.reports.workload import COMPLETE, INCOMPLETE, staff_sessions

PARENT_COLUMNS = [
    Column("group", "班组", "Group"),
    Column("kind", "类型", "Kind"),
    Column("staff", "负责教师", "Staff in charge"),
    Column("service_days", "服务天数", "Service days", "int"),
    Column("students", "报名人数", "Students enrolled", "int"),
    Column("daily_average", "日均到校人数", "Average present per day", "units"),
    Column("rate", "出勤率", "Attendance rate", "percent"),
    Column("on_time", "教师按时到岗天数", "Days staff were on time", "int"),
    Column("overdue", "超时接走人次", "Children collected after the service end", "int"),
]


def parents(
    source: Source, span: Period, today: dt.date, progress: Progress | None = None
) -> Report:
    """Return the month's attendance summary for parents: per group, nobody's name."""
    roster = source.roster()
    base = attendance(source, span, today)
    sessions, overdue = staff_sessions(source, roster, span, today, progress)
    on_time: dict[str, set[dt.date]] = defaultdict(set)
    for s in sessions:
        if s.opened and s.status in (COMPLETE, INCOMPLETE):
            on_time[s.group_id].add(s.day)
    table = Table("groups", "各班组出勤", "Groups", PARENT_COLUMNS)
    for row in base.table("groups").records():
        gid = row["group_id"]
        days = row["service_days"]
        table.rows.append(
            [row["name"], row["kind"], row["staff"], days, row["students"],
             round(row["attended"] / days, 1) if days else None, row["rate"],
             len(on_time.get(gid, ())), sum(n for (_, g), n in overdue.items() if g == gid)]
        )  # fmt: skip
    return Report(
        "parents",
        "课后服务月度出勤公示",
        "Monthly attendance notice for parents",
        base.meta,
        [table],
    )
