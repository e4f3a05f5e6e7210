"""Records the school must keep, computed from the ledger (DOMAIN.md, "Records ...").

Five reports, each a ``Report`` of titled tables whose cells are plain values (text,
whole numbers, ratios), so the JSON answer, the CSV and the Excel file hold the same
cells:

- ``attendance``: per student and per group over a month, a term or any range: days
  enrolled, attended, on leave, absent without leave (fees are settled on these);
- ``workload``: each staff session (a group on a day) on time, late, complete,
  incomplete or absent, with the school's pay units, and a total per staff member;
- ``supervision``: the daily supervision record of one group (看管记录);
- ``timeline``: one child's day, every tap and decision, and the chain of custody;
- ``parents``: the month's summary for parents, per group, with no one's name.

Everything comes from the events and the roster in force, in the school's timezone,
on the calendar's school days. The roster is the current one: a school re-imports it
each term, and leave.csv keeps the term's leave. Events name students by id, so a
replaced card or a changed class does not split a child's record. A ``Source`` gives
the events: the node's ledger (a kiosk, or a hub with the whole campus) or the
district central's PostgreSQL, one campus at a time.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from edge.errors import ReportError
from edge.school import events as ev
from edge.school import messages
from edge.school.events import Event
from edge.school.fold import PRESENT, DayState, effective
from edge.school.roster import Roster

Progress = Callable[[int, int, dt.date], None]
NAMES = ("attendance", "workload", "supervision", "timeline", "parents")
MAX_DAYS = 400


class Source(Protocol):
    """Where a report reads: the roster in force and the events of a range of days."""

    def roster(self) -> Roster:
        """Return the roster in force."""
        ...

    def events(
        self, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield the events of ``start``..``end``, day by day, each day in fold order."""
        ...

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in in the days, in any order."""
        ...


@dataclass(frozen=True)
class Column:
    """A column: its key in JSON, its Chinese and English headers, and how to show it."""

    key: str
    zh: str
    en: str
    kind: str = "text"  # text | int | units | percent


@dataclass
class Table:
    """One table of a report; each row is a list of cells in ``columns`` order."""

    name: str
    zh: str
    en: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)

    def records(self) -> list[dict[str, Any]]:
        """Return the rows as dicts keyed by column key."""
        keys = [c.key for c in self.columns]
        return [dict(zip(keys, row, strict=True)) for row in self.rows]


@dataclass
class Report:
    """A titled report: facts about it (period, school, when made) and its tables."""

    name: str
    zh: str
    en: str
    meta: list[tuple[str, str, Any]]
    tables: list[Table]

    def table(self, name: str) -> Table:
        """Return the table of that name."""
        for table in self.tables:
            if table.name == name:
                return table
        known = ", ".join(t.name for t in self.tables)
        raise ReportError(f"the {self.name} report has no table '{name}' (it has {known})")

    def to_json(self) -> dict[str, Any]:
        """Return the report as the HTTP API answers it."""
        return {
            "report": self.name,
            "title": self.zh,
            "title_en": self.en,
            "meta": [{"label": zh, "label_en": en, "value": v} for zh, en, v in self.meta],
            "tables": [
                {
                    "name": t.name,
                    "title": t.zh,
                    "title_en": t.en,
                    "columns": [
                        {"key": c.key, "title": c.zh, "title_en": c.en, "kind": c.kind}
                        for c in t.columns
                    ],
                    "rows": t.records(),
                }
                for t in self.tables
            ],
        }


# -- periods ----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """The days a report covers (both ends included) and how to name them."""

    start: dt.date
    end: dt.date
    label: str

    def days(self) -> list[dt.date]:
        """Return every day of the period."""
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def period(
    roster: Roster,
    *,
    month: str | None = None,
    term: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Period:
    """Work out a report's period from a month (2026-11), a term's name, or from/to dates."""
    given = [month is not None, term is not None, start is not None or end is not None]
    if sum(given) != 1:
        raise ReportError("name the period: a month (2026-11), a term, or from and to dates")
    if month is not None:
        try:
            first = dt.date.fromisoformat(f"{month.strip()}-01")
        except ValueError as err:
            raise ReportError(f"month '{month}' is not a month like 2026-11") from err
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return Period(first, following - dt.timedelta(days=1), first.strftime("%Y-%m"))
    if term is not None:
        found = roster.calendar.term(term)
        if found is None:
            names = "、".join(t.name for t in roster.calendar.terms)
            hint = f" (school.toml names: {names})" if names else " (school.toml names no terms)"
            raise ReportError(f"there is no term named '{term}'{hint}", 404)
        return Period(found.start, found.end, found.name)
    if start is None or end is None:
        raise ReportError("a period by dates needs both from and to")
    if end < start:
        raise ReportError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days >= MAX_DAYS:
        raise ReportError(f"a report covers at most {MAX_DAYS} days; ask for a term or a month")
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}")


# -- reading the ledger -------------------------------------------------------------


def _by_day(
    source: Source,
    start: dt.date,
    end: dt.date,
    kinds: Iterable[str] | None,
    progress: Progress | None,
) -> Iterator[tuple[dt.date, list[Event]]]:
    """Yield (day, events) for every day of the range, empty days included, in order."""
    total = (end - start).days + 1
    stream = itertools.groupby(source.events(start, end, kinds), key=lambda e: e.day)
    pending = next(stream, None)
    for index in range(total):
        day = start + dt.timedelta(days=index)
        events: list[Event] = []
        if pending is not None and pending[0] == day:
            events = effective(pending[1])  # a corrected sign-in or release does not count
            pending = next(stream, None)
        if progress is not None:
            progress(index + 1, total, day)
        yield day, events


def _hm(moment: dt.datetime | None, roster: Roster, seconds: bool = False) -> str:
    if moment is None:
        return ""
    return moment.astimezone(roster.calendar.tz).strftime("%H:%M:%S" if seconds else "%H:%M")


def _name(table: dict[str, Any], ident: str | None) -> str:
    if ident is None:
        return ""
    person = table.get(ident)
    return person.name if person is not None else ident


def _group_name(roster: Roster, group_id: str | None) -> str:
    group = roster.groups.get(group_id or "")
    return group.name if group else (group_id or "")


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- attendance -------------------------------------------------------------------

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
KIND_ZH = {"basic": "基础看护", "club": "社团活动"}


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
             _rate(counts[ATTENDED], len(enrolled)), extra]
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
             _name(roster.staff, group.staff_id), len(members), len(service_days), student_days,
             counts[ATTENDED], counts[ON_LEAVE], counts[ABSENT],
             _rate(counts[ATTENDED], student_days)]
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


# -- staff workload -----------------------------------------------------------------

COMPLETE, INCOMPLETE, LATE, STAFF_ABSENT = "complete", "incomplete", "late", "absent"
STATUS_ZH = {COMPLETE: "完整", INCOMPLETE: "不完整", LATE: "迟到", STAFF_ABSENT: "缺勤"}
DUTY_ZH = {"own": "本组", "substitute": "代班", "took_over": "接班"}
WORKLOAD_KINDS = (ev.SIGNED_IN, ev.RELEASED, ev.LEFT_ALONE, ev.CUSTODY_TAKEN)


@dataclass
class _Session:
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

    sessions: list[_Session]
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
    sessions: dict[tuple[str, str], _Session] = {}
    for gid, taken in custody.items():
        start = roster.group_start(gid, day)
        lunch = start.timetz().replace(tzinfo=None) < lunch_before
        owner = roster.groups[gid].staff_id if gid in roster.groups else None
        for index, event in enumerate(taken):
            staff = event.subject_id or ""
            session = sessions.get((staff, gid))
            if session is None:
                duty = "own" if staff == owner else ("substitute" if index == 0 else "took_over")
                session = sessions[(staff, gid)] = _Session(
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
                sessions[(group.staff_id, gid)] = _Session(
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


def _sessions(
    source: Source, roster: Roster, span: Period, today: dt.date, progress: Progress | None
) -> tuple[list[_Session], dict[tuple[dt.date, str], int]]:
    sessions: list[_Session] = []
    overdue: dict[tuple[dt.date, str], int] = {}
    last = min(span.end, today)
    if last < span.start:
        return sessions, overdue
    for day, events in _by_day(source, span.start, last, WORKLOAD_KINDS, progress):
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
    sessions, _ = _sessions(source, roster, span, today, progress)
    rows = Table("sessions", "看护场次", "Sessions", SESSION_COLUMNS)
    per_staff: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for s in sorted(sessions, key=lambda s: (s.day, s.staff_id, s.start, s.group_id)):
        units = s.units(roster)
        rows.rows.append(
            [s.day.isoformat(), s.staff_id, _name(roster.staff, s.staff_id), s.group_id,
             _group_name(roster, s.group_id), DUTY_ZH[s.duty], "是" if s.lunch else "否",
             _hm(s.start, roster), _hm(s.first_at, roster), s.head_count, s.expected,
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


# -- the daily supervision record ----------------------------------------------------


def _ends(roster: Roster, event: Event) -> tuple[str, str, str]:
    """Return (how they left, with whom, where) for a release, a walk home or a move."""
    station = roster.stations.get(event.station)
    where = station.name if station else event.station
    if event.kind == ev.RELEASED:
        how = "无卡接送" if event.data.get("manual") else "家长接走"
        if event.data.get("delegate_name"):
            return how, f"{event.data['delegate_name']}（临时委托）", where
        guardian = _name(roster.guardians, event.data.get("guardian_id"))
        relation = event.data.get("relation") or ""
        return how, f"{guardian}（{relation}）" if relation else guardian, where
    if event.kind == ev.LEFT_ALONE:
        return "自行离校", "", where
    return f"转到{_group_name(roster, event.data.get('group_id'))}", "", where


RECORD_STUDENT_COLUMNS = [
    Column("student_id", "学号", "Student ID"),
    Column("name", "姓名", "Name"),
    Column("class", "班级", "Class"),
    Column("status", "出勤", "Attendance"),
    Column("signed_in", "签到时间", "Signed in"),
    Column("left", "离开时间", "Left"),
    Column("how", "离开方式", "How"),
    Column("with", "接走人", "Collected by"),
    Column("where", "地点", "Where"),
    Column("notes", "备注", "Notes"),
]
RECORD_CUSTODY_COLUMNS = [
    Column("at", "时间", "Time"),
    Column("staff_id", "工号", "Staff ID"),
    Column("staff", "接管教师", "Took custody"),
    Column("from", "交出人", "Handed over by"),
    Column("head_count", "实到", "Present", "int"),
    Column("expected", "应到", "Expected", "int"),
    Column("missing", "未到", "Missing"),
    Column("resolved", "未到学生去向", "What became of the missing"),
]
INCIDENT_COLUMNS = [
    Column("at", "时间", "Time"),
    Column("student", "学生", "Student"),
    Column("kind", "类型", "Kind"),
    Column("detail", "说明", "Detail"),
]


def supervision(source: Source, day: dt.date, group_id: str, over: bool = True) -> Report:
    """Return the daily supervision record (看管记录) of one group.

    While the day is not ``over``, a child who has not come is "not yet arrived" (未到),
    not absent.
    """
    roster = source.roster()
    group = roster.groups.get(group_id)
    if group is None:
        raise ReportError(f"group '{group_id}' is not in the roster", 404)
    events = effective(source.events(day, day))
    end = roster.calendar.service_end_at(day)
    tz = roster.calendar.tz
    members = list(roster.expected_in_group(group_id, day))
    for event in events:
        if (
            event.kind == ev.SIGNED_IN
            and event.data.get("group_id") == group_id
            and event.subject_id not in members
        ):
            members.append(event.subject_id or "")
    member_set = set(members)
    stations = {s.station_id for s in roster.stations.values() if s.group_id == group_id}
    first_in: dict[str, dt.datetime] = {}
    first_anywhere: dict[str, Event] = {}
    left: dict[str, Event] = {}
    incidents = Table("incidents", "异常情况", "Incidents", INCIDENT_COLUMNS)
    custody = Table("custody", "接管与交接", "Custody and handovers", RECORD_CUSTODY_COLUMNS)
    state = DayState(day)

    def incident(event: Event, sid: str | None, kind: str, detail: str) -> None:
        incidents.rows.append([_hm(event.at, roster), _name(roster.students, sid), kind, detail])

    for event in events:
        sid = event.subject_id or ""
        before = state.students.get(sid)
        was_here = before is not None and before.state == PRESENT and before.group_id == group_id
        if event.kind == ev.SIGNED_IN and event.subject_kind == "student":
            first_anywhere.setdefault(sid, event)
            if event.data.get("group_id") == group_id:
                first_in.setdefault(sid, event.at)
                left.pop(sid, None)
                if event.data.get("reentry"):
                    incident(
                        event, sid, "离校后返回", messages.render(event.code, roster, _d(event))
                    )
                elif event.data.get("warning") == "on_leave":
                    incident(
                        event, sid, "请假仍签到", messages.render(event.code, roster, _d(event))
                    )
            elif was_here:
                left[sid] = event
        elif event.kind in (ev.RELEASED, ev.LEFT_ALONE) and was_here:
            left[sid] = event
            if event.at >= end:
                incident(event, sid, "超时离校", f"服务结束（{_hm(end, roster)}）后离校")
        elif event.kind == ev.CUSTODY_TAKEN and event.data.get("group_id") == group_id:
            custody.rows.append(_custody_row(roster, event))
        elif event.kind == ev.REFUSED and sid in member_set:
            incident(event, sid, "拒绝放行", messages.render(event.code, roster, _d(event)))
        elif event.kind == ev.UNKNOWN_CARD and event.station in stations:
            incident(event, None, "未登记的卡", f"卡号 {event.uid or event.card}")
        state.apply(event)
    for row in custody.rows:  # what became of each child missing at a head count
        row[-1] = "；".join(
            _resolution(roster, sid, first_anywhere.get(sid), day, over) for sid in row[-1]
        )
        row[-2] = "、".join(_name(roster.students, sid) for sid in row[-2])
    students = Table("students", "学生名单", "Students", RECORD_STUDENT_COLUMNS)
    totals = dict.fromkeys(
        ("出勤", "请假", "缺勤" if over else "未到", "家长接走", "自行离校", "转组", "未离校"), 0
    )
    for sid in members:
        student = roster.students.get(sid)
        notes = []
        if sid in first_in:
            status = "出勤"
        elif roster.on_leave(sid, day):
            status = "请假"
            notes.append(roster.leave[(sid, day)])
        else:
            status = "缺勤" if over else "未到"
            elsewhere = first_anywhere.get(sid)
            if elsewhere is not None:
                status = "出勤"
                notes.append(f"签到于{_group_name(roster, elsewhere.data.get('group_id'))}")
        totals[status] += 1
        out = left.get(sid)
        how = with_ = where = ""
        presence = state.students.get(sid)
        if out is not None:
            how, with_, where = _ends(roster, out)
            totals["转组" if how.startswith("转到") else _COUNTED_AS.get(how, how)] += 1
        elif (
            over
            and presence is not None
            and presence.state == PRESENT
            and presence.group_id == group_id
        ):
            how = "未记录离校"
            totals["未离校"] += 1
            incidents.rows.append(["", _name(roster.students, sid), "未记录离校",
                                   "当天没有接走或离校记录"])  # fmt: skip
        students.rows.append(
            [sid, student.name if student else sid, student.class_name if student else "",
             status, _hm(first_in.get(sid), roster), _hm(out.at if out else None, roster),
             how, with_, where, "；".join(n for n in notes if n)]
        )  # fmt: skip
    incidents.rows.sort(key=lambda r: (r[0] == "", r[0]))
    return Report(
        "supervision",
        "课后服务看管记录",
        "Daily supervision record",
        [
            ("日期", "Date", day.isoformat()),
            ("班组", "Group", f"{group.name}（{group_id}）"),
            ("类型", "Kind", KIND_ZH.get(group.kind, group.kind)),
            ("地点", "Room", group.room),
            ("负责教师", "Staff in charge", _name(roster.staff, group.staff_id)),
            ("开始时间", "Starts", _hm(roster.group_start(group_id, day), roster)),
            ("服务结束", "Service ends", end.astimezone(tz).strftime("%H:%M")),
            ("应到", "Expected", len(roster.expected_in_group(group_id, day))),
            *((k, _TOTALS_EN[k], v) for k, v in totals.items()),
        ],
        [students, custody, incidents],
    )


_COUNTED_AS = {"无卡接送": "家长接走"}
_TOTALS_EN = {
    "出勤": "Attended",
    "请假": "On leave",
    "缺勤": "Absent",
    "未到": "Not yet arrived",
    "家长接走": "Collected",
    "自行离校": "Left alone",
    "转组": "Moved",
    "未离校": "Not recorded as gone",
}


def _d(event: Event) -> dict[str, Any]:
    """Return what ``messages.render`` needs of an event: its data and who it is about."""
    data = dict(event.data)
    if event.subject_kind and event.subject_id:
        data.setdefault(f"{event.subject_kind}_id", event.subject_id)
    data.setdefault("station_id", event.station)
    data.setdefault("card", event.uid or event.card)
    return data


def _custody_row(roster: Roster, event: Event) -> list[Any]:
    return [
        _hm(event.at, roster),
        event.subject_id,
        _name(roster.staff, event.subject_id),
        _name(roster.staff, event.data.get("previous_custodian")),
        event.data.get("head_count"),
        event.data.get("expected"),
        list(event.data.get("missing", [])),  # names and resolutions filled in afterwards
        list(event.data.get("missing", [])),
    ]


def _resolution(roster: Roster, sid: str, arrived: Event | None, day: dt.date, over: bool) -> str:
    name = _name(roster.students, sid)
    if arrived is not None:
        where = _group_name(roster, arrived.data.get("group_id"))
        return f"{name} {_hm(arrived.at, roster)} 签到{where}"
    if roster.on_leave(sid, day):
        return f"{name} 请假"
    return f"{name} 全天未到" if over else f"{name} 尚未签到"


# -- one child's day ----------------------------------------------------------------

OUTCOME_ZH = {ev.ACCEPTED: "通过", ev.DENIED: "拒绝", ev.IGNORED: "忽略"}
KIND_LABEL = {
    ev.SIGNED_IN: "签到",
    ev.CUSTODY_TAKEN: "教师接管",
    ev.PICKUP_OPENED: "家长刷卡",
    ev.RELEASED: "接走",
    ev.LEFT_ALONE: "自行离校",
    ev.STAFF_ON_DUTY: "教师值班",
    ev.REFUSED: "拒绝",
    ev.UNKNOWN_CARD: "未登记的卡",
    ev.DEBOUNCED: "重复刷卡",
    ev.CORRECTED: "更正",
}
HOLDER_ZH = {"student": "学生", "guardian": "家长", "staff": "教师"}
TAP_COLUMNS = [
    Column("at", "时间", "Time"),
    Column("station", "地点", "Where"),
    Column("card_holder", "刷卡人", "Who tapped"),
    Column("event", "事项", "What"),
    Column("outcome", "结果", "Outcome"),
    Column("message", "系统判定", "What the system decided"),
    Column("why", "依据", "Why"),
    Column("event_id", "记录编号", "Record"),
]
CHAIN_COLUMNS = [
    Column("from", "起", "From"),
    Column("to", "止", "Until"),
    Column("place", "所在", "Where"),
    Column("responsible", "负责人", "In whose care"),
    Column("how", "交接", "Change of hands"),
]


def timeline(source: Source, day: dt.date, student_id: str) -> Report:
    """One child's day: every tap about them, what was decided and why, and who had them."""
    roster = source.roster()
    student = roster.students.get(student_id)
    if student is None:
        raise ReportError(f"student '{student_id}' is not in the roster", 404)
    taps = Table("taps", "刷卡记录", "Taps", TAP_COLUMNS)
    chain = Table("custody", "监护链", "Chain of custody", CHAIN_COLUMNS)
    state = DayState(day)
    open_row: list[Any] | None = None

    def hand(event: Event, place: str, responsible: str, how: str) -> None:
        nonlocal open_row
        if open_row is not None:
            open_row[1] = _hm(event.at, roster, seconds=True)
        open_row = [_hm(event.at, roster, seconds=True), "", place, responsible, how]
        chain.rows.append(open_row)

    every = list(source.events(day, day))
    voided = {e.data.get("corrects"): e for e in every if e.kind == ev.CORRECTED}
    for event in every:
        if event.event_id in voided:
            if event.subject_id == student_id:
                row = _tap_row(roster, event)
                fix = voided[event.event_id]
                row[4] = "已更正"
                row[6] = f"由{_name(roster.staff, fix.subject_id)}更正：{fix.data.get('reason')}"
                taps.rows.append(row)
            continue  # a corrected record changes nothing in the chain
        if event.kind == ev.CORRECTED:
            if event.data.get("student_id") == student_id:
                taps.rows.append(_tap_row(roster, event))
            continue
        mine = event.subject_id == student_id or (
            student.card is not None and event.card == student.card
        )
        before = state.students.get(student_id)
        here = before is not None and before.state == PRESENT
        if event.kind == ev.PICKUP_OPENED:
            mine = any(c.get("student_id") == student_id for c in event.data.get("students", []))
        custody_of_mine = (
            event.kind == ev.CUSTODY_TAKEN
            and here
            and before is not None
            and event.data.get("group_id") == before.group_id
        )
        if mine or custody_of_mine:
            taps.rows.append(_tap_row(roster, event))
        if event.subject_id == student_id and event.outcome == ev.ACCEPTED:
            if event.kind == ev.SIGNED_IN:
                group = event.data.get("group_id")
                held = state.custodians.get(group or "")
                how = "转组" if event.data.get("from_group") else "签到"
                if event.data.get("reentry"):
                    how = "离校后重新签到"
                hand(event, _group_name(roster, group),
                     _name(roster.staff, held[0]) if held else "（尚无教师接管）", how)  # fmt: skip
            elif event.kind in (ev.RELEASED, ev.LEFT_ALONE):
                how, with_, where = _ends(roster, event)
                hand(event, f"已离校（{where}）", with_ or "本人（家长同意自行离校）", how)
        elif custody_of_mine and before is not None:
            counted = student_id in event.data.get("present", [])
            hand(event, _group_name(roster, before.group_id),
                 _name(roster.staff, event.subject_id),
                 f"教师接管，清点{event.data.get('head_count')}人"
                 + ("" if counted else "（未点到本人）"))  # fmt: skip
        state.apply(event)
    final = state.students.get(student_id)
    if final is not None and final.state == PRESENT and open_row is not None:
        open_row[1] = "（无离校记录）"
    return Report(
        "timeline",
        "学生当日记录",
        "A child's day",
        [
            ("日期", "Date", day.isoformat()),
            ("学生", "Student", f"{student.name}（{student_id}）"),
            ("班级", "Class", student.class_name),
            ("自行离校", "May leave alone", "是" if student.walk_alone else "否"),
            ("请假", "On leave", roster.leave.get((student_id, day), "否")),
        ],
        [taps, chain],
    )


def _tap_row(roster: Roster, event: Event) -> list[Any]:
    station = roster.stations.get(event.station)
    holder = roster.cards.get(event.card or "")
    if holder is not None:
        kind, ident = holder
        tables: dict[str, dict[str, Any]] = {
            "student": roster.students,
            "guardian": roster.guardians,
            "staff": roster.staff,
        }
        table = tables.get(kind, roster.staff)
        who = f"{_name(table, ident)}（{HOLDER_ZH.get(kind, kind)}）"
    else:
        who = f"未登记卡 {event.uid or event.card}" if event.card else ""
    why = event.data.get("reason") or event.data.get("warning") or event.code
    return [
        _hm(event.at, roster, seconds=True),
        station.name if station else event.station,
        who,
        KIND_LABEL.get(event.kind, event.kind),
        OUTCOME_ZH.get(event.outcome, event.outcome),
        messages.render(event.code, roster, _d(event)),
        why,
        event.event_id,
    ]


# -- the parents' monthly summary ----------------------------------------------------

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
    sessions, overdue = _sessions(source, roster, span, today, progress)
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


# -- choosing a report --------------------------------------------------------------


class LedgerSource:
    """A node's own ledger as a report source: a kiosk's taps, or a hub's whole campus."""

    def __init__(self, ledger: Any, roster: Roster | None = None) -> None:
        self._ledger = ledger
        self._roster = roster

    def roster(self) -> Roster:
        """Return the roster in force (the node's live one when it was given)."""
        if self._roster is None:
            self._roster = self._ledger.load_roster()
        return self._roster

    def events(
        self, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield the ledger's events of the days, day by day in fold order."""
        return self._ledger.iter_days(start, end, kinds)

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in in the days."""
        return self._ledger.sign_ins(start, end)


class CentralSource:
    """One campus's events and roster on the district central (PostgreSQL)."""

    def __init__(self, store: Any, campus: str) -> None:
        self._store = store
        self.campus = campus
        self._roster: Roster | None = None

    def roster(self) -> Roster:
        """Return the campus's newest roster."""
        if self._roster is None:
            self._roster = self._store.campus_roster(self.campus)
        return self._roster

    def events(
        self, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield the campus's events of the days, day by day in fold order."""
        return self._store.campus_events(self.campus, start, end, kinds)

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in at the campus in the days."""
        return self._store.campus_sign_ins(self.campus, start, end)


def district(reports: list[tuple[str, Report]]) -> Report:
    """Join one report per campus into one, each row led by its campus (the central's view)."""
    first = reports[0][1]
    tables = []
    for index, table in enumerate(first.tables):
        joined = Table(
            table.name, table.zh, table.en, [Column("campus", "校区", "Campus"), *table.columns]
        )
        for campus, report in reports:
            joined.rows.extend([campus, *row] for row in report.tables[index].rows)
        tables.append(joined)
    meta = [m for m in first.meta if m[0] in ("统计期间", "起止日期", "计量规则", "迟到判定")]
    meta.append(("校区", "Campuses", "、".join(c for c, _ in reports)))
    return Report(first.name, first.zh, first.en, meta, tables)


def make(
    name: str,
    source: Source,
    *,
    now: dt.datetime,
    month: str | None = None,
    term: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    date: dt.date | None = None,
    group: str | None = None,
    student: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Make the named report from what the caller asked for (CLI options or query).

    ``now`` decides which days are over: a day counts in attendance and workload once
    its service has ended, and a child not yet come today is "not yet arrived" in the
    supervision record rather than absent.
    """
    if name not in NAMES:
        raise ReportError(f"there is no report '{name}'; the reports are {', '.join(NAMES)}", 404)
    roster = source.roster()
    calendar = roster.calendar
    today = calendar.day_of(now)
    through = today if now >= calendar.service_end_at(today) else today - dt.timedelta(days=1)
    if name in ("supervision", "timeline"):
        day = date or today
        if name == "supervision":
            if not group:
                raise ReportError("the supervision record is per group: name the group")
            return supervision(source, day, group, over=day <= through)
        if not student:
            raise ReportError("the timeline is one child's day: name the student")
        return timeline(source, day, student)
    if month is None and term is None and start is None and end is None:
        month = (date or today).strftime("%Y-%m")  # this month, when nothing is said
    span = period(roster, month=month, term=term, start=start, end=end)
    build = {"attendance": attendance, "workload": workload, "parents": parents}[name]
    return build(source, span, through, progress)
