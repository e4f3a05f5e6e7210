"""Student attendance over a month, a term or any range (fees are settled on it).

Per student and per group: days enrolled, attended, on leave, absent without leave.
A school day of a student is a day their enrollments name (by its timetable weekday,
so closed days and days outside the terms do not count).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from edge.reports.cells import KIND_ZH, name, rate
from edge.reports.period import Period
from edge.reports.source import Progress, Source
from edge.reports.tables import Column, Report, Table
from edge.school.roster import Roster

ATTENDED, ON_LEAVE, ABSENT = "attended", "on_leave", "absent"


@dataclass
class _Attendance:
    """Per student and school day: enrolled or not, and what happened."""

    days: list[dt.date]
    weekday: dict[dt.date, int | None]
    signed: dict[str, set[dt.date]]

    def status(self, roster: Roster, sid: str, day: dt.date) -> str:
        if day in self.signed.get(sid, ()):
            return ATTENDED
        if roster.on_leave(sid, day):
            return ON_LEAVE
        return ABSENT


def _attendance_facts(
    source: Source, roster: Roster, span: Period, today: dt.date, progress: Progress | None
) -> _Attendance:
    last = min(span.end, today)
    signed: dict[str, set[dt.date]] = defaultdict(set)
    days = Period(span.start, last, "").days() if last >= span.start else []
    if days:
        for day, student in source.sign_ins(span.start, last):
            signed[student].add(day)
        if progress is not None:
            progress(len(days), len(days), last)
    weekday = {d: roster.calendar.timetable_weekday(d) for d in days}
    return _Attendance(days, weekday, signed)


def _enrolled_days(roster: Roster, facts: _Attendance, sid: str, group: str | None = None) -> list:
    weekdays: set[int] = set()
    for group_id, days in roster.enrollments.get(sid, ()):
        if group is None or group_id == group:
            weekdays |= days
    return [d for d in facts.days if facts.weekday[d] in weekdays]


STUDENT_COLUMNS = [
    Column("student_id", "学号", "Student ID"),
    Column("name", "姓名", "Name"),
    Column("grade", "年级", "Grade", "int"),
    Column("class", "班级", "Class"),
    Column("enrolled", "应到天数", "Days enrolled", "int"),
    Column("attended", "出勤天数", "Days attended", "int"),
    Column("on_leave", "请假天数", "Days on leave", "int"),
    Column("absent", "缺勤天数（未请假）", "Days absent without leave", "int"),
    Column("rate", "出勤率", "Attendance rate", "percent"),
    Column("extra", "非服务日签到天数", "Sign-ins on days not enrolled", "int"),
]
GROUP_COLUMNS = [
    Column("group_id", "班组编号", "Group ID"),
    Column("name", "班组", "Group"),
    Column("kind", "类型", "Kind"),
    Column("staff", "负责教师", "Staff in charge"),
    Column("students", "报名人数", "Students enrolled", "int"),
    Column("service_days", "服务天数", "Service days", "int"),
    Column("student_days", "应到人次", "Student-days enrolled", "int"),
    Column("attended", "出勤人次", "Student-days attended", "int"),
    Column("on_leave", "请假人次", "Student-days on leave", "int"),
    Column("absent", "缺勤人次", "Student-days absent", "int"),
    Column("rate", "出勤率", "Attendance rate", "percent"),
]


def attendance(
    source: Source, span: Period, today: dt.date, progress: Progress | None = None
) -> Report:
    """Student attendance over a period, per student and per group (days after today uncounted).

    A school day of a student is a day their enrollments name (by its timetable
    weekday, so closed days and days outside the terms do not count). It is attended
    when they signed in anywhere that day, on leave when leave.csv says so and they
    did not come, and absent otherwise.
    """
    roster = source.roster()
    facts = _attendance_facts(source, roster, span, today, progress)
    students = Table("students", "学生出勤", "Students", STUDENT_COLUMNS)
    for sid, student in roster.students.items():
        counts = dict.fromkeys((ATTENDED, ON_LEAVE, ABSENT), 0)
        enrolled = _enrolled_days(roster, facts, sid)
        for day in enrolled:
            counts[facts.status(roster, sid, day)] += 1
        extra = len(facts.signed.get(sid, set()) - set(enrolled))
        students.rows.append(
            [sid, student.name, student.grade, student.class_name, len(enrolled),
             counts[ATTENDED], counts[ON_LEAVE], counts[ABSENT],
             rate(counts[ATTENDED], len(enrolled)), extra]
        )  # fmt: skip
    for sid in sorted(set(facts.signed) - set(roster.students)):
        # Signed in during the period but no longer on the roster (left the programme).
        students.rows.append(
            [sid, "（已不在名册）", None, "", 0, 0, 0, 0, None, len(facts.signed[sid])]
        )
    groups = Table("groups", "班组出勤", "Groups", GROUP_COLUMNS)
    for gid, group in roster.groups.items():
        members = [
            sid for sid, rows in roster.enrollments.items() if any(g == gid for g, _ in rows)
        ]
        counts = dict.fromkeys((ATTENDED, ON_LEAVE, ABSENT), 0)
        service_days: set[dt.date] = set()
        for sid in members:
            for day in _enrolled_days(roster, facts, sid, gid):
                service_days.add(day)
                counts[facts.status(roster, sid, day)] += 1
        student_days = sum(counts.values())
        groups.rows.append(
            [gid, group.name, KIND_ZH.get(group.kind, group.kind),
             name(roster.staff, group.staff_id), len(members), len(service_days), student_days,
             counts[ATTENDED], counts[ON_LEAVE], counts[ABSENT],
             rate(counts[ATTENDED], student_days)]
        )  # fmt: skip
    return Report(
        "attendance",
        "课后服务学生出勤统计",
        "After-school attendance",
        _period_meta(roster, span, facts),
        [students, groups],
    )


def _period_meta(roster: Roster, span: Period, facts: _Attendance) -> list[tuple[str, str, Any]]:
    counted_to = facts.days[-1].isoformat() if facts.days else "-"
    served = {w for rows in roster.enrollments.values() for _, days in rows for w in days}
    return [
        ("统计期间", "Period", span.label),
        ("起止日期", "Dates", f"{span.start.isoformat()} 至 {span.end.isoformat()}"),
        ("统计截至", "Counted up to", counted_to),
        ("服务日数", "Service days", sum(1 for d in facts.days if facts.weekday[d] in served)),
    ]
