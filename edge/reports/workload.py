"""Staff attendance and workload units for pay, each session of custody on time or not.

A session is one staff member's custody of one group on one day; the school's pay
units (school.toml [workload]) follow from how it went.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from edge.reports.cells import group_name, hm, name
from edge.reports.period import Period
from edge.reports.source import Progress, Source, by_day
from edge.reports.tables import Column, Report, Table
from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import PRESENT, DayState
from edge.school.roster import Roster

COMPLETE, INCOMPLETE, LATE, STAFF_ABSENT = "complete", "incomplete", "late", "absent"
STATUS_ZH = {COMPLETE: "完整", INCOMPLETE: "不完整", LATE: "迟到", STAFF_ABSENT: "缺勤"}
DUTY_ZH = {"own": "本组", "substitute": "代班", "took_over": "接班"}
WORKLOAD_KINDS = (ev.SIGNED_IN, ev.RELEASED, ev.LEFT_ALONE, ev.CUSTODY_TAKEN)


@dataclass
class Session:
    """A staff member's custody of one group on one day."""

    day: dt.date
    staff_id: str
    group_id: str
    duty: str
    lunch: bool
    start: dt.datetime
    first_at: dt.datetime | None = None
    head_count: int | None = None
    expected: int | None = None
    status: str = COMPLETE
    left_present: int = 0
    opened: bool = False  # the first custody of the group that day

    def units(self, roster: Roster) -> float:
        """Return the pay units the session is worth (school.toml [workload])."""
        calendar = roster.calendar
        if self.status in (LATE, STAFF_ABSENT):
            return calendar.weight(self.status)
        whole = calendar.weight("lunch") if self.lunch else calendar.weight(COMPLETE)
        if self.status == INCOMPLETE:
            return whole * calendar.weight(INCOMPLETE)
        return whole


@dataclass
class _DayFacts:
    """What a day's walk finds for the workload and the parents' summary."""

    sessions: list[Session]
    overdue: dict[str, int]  # group -> children who left after the service end, or never


def _walk_day(roster: Roster, day: dt.date, events: list[Event]) -> _DayFacts:
    state = DayState(day)
    custody: dict[str, list[Event]] = defaultdict(list)
    end = roster.calendar.service_end_at(day)
    overdue: dict[str, int] = defaultdict(int)
    for event in events:
        if event.kind == ev.CUSTODY_TAKEN and event.subject_id:
            custody[event.data["group_id"]].append(event)
        elif event.kind in (ev.RELEASED, ev.LEFT_ALONE) and event.at >= end:
            before = state.students.get(event.subject_id or "")
            if before is not None and before.state == PRESENT and before.group_id:
                overdue[before.group_id] += 1
        state.apply(event)
    for presence in state.students.values():
        if presence.state == PRESENT and presence.group_id:
            overdue[presence.group_id] += 1  # never recorded as gone: still on campus at night
    late_after = roster.calendar.late_after
    lunch_before = roster.calendar.lunch_before
    sessions: dict[tuple[str, str], Session] = {}
    for gid, taken in custody.items():
        start = roster.group_start(gid, day)
        lunch = start.timetz().replace(tzinfo=None) < lunch_before
        owner = roster.groups[gid].staff_id if gid in roster.groups else None
        for index, event in enumerate(taken):
            staff = event.subject_id or ""
            session = sessions.get((staff, gid))
            if session is None:
                duty = "own" if staff == owner else ("substitute" if index == 0 else "took_over")
                session = sessions[(staff, gid)] = Session(
                    day, staff, gid, duty, lunch, start, event.at,
                    event.data.get("head_count"), event.data.get("expected"),
                )  # fmt: skip
                session.opened = index == 0
                if index == 0 and event.at > start + late_after:
                    session.status = LATE
        last = taken[-1].subject_id or ""
        still = len(state.present_in(gid))
        if still and (last, gid) in sessions and sessions[(last, gid)].status != LATE:
            sessions[(last, gid)].status = INCOMPLETE
            sessions[(last, gid)].left_present = still
    for gid, group in roster.groups.items():
        if group.staff_id and (group.staff_id, gid) not in sessions:
            if roster.expected_in_group(gid, day):
                start = roster.group_start(gid, day)
                sessions[(group.staff_id, gid)] = Session(
                    day, group.staff_id, gid, "own",
                    start.timetz().replace(tzinfo=None) < lunch_before, start,
                    status=STAFF_ABSENT,
                )  # fmt: skip
    ordered = sorted(sessions.values(), key=lambda s: (s.staff_id, s.start, s.group_id))
    return _DayFacts(ordered, dict(overdue))


SESSION_COLUMNS = [
    Column("date", "日期", "Date"),
    Column("staff_id", "工号", "Staff ID"),
    Column("staff", "姓名", "Name"),
    Column("group_id", "班组编号", "Group ID"),
    Column("group", "班组", "Group"),
    Column("duty", "职责", "Duty"),
    Column("lunch", "午托", "Lunchtime"),
    Column("start", "规定开始", "Starts"),
    Column("custody_at", "接管时间", "Took custody"),
    Column("head_count", "实到", "Present", "int"),
    Column("expected", "应到", "Expected", "int"),
    Column("status", "考勤", "Record"),
    Column("units", "工作量", "Units", "units"),
]
STAFF_COLUMNS = [
    Column("staff_id", "工号", "Staff ID"),
    Column("name", "姓名", "Name"),
    Column("role", "岗位", "Role"),
    Column("sessions", "场次", "Sessions", "int"),
    Column("complete", "完整", "Complete", "int"),
    Column("incomplete", "不完整", "Incomplete", "int"),
    Column("late", "迟到", "Late", "int"),
    Column("absent", "缺勤", "Absent", "int"),
    Column("lunch", "午托场次", "Lunchtime sessions", "int"),
    Column("units", "工作量合计", "Units in all", "units"),
]
ROLE_ZH = {"teacher": "教师", "guard": "门卫", "duty_leader": "值班领导", "admin": "管理员"}


def staff_sessions(
    source: Source, roster: Roster, span: Period, today: dt.date, progress: Progress | None
) -> tuple[list[Session], dict[tuple[dt.date, str], int]]:
    """Return the sessions of the period's days so far, and per (day, group) the overdue."""
    sessions: list[Session] = []
    overdue: dict[tuple[dt.date, str], int] = {}
    last = min(span.end, today)
    if last < span.start:
        return sessions, overdue
    for day, events in by_day(source, span.start, last, WORKLOAD_KINDS, progress):
        facts = _walk_day(roster, day, events)
        sessions.extend(facts.sessions)
        overdue.update({(day, g): n for g, n in facts.overdue.items()})
    return sessions, overdue


def workload(
    source: Source, span: Period, today: dt.date, progress: Progress | None = None
) -> Report:
    """Staff attendance and workload units for pay over a period.

    A session is one staff member's custody of one group on one day. The first staff
    member to take custody of a group that day is late when that is after the group's
    start plus ``late_after_minutes``. The last one to hold it leaves an incomplete
    record when children are still signed in to it at the end of the day (no release
    recorded). An assigned staff member (groups.csv staff_id) who never took custody
    of their group on a day it had children enrolled is absent. Units follow
    school.toml's [workload]; a lunchtime session (a group starting before
    ``lunch_before``) is worth the lunch units, halved again when incomplete.
    """
    roster = source.roster()
    sessions, _ = staff_sessions(source, roster, span, today, progress)
    rows = Table("sessions", "看护场次", "Sessions", SESSION_COLUMNS)
    per_staff: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in sorted(sessions, key=lambda s: (s.day, s.staff_id, s.start, s.group_id)):
        units = s.units(roster)
        rows.rows.append(
            [s.day.isoformat(), s.staff_id, name(roster.staff, s.staff_id), s.group_id,
             group_name(roster, s.group_id), DUTY_ZH[s.duty], "是" if s.lunch else "否",
             hm(s.start, roster), hm(s.first_at, roster), s.head_count, s.expected,
             STATUS_ZH[s.status], units]
        )  # fmt: skip
        totals = per_staff[s.staff_id]
        totals["sessions"] += 1
        totals[s.status] += 1
        totals["lunch"] += s.lunch
        totals["units"] += units
    summary = Table("staff", "教师工作量汇总", "Staff totals", STAFF_COLUMNS)
    for stid in [*roster.staff, *sorted(set(per_staff) - set(roster.staff))]:
        if stid not in per_staff:
            continue
        totals = per_staff[stid]
        member = roster.staff.get(stid)
        summary.rows.append(
            [stid, member.name if member else stid,
             ROLE_ZH.get(member.role, member.role) if member else "",
             *(int(totals[k]) for k in ("sessions", COMPLETE, INCOMPLETE, LATE, STAFF_ABSENT,
                                         "lunch")),
             round(totals["units"], 2)]
        )  # fmt: skip
    weights = dict(roster.calendar.weights)
    rule = "，".join(f"{STATUS_ZH.get(k, '午托')} {v:g}" for k, v in weights.items())
    return Report(
        "workload",
        "课后服务教师考勤与工作量",
        "Staff attendance and workload",
        [
            ("统计期间", "Period", span.label),
            ("起止日期", "Dates", f"{span.start.isoformat()} 至 {span.end.isoformat()}"),
            ("计量规则", "Units", rule),
            (
                "迟到判定",
                "Late after",
                f"开始后 {int(roster.calendar.late_after.total_seconds() // 60)} 分钟",
            ),
        ],  # fmt: skip
        [rows, summary],
    )
