"""The daily supervision record (看管记录) of one group: who came, who left how, with whom.

Beside the children, the record lists each head count when a staff member took
custody (and what became of those missing at it), and the day's incidents: a child
back after leaving, signed in while on leave, refused at the gate, gone after the
service end or never recorded as gone, and unknown cards at the group's stations.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.errors import ReportError
from edge.reports.cells import KIND_ZH, ends, group_name, hm, message, name
from edge.reports.source import Source
from edge.reports.tables import Column, Report, Table
from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import PRESENT, DayState, effective
from edge.school.roster import Group, Roster

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
    walk = _GroupDay(roster, day, group_id, _members(roster, group_id, day, events), over)
    for event in events:
        walk.see(event)
    walk.resolve_custody()
    students, totals = walk.students()
    walk.incidents.rows.sort(key=lambda r: (r[0] == "", r[0]))
    return Report(
        "supervision",
        "课后服务看管记录",
        "Daily supervision record",
        _meta(roster, group, day, totals),
        [students, walk.custody, walk.incidents],
    )


def _members(roster: Roster, group_id: str, day: dt.date, events: list[Event]) -> list[str]:
    """Return the children expected in the group that day, then any others signed in to it."""
    members = list(roster.expected_in_group(group_id, day))
    for event in events:
        if (
            event.kind == ev.SIGNED_IN
            and event.data.get("group_id") == group_id
            and event.subject_id not in members
        ):
            members.append(event.subject_id or "")
    return members


def _meta(
    roster: Roster, group: Group, day: dt.date, totals: dict[str, int]
) -> list[tuple[str, str, Any]]:
    """Return the record's facts: the day, the group, its times and the day's totals."""
    group_id = group.group_id
    return [
        ("日期", "Date", day.isoformat()),
        ("班组", "Group", f"{group.name}（{group_id}）"),
        ("类型", "Kind", KIND_ZH.get(group.kind, group.kind)),
        ("地点", "Room", group.room),
        ("负责教师", "Staff in charge", name(roster.staff, group.staff_id)),
        ("开始时间", "Starts", hm(roster.group_start(group_id, day), roster)),
        ("服务结束", "Service ends", hm(roster.calendar.service_end_at(day), roster)),
        ("应到", "Expected", len(roster.expected_in_group(group_id, day))),
        *((k, _TOTALS_EN[k], v) for k, v in totals.items()),
    ]


class _GroupDay:
    """One walk through a group's day, in fold order: who came, who left, head counts."""

    def __init__(
        self, roster: Roster, day: dt.date, group_id: str, members: list[str], over: bool
    ) -> None:
        self.roster = roster
        self.day = day
        self.group_id = group_id
        self.members = members
        self.over = over
        self.member_set = set(members)
        self.stations = {s.station_id for s in roster.stations.values() if s.group_id == group_id}
        self.end = roster.calendar.service_end_at(day)
        self.first_in: dict[str, dt.datetime] = {}
        self.first_anywhere: dict[str, Event] = {}
        self.left: dict[str, Event] = {}
        self.incidents = Table("incidents", "异常情况", "Incidents", INCIDENT_COLUMNS)
        self.custody = Table(
            "custody", "接管与交接", "Custody and handovers", RECORD_CUSTODY_COLUMNS
        )
        self.state = DayState(day)

    def see(self, event: Event) -> None:
        """Take the next event of the day into the record."""
        sid = event.subject_id or ""
        before = self.state.students.get(sid)
        was_here = (
            before is not None and before.state == PRESENT and before.group_id == self.group_id
        )
        if event.kind == ev.SIGNED_IN and event.subject_kind == "student":
            self._signed_in(event, sid, was_here)
        elif event.kind in (ev.RELEASED, ev.LEFT_ALONE) and was_here:
            self.left[sid] = event
            if event.at >= self.end:
                late = f"服务结束（{hm(self.end, self.roster)}）后离校"
                self._incident(event, sid, "超时离校", late)
        elif event.kind == ev.CUSTODY_TAKEN and event.data.get("group_id") == self.group_id:
            self.custody.rows.append(_custody_row(self.roster, event))
        elif event.kind == ev.REFUSED and sid in self.member_set:
            self._incident(event, sid, "拒绝放行", message(self.roster, event))
        elif event.kind == ev.UNKNOWN_CARD and event.station in self.stations:
            self._incident(event, None, "未登记的卡", f"卡号 {event.uid or event.card}")
        self.state.apply(event)

    def _signed_in(self, event: Event, sid: str, was_here: bool) -> None:
        """Note a child's sign-in: here (maybe an incident), or elsewhere, leaving this group."""
        self.first_anywhere.setdefault(sid, event)
        if event.data.get("group_id") == self.group_id:
            self.first_in.setdefault(sid, event.at)
            self.left.pop(sid, None)
            if event.data.get("reentry"):
                self._incident(event, sid, "离校后返回", message(self.roster, event))
            elif event.data.get("warning") == "on_leave":
                self._incident(event, sid, "请假仍签到", message(self.roster, event))
        elif was_here:
            self.left[sid] = event

    def _incident(self, event: Event, sid: str | None, kind: str, detail: str) -> None:
        self.incidents.rows.append(
            [hm(event.at, self.roster), name(self.roster.students, sid), kind, detail]
        )

    def resolve_custody(self) -> None:
        """Name the children missing at each head count, and say what became of each."""
        for row in self.custody.rows:
            row[-1] = "；".join(
                _resolution(self.roster, sid, self.first_anywhere.get(sid), self.day, self.over)
                for sid in row[-1]
            )
            row[-2] = "、".join(name(self.roster.students, sid) for sid in row[-2])

    def students(self) -> tuple[Table, dict[str, int]]:
        """Return the table of the group's children and the day's totals."""
        roster = self.roster
        table = Table("students", "学生名单", "Students", RECORD_STUDENT_COLUMNS)
        totals = dict.fromkeys(
            ("出勤", "请假", "缺勤" if self.over else "未到", "家长接走", "自行离校", "转组",
             "未离校"), 0
        )  # fmt: skip
        for sid in self.members:
            student = roster.students.get(sid)
            status, notes = self._attendance(sid)
            totals[status] += 1
            out = self.left.get(sid)
            how = with_ = where = ""
            if out is not None:
                how, with_, where = ends(roster, out)
                totals["转组" if how.startswith("转到") else _COUNTED_AS.get(how, how)] += 1
            elif self.over and self._still_here(sid):
                how = "未记录离校"
                totals["未离校"] += 1
                self.incidents.rows.append(["", name(roster.students, sid), "未记录离校",
                                            "当天没有接走或离校记录"])  # fmt: skip
            table.rows.append(
                [sid, student.name if student else sid, student.class_name if student else "",
                 status, hm(self.first_in.get(sid), roster), hm(out.at if out else None, roster),
                 how, with_, where, "；".join(n for n in notes if n)]
            )  # fmt: skip
        return table, totals

    def _attendance(self, sid: str) -> tuple[str, list[str]]:
        """Return whether a child came (here or in another group), was on leave, or not."""
        if sid in self.first_in:
            return "出勤", []
        if self.roster.on_leave(sid, self.day):
            return "请假", [self.roster.leave[(sid, self.day)]]
        elsewhere = self.first_anywhere.get(sid)
        if elsewhere is not None:
            return "出勤", [f"签到于{group_name(self.roster, elsewhere.data.get('group_id'))}"]
        return ("缺勤" if self.over else "未到"), []

    def _still_here(self, sid: str) -> bool:
        presence = self.state.students.get(sid)
        return (
            presence is not None
            and presence.state == PRESENT
            and presence.group_id == self.group_id
        )


def _custody_row(roster: Roster, event: Event) -> list[Any]:
    return [
        hm(event.at, roster),
        event.subject_id,
        name(roster.staff, event.subject_id),
        name(roster.staff, event.data.get("previous_custodian")),
        event.data.get("head_count"),
        event.data.get("expected"),
        list(event.data.get("missing", [])),  # names and resolutions filled in afterwards
        list(event.data.get("missing", [])),
    ]


def _resolution(roster: Roster, sid: str, arrived: Event | None, day: dt.date, over: bool) -> str:
    child = name(roster.students, sid)
    if arrived is not None:
        where = group_name(roster, arrived.data.get("group_id"))
        return f"{child} {hm(arrived.at, roster)} 签到{where}"
    if roster.on_leave(sid, day):
        return f"{child} 请假"
    return f"{child} 全天未到" if over else f"{child} 尚未签到"
