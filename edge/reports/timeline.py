"""One child's day: every tap about them, what was decided and why, and who had them.

The taps table holds the child's own taps, their guardians' pickup taps that named
them, the head counts of their group while they were in it, and any corrected record
with who corrected it and why. The chain of custody has a row per change of hands:
signed in to a group, a staff member taking custody, moved, collected or gone home.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.errors import ReportError
from edge.reports.cells import ends, group_name, hm, message, name
from edge.reports.source import Source
from edge.reports.tables import Column, Report, Table
from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import PRESENT, DayState
from edge.school.roster import Roster, Student

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
    walk = _ChildDay(roster, day, student_id, student)
    every = list(source.events(day, day))
    voided = {e.data.get("corrects"): e for e in every if e.kind == ev.CORRECTED}
    for event in every:
        walk.see(event, voided)
    walk.finish()
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
        [walk.taps, walk.chain],
    )


class _ChildDay:
    """One walk through a child's day, in fold order: their taps and the chain of custody."""

    def __init__(self, roster: Roster, day: dt.date, student_id: str, student: Student) -> None:
        self.roster = roster
        self.student_id = student_id
        self.student = student
        self.taps = Table("taps", "刷卡记录", "Taps", TAP_COLUMNS)
        self.chain = Table("custody", "监护链", "Chain of custody", CHAIN_COLUMNS)
        self.open_row: list[Any] | None = None
        self.state = DayState(day)

    def see(self, event: Event, voided: dict[Any, Event]) -> None:
        """Take the next event of the day: a tap row if it is about the child, a change of hands."""
        if event.event_id in voided or event.kind == ev.CORRECTED:
            row = _correction_row(self.roster, event, voided.get(event.event_id), self.student_id)
            if row is not None:
                self.taps.rows.append(row)
            return  # a corrected record changes nothing in the chain
        before = self.state.students.get(self.student_id)
        custody_of_mine = (
            event.kind == ev.CUSTODY_TAKEN
            and before is not None
            and before.state == PRESENT
            and event.data.get("group_id") == before.group_id
        )
        if self._mine(event) or custody_of_mine:
            self.taps.rows.append(_tap_row(self.roster, event))
        if event.subject_id == self.student_id and event.outcome == ev.ACCEPTED:
            self._moved(event)
        elif custody_of_mine and before is not None:
            counted = self.student_id in event.data.get("present", [])
            self._hand(event, group_name(self.roster, before.group_id),
                       name(self.roster.staff, event.subject_id),
                       f"教师接管，清点{event.data.get('head_count')}人"
                       + ("" if counted else "（未点到本人）"))  # fmt: skip
        self.state.apply(event)

    def finish(self) -> None:
        """Close the chain: a child still signed in at the end has no record of leaving."""
        final = self.state.students.get(self.student_id)
        if final is not None and final.state == PRESENT and self.open_row is not None:
            self.open_row[1] = "（无离校记录）"

    def _mine(self, event: Event) -> bool:
        """Tell whether an event is about the child: theirs, their card's, or a pickup of them."""
        if event.kind == ev.PICKUP_OPENED:
            listed = event.data.get("students", [])
            return any(c.get("student_id") == self.student_id for c in listed)
        card = self.student.card
        return event.subject_id == self.student_id or (card is not None and event.card == card)

    def _moved(self, event: Event) -> None:
        """Follow the child's own accepted sign-in, release or walk home."""
        roster = self.roster
        if event.kind == ev.SIGNED_IN:
            group = event.data.get("group_id")
            held = self.state.custodians.get(group or "")
            how = "转组" if event.data.get("from_group") else "签到"
            if event.data.get("reentry"):
                how = "离校后重新签到"
            keeper = name(roster.staff, held[0]) if held else "（尚无教师接管）"
            self._hand(event, group_name(roster, group), keeper, how)
        elif event.kind in (ev.RELEASED, ev.LEFT_ALONE):
            how, with_, where = ends(roster, event)
            self._hand(event, f"已离校（{where}）", with_ or "本人（家长同意自行离校）", how)

    def _hand(self, event: Event, place: str, responsible: str, how: str) -> None:
        """Close the open row of the chain at this event and open the next one."""
        at = hm(event.at, self.roster, seconds=True)
        if self.open_row is not None:
            self.open_row[1] = at
        self.open_row = [at, "", place, responsible, how]
        self.chain.rows.append(self.open_row)


def _correction_row(
    roster: Roster, event: Event, fix: Event | None, student_id: str
) -> list[Any] | None:
    """Return the tap row of a corrected record or a correction about the child, if any."""
    if fix is not None:
        if event.subject_id != student_id:
            return None
        row = _tap_row(roster, event)
        row[4] = "已更正"
        row[6] = f"由{name(roster.staff, fix.subject_id)}更正：{fix.data.get('reason')}"
        return row
    if event.data.get("student_id") == student_id:
        return _tap_row(roster, event)
    return None


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
        who = f"{name(table, ident)}（{HOLDER_ZH.get(kind, kind)}）"
    else:
        who = f"未登记卡 {event.uid or event.card}" if event.card else ""
    why = event.data.get("reason") or event.data.get("warning") or event.code
    return [
        hm(event.at, roster, seconds=True),
        station.name if station else event.station,
        who,
        KIND_LABEL.get(event.kind, event.kind),
        OUTCOME_ZH.get(event.outcome, event.outcome),
        message(roster, event),
        why,
        event.event_id,
    ]
