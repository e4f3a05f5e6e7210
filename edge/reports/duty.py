"""The duty log (值班日志): one school day as the duty leader (值班领导) keeps it.

Composed from the ledger whenever it is asked, like every report: who was on duty
(the staff who took custody, stood at a pickup point, signed a release or patrolled),
the handovers (交接班), the children still here at the service end and how each
one's day ended, refusals and custody alerts, corrections, readers that went
offline, patrol rounds and the gate register (when the school uses them), the open
items (children never recorded as gone, visitors never out, missed rounds), and the
duty leader's own notes and sign-off (交班).

Notes and the sign-off are staff actions in the ledger (``NOTE``, ``SIGNED_OFF``),
so they sync like taps and reach the central. A note is never edited or removed;
one written after the sign-off is shown as an addition after it (签字后补记). The
sign-off names the notes it signed, so what was signed stays visible as signed.

Patrol rounds and the gate register are built beside this log; their sections read
the event kinds named in ``PATROL_KINDS`` and ``VISITOR_KINDS`` and say 未启用 (not
enabled) when the roster has no patrol or visitors and the day holds none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edge.reports.cells import ends, group_name, hm, message, name
from edge.reports.source import Source
from edge.reports.tables import Column, Report, Table
from edge.school import events as ev
from edge.school import patrol
from edge.school.events import Event
from edge.school.fold import PRESENT, DayState, effective
from edge.school.proof import DUTY_NOTE, DUTY_SIGNED_OFF
from edge.school.roster import Roster
from edge.school.rules import late_stage

# Actions: the duty leader's note (data: date, text); the day signed off (data: date,
# notes, open_items), with the signer's proof.
NOTE, SIGNED_OFF = DUTY_NOTE, DUTY_SIGNED_OFF
READER_OFFLINE, READER_ONLINE = "reader_offline", "reader_online"  # action codes, by station
# The gate register (edge.school.gate): a visitor in and out are actions of these codes;
# an outside instructor's card at the gate is a staff_on_duty tap of these codes.
VISITOR_IN, VISITOR_OUT = "visitor_in", "visitor_out"
INSTRUCTOR_IN, INSTRUCTOR_OUT = "instructor_in", "instructor_out"
PATROL_KINDS = (ev.PATROL_VISIT,)  # a patrol visit at a classroom or a checkpoint
ROUND_ZH = {"done": "已完成", "missed": "漏巡", "incomplete": "未巡全", "open": "进行中",
            "upcoming": "未开始"}  # fmt: skip
WATCH_ZH = {"barred": "被禁止接送学生的家长", "banned": "学校禁止入校名单"}
NOT_ENABLED = "未启用 not enabled"
ROLE_ZH = {"teacher": "教师", "guard": "门卫", "duty_leader": "值班领导", "admin": "管理员"}
STAGE_ZH = {0: "", 1: "服务结束后", 2: "已电话联系家长阶段", 3: "已交门卫看护"}

_T = Column("at", "时间", "Time")
ON_DUTY = [Column("staff_id", "工号", "Staff ID"), Column("name", "姓名", "Name"),
           Column("role", "角色", "Role"), Column("first", "首次", "First", "text"),
           Column("last", "最后", "Last"), Column("did", "值守内容", "On duty for")]  # fmt: skip
HANDOVERS = [_T, Column("group", "班组", "Group"), Column("from", "交出人", "Handed over by"),
             Column("to", "接管人", "Taken by"), Column("head_count", "实到", "Present", "int"),
             Column("expected", "应到", "Expected", "int"), Column("missing", "未到", "Missing"),
             Column("how", "方式", "How")]  # fmt: skip
LATE = [Column("student_id", "学号", "Student ID"), Column("student", "学生", "Student"),
        Column("group", "班组（服务结束时）", "Group at the end"),
        Column("custodian", "看护人", "Custodian"), Column("left", "离校时间", "Left"),
        Column("minutes", "超时（分钟）", "Minutes late", "int"),
        Column("how", "离校方式", "How"), Column("with", "接走人", "Collected by"),
        Column("stage", "处置", "Escalation")]  # fmt: skip
ALERTS = [_T, Column("station", "地点", "Where"), Column("student", "学生", "Student"),
          Column("adult", "来人", "Adult"), Column("kind", "类型", "Kind"),
          Column("detail", "说明", "Detail")]  # fmt: skip
CORRECTIONS = [_T, Column("record", "被更正记录", "Record"),
               Column("student", "学生", "Student"), Column("by", "更正人", "By"),
               Column("reason", "原因", "Reason")]  # fmt: skip
READERS = [_T, Column("station", "站点", "Station"), Column("state", "状态", "State"),
           Column("detail", "说明", "Detail")]  # fmt: skip
PATROL = [_T, Column("staff", "巡查人", "By"), Column("where", "地点", "Where"),
          Column("head_count", "人数", "Head count", "int"),
          Column("detail", "说明", "Detail")]  # fmt: skip
ROUNDS = [Column("due", "应巡时间", "Due"), Column("state", "状态", "State"),
          Column("visits", "巡查次数", "Visits", "int"), Column("by", "巡查人", "By"),
          Column("not_visited", "未巡地点", "Not visited")]  # fmt: skip
VISITORS = [Column("name", "姓名", "Name"), Column("kind", "类别", "Kind"),
            Column("document", "证件", "Document"), Column("visiting", "拜访", "Visiting"),
            Column("in", "进入", "In"), Column("out", "离开", "Out")]  # fmt: skip
OPEN = [Column("kind", "事项", "Item"), Column("who", "对象", "Who"),
        Column("detail", "说明", "Detail")]  # fmt: skip
NOTES = [_T, Column("by", "记录人", "By"), Column("text", "内容", "Note"),
         Column("when", "性质", "Written"), Column("id", "记录编号", "Record")]  # fmt: skip


@dataclass
class SignOff:
    """The day's sign-off as the ledger holds it: who, when, and the notes it signed."""

    staff_id: str
    name: str
    at: dt.datetime
    notes: list[str]
    event_id: str

    def to_json(self, roster: Roster) -> dict[str, Any]:
        """Return it as the duty route answers it."""
        return {"staff_id": self.staff_id, "name": self.name, "at": self.at.isoformat(),
                "time": hm(self.at, roster), "notes": self.notes, "id": self.event_id}  # fmt: skip


@dataclass
class _Walk:
    """One walk through a day in fold order, gathering each section of the log."""

    roster: Roster
    day: dt.date
    over: bool
    state: DayState = field(init=False)
    end: dt.datetime = field(init=False)
    on_duty: dict[str, list[Any]] = field(default_factory=dict)
    late: dict[str, list[Any]] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    corrected: dict[str, Event] = field(default_factory=dict)
    visitors: dict[str, list[Any]] = field(default_factory=dict)
    patrols: list[Event] = field(default_factory=list)
    snapped: bool = False

    def __post_init__(self) -> None:
        self.state = DayState(self.day)
        self.end = self.roster.calendar.service_end_at(self.day)
        for key, zh, en, columns in (
            ("handovers", "交接班", "Handovers", HANDOVERS),
            ("late", "延时接走", "Late pickups", LATE),
            ("alerts", "拒绝放行与警报", "Refusals and alerts", ALERTS),
            ("corrections", "更正记录", "Corrections", CORRECTIONS),
            ("readers", "读卡器离线", "Readers offline", READERS),
            ("patrol", "巡查", "Patrol rounds", PATROL),
            ("visitors", "访客与外聘人员", "Visitors and instructors", VISITORS),
        ):
            self.tables[key] = Table(key, zh, en, columns)

    def see(self, event: Event) -> None:
        """Take the next event of the day into the log."""
        if not self.snapped and event.at >= self.end and event.kind in ev.TAP_KINDS:
            self._snapshot()  # a correction or note made late says nothing of who was here
        kind = event.kind
        gate = event.code in (VISITOR_IN, VISITOR_OUT, INSTRUCTOR_IN, INSTRUCTOR_OUT)
        if gate:
            self._visitor(event)
        elif event.subject_kind == "staff" and event.subject_id and kind in ev.TAP_KINDS:
            self._staff(event)
        if gate:
            pass
        elif kind == ev.CUSTODY_TAKEN:
            self._handover(event)
        elif kind in (ev.RELEASED, ev.LEFT_ALONE) and event.subject_id in self.late:
            self._left_late(event)
        elif kind == ev.REFUSED:
            self._alert(event, "拒绝放行")
        elif kind == ev.UNKNOWN_CARD:
            self._alert(event, "未登记的卡")
        elif kind == ev.SIGNED_IN and event.data.get("reentry"):
            self._alert(event, "离校后返回")
        elif kind in PATROL_KINDS:
            self._patrol(event)
        elif kind == ev.ACTION and event.code in (READER_OFFLINE, READER_ONLINE):
            self._reader(event)
        if kind == ev.RELEASED and event.data.get("signed_by"):
            self._duty(event.data["signed_by"], event.at, "签字放行")
        self.state.apply(event)

    def _duty(self, staff_id: str, at: dt.datetime, did: str) -> None:
        member = self.roster.staff.get(staff_id)
        row = self.on_duty.setdefault(staff_id, [
            staff_id, member.name if member else staff_id,
            ROLE_ZH.get(member.role, member.role) if member else "", at, at, []])  # fmt: skip
        row[3], row[4] = min(row[3], at), max(row[4], at)
        if did not in row[5]:
            row[5].append(did)

    def _staff(self, event: Event) -> None:
        """Note a staff member's tap: what they were on duty for."""
        station = self.roster.stations.get(event.station)
        where = station.name if station else event.station
        if event.kind in (ev.CUSTODY_TAKEN, ev.HANDOVER_OFFERED):
            group = group_name(self.roster, event.data.get("group_id"))
            did = f"看护{group}" if event.kind == ev.CUSTODY_TAKEN else f"交出{group}"
        elif event.kind == ev.STAFF_ON_DUTY:
            did = f"接送点值守（{where}）"
        elif event.kind in PATROL_KINDS:
            did = "巡查"
        else:
            did = f"刷卡（{where}）"
        self._duty(event.subject_id or "", event.at, did)

    def _handover(self, event: Event) -> None:
        data = event.data
        how = "迟接交门卫" if data.get("escalated") else (
            "双方确认" if data.get("acknowledged_by") else "巡查后确认接管" if data.get(
                "confirms") else "刷卡接管")  # fmt: skip
        missing = "、".join(name(self.roster.students, s) for s in data.get("missing", []))
        self.tables["handovers"].rows.append([
            hm(event.at, self.roster), group_name(self.roster, data.get("group_id")),
            name(self.roster.staff, data.get("previous_custodian")),
            name(self.roster.staff, event.subject_id), data.get("head_count"),
            data.get("expected"), missing, how])  # fmt: skip
        if data.get("escalated") and data.get("group_id"):
            for sid in data.get("present", []):
                if sid in self.late:
                    self.late[sid][8] = f"{hm(event.at, self.roster)} 交门卫看护"

    def _snapshot(self) -> None:
        """Note every child still here at the service end: the late pickups."""
        self.snapped = True
        for sid, presence in sorted(self.state.students.items()):
            if presence.state != PRESENT:
                continue
            held = self.state.custodians.get(presence.group_id or "")
            self.late[sid] = [
                sid, name(self.roster.students, sid), group_name(self.roster, presence.group_id),
                name(self.roster.staff, held[0] if held else None), "", None, "", "", "",
            ]  # fmt: skip

    def _left_late(self, event: Event) -> None:
        row = self.late[event.subject_id or ""]
        how, with_, where = ends(self.roster, event)
        minutes = int((event.at - self.end).total_seconds() // 60)
        stage = STAGE_ZH.get(late_stage(self.roster.calendar, self.end, event.at), "")
        row[4:9] = [hm(event.at, self.roster), max(minutes, 0), f"{how}（{where}）", with_,
                    "；".join(s for s in (row[8], stage) if s)]  # fmt: skip

    def _alert(self, event: Event, kind: str) -> None:
        data = event.data
        station = self.roster.stations.get(event.station)
        adult = data.get("delegate_name") or name(self.roster.guardians, data.get("guardian_id"))
        if event.code == VISITOR_IN:
            adult = str(data.get("name") or "")
        if event.code == VISITOR_IN:
            pass
        elif data.get("alert") == "loud":
            kind = "监护限制警报（禁止接走）"
        elif data.get("alert") == "alert":
            kind = "未授权接走警报"
        student = name(self.roster.students, event.subject_id) if (
            event.subject_kind == "student") else ""  # fmt: skip
        detail = f"卡号 {event.uid or event.card}" if event.kind == ev.UNKNOWN_CARD else (
            message(self.roster, event) if event.kind != ev.ACTION else WATCH_ZH.get(
                str(_watch(data).get("reason")), "警示名单"))  # fmt: skip
        self.tables["alerts"].rows.append([hm(event.at, self.roster),
            station.name if station else event.station, student, adult, kind, detail])  # fmt: skip

    def _reader(self, event: Event) -> None:
        station = self.roster.stations.get(event.station)
        state = "离线 offline" if event.code == READER_OFFLINE else "恢复 online"
        self.tables["readers"].rows.append([hm(event.at, self.roster),
            station.name if station else event.station, state,
            str(event.data.get("detail") or "")])  # fmt: skip

    def _patrol(self, event: Event) -> None:
        data = event.data
        self.patrols.append(event)
        where = place_name(self.roster, str(data.get("checkpoint_id") or event.station))
        missing = "、".join(name(self.roster.students, s) for s in data.get("missing", []))
        self.tables["patrol"].rows.append([hm(event.at, self.roster),
            name(self.roster.staff, event.subject_id or data.get("staff_id")), where,
            data.get("head_count"), f"未到：{missing}" if missing else ""])  # fmt: skip

    def _visitor(self, event: Event) -> None:
        """Note a visitor's or outside instructor's way in or out (the gate register)."""
        data = event.data
        instructor = event.code in (INSTRUCTOR_IN, INSTRUCTOR_OUT)
        ident = str(event.subject_id if instructor else data.get("visitor_id") or event.event_id)
        if instructor and ident in self.visitors and self.visitors[ident][5] and (
                event.code == INSTRUCTOR_IN):  # fmt: skip
            ident = f"{ident}@{event.event_id}"  # back in again: a new line
        last4 = str(data.get("last4") or "")
        row = self.visitors.setdefault(ident, [
            name(self.roster.staff, event.subject_id) if instructor else str(
                data.get("name") or ident), "外聘人员" if instructor else "访客",
            f"****{last4}" if last4 else "", str(data.get("visiting") or data.get("organization")
            or ""), "", ""])  # fmt: skip
        row[5 if event.code in (VISITOR_OUT, INSTRUCTOR_OUT) else 4] = hm(event.at, self.roster)
        if _watch(data):
            self._alert(event, "来访人员在警示名单中")

    def finish(self) -> None:
        """Close the day: late pickups never recorded as gone, visitors still inside."""
        if not self.snapped and self.over:
            self._snapshot()
        for sid, here in sorted(self.state.students.items()):
            if self.snapped and sid not in self.late and here.state == PRESENT:
                # Signed in after the service end (or back after being collected):
                # still here when the day closes, so the next duty leader is told too.
                held = self.state.custodians.get(here.group_id or "")
                self.late[sid] = [
                    sid, name(self.roster.students, sid),
                    group_name(self.roster, here.group_id),
                    name(self.roster.staff, held[0] if held else None), "", None, "", "",
                    f"{hm(here.since, self.roster)} 服务结束后签到",
                ]  # fmt: skip
        for sid, row in self.late.items():
            presence = self.state.students.get(sid)
            if not row[4] and presence is not None and presence.state == PRESENT:
                row[6] = "未记录离校" if self.over else "仍在校"
        self.tables["late"].rows = list(self.late.values())
        self.tables["visitors"].rows = list(self.visitors.values())


def _watch(data: dict[str, Any]) -> dict[str, Any]:
    """Return a visitor entry's watchlist match ({} when none, or not one: never raises)."""
    found = data.get("watch")
    return found if isinstance(found, dict) else {}


def place_name(roster: Roster, place: str) -> str:
    """Return a patrol place's name: a station's or a checkpoint's (its id when unknown)."""
    station = roster.stations.get(place)
    if station is not None:
        return station.name
    point = roster.checkpoints.get(place)
    return point.name if point is not None else place


def rounds(walk: _Walk, now: dt.datetime) -> Table:
    """Return the day's patrol rounds as they stand at ``now`` (school.toml's [patrol])."""
    roster = walk.roster
    table = Table("rounds", "巡查轮次", "Patrol rounds", ROUNDS)
    plan = roster.calendar.patrol
    if plan is None:
        table.empty = NOT_ENABLED
        return table
    visits = [patrol.Visit(str(e.data.get("checkpoint_id") or e.station), e.at, e.subject_id,
                           e.event_id, "checkpoint" if e.data.get("checkpoint_id") else "station")
              for e in walk.patrols]  # fmt: skip
    for found in patrol.rounds(plan, walk.day, roster.calendar.tz, walk.end,
                               roster.patrol_places(), visits, now):  # fmt: skip
        by = "、".join(
            dict.fromkeys(name(roster.staff, v.staff_id) for v in found.visits if v.staff_id)
        )  # a tag read alone names nobody
        table.rows.append([hm(found.due, roster), ROUND_ZH.get(found.state, found.state),
                           len(found.visits), by,
                           "、".join(place_name(roster, p) for p in found.not_yet)])  # fmt: skip
    return table


def duty(source: Source, day: dt.date, over: bool = True, now: dt.datetime | None = None) -> Report:
    """Return the duty log (值班日志) of one day, notes and sign-off included.

    While the day is not ``over``, children still here are "still here" (仍在校) rather
    than never recorded as gone. Patrol rounds stand as at ``now`` (default: the day
    is over, every round past due).
    """
    roster = source.roster()
    events = effective(source.events(day, day))
    walk = _Walk(roster, day, over)
    for event in events:
        if event.kind == ev.CORRECTED:
            _correction(walk, event, events)
        walk.see(event)
    walk.finish()
    notes, signed = notes_of(roster, source.events(day, day + dt.timedelta(days=1), ("action",)),
                             day)  # fmt: skip
    on_duty = Table("on_duty", "值班人员", "On duty", ON_DUTY, [
        [*row[:3], hm(row[3], roster), hm(row[4], roster), "、".join(row[5])]
        for row in sorted(walk.on_duty.values(), key=lambda r: (r[3], r[0]))])  # fmt: skip
    _enable(walk.tables["patrol"], _patrol_enabled(roster))
    _enable(walk.tables["visitors"], _visitors_enabled(roster))
    later = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), roster.calendar.tz)
    walk.tables["rounds"] = rounds(walk, now if now is not None and not over else later)
    items = open_items(walk, signed)
    tables = [on_duty, *(walk.tables[k] for k in ("handovers", "late", "alerts", "corrections",
              "readers", "rounds", "patrol", "visitors")), items, notes]  # fmt: skip
    return Report("duty", "值班日志", "Duty log", _meta(roster, day, walk, signed, items), tables)


def _correction(walk: _Walk, event: Event, events: list[Event]) -> None:
    """Note a correction with the record it undid (effective() left that record out)."""
    roster = walk.roster
    kind = {"signed_in": "签到", "released": "接走", "left_alone": "自行离校"}.get(
        str(event.data.get("corrected_kind")), str(event.data.get("corrected_kind") or "")
    )
    walk.tables["corrections"].rows.append([
        hm(event.at, roster), f"{kind}（{event.data.get('corrects', '')}）",
        name(roster.students, event.data.get("student_id")),
        name(roster.staff, event.subject_id), str(event.data.get("reason") or "")])  # fmt: skip


def _enable(table: Table, enabled: bool) -> None:
    if not enabled and not table.rows:
        table.empty = NOT_ENABLED


def _patrol_enabled(roster: Roster) -> bool:
    return roster.calendar.patrol is not None or bool(roster.checkpoints)


def _visitors_enabled(roster: Roster) -> bool:
    staff = roster.tables.get("staff") or []
    external = any(str(r.get("external") or "") in ("1", "true") for r in staff)
    return external or bool(roster.tables.get("visitors_banned"))


def notes_of(
    roster: Roster, actions: Iterable[Event], day: dt.date
) -> tuple[Table, SignOff | None]:
    """Return the day's notes (marked before or after the sign-off) and its sign-off."""
    table = Table("notes", "值班记录与交班", "Notes and sign-off", NOTES)
    signed: SignOff | None = None
    wanted = day.isoformat()
    for event in actions:
        if event.kind != ev.ACTION or event.data.get("date") != wanted:
            continue
        by = name(roster.staff, event.subject_id)
        if event.code == NOTE:
            when = "签字后补记 added after sign-off" if signed else "记录 note"
            table.rows.append([hm(event.at, roster), by, str(event.data.get("text") or ""),
                               when, event.event_id])  # fmt: skip
        elif event.code == SIGNED_OFF and signed is None:
            noted = [str(n) for n in event.data.get("notes") or []]
            signed = SignOff(event.subject_id or "", by, event.at, noted, event.event_id)
            table.rows.append([hm(event.at, roster), by, "交班签字（刷卡并输入PIN）",
                               "交班 signed off", event.event_id])  # fmt: skip
    return table, signed


def open_items(walk: _Walk, signed: SignOff | None) -> Table:
    """Return what the next day's duty leader should know is still open."""
    table = Table("open_items", "未结事项", "Open items", OPEN)
    for row in walk.late.values():
        if row[6] == "未记录离校":
            table.rows.append(["未记录离校", row[1], f"最后在{row[2]}，看护人{row[3] or '无'}"])
    for row in walk.visitors.values():
        if row[4] and not row[5] and walk.over:
            table.rows.append(["访客未登记离开" if row[1] == "访客" else "外聘人员未登记离开",
                               row[0], f"{row[4]} 进入，拜访{row[3]}"])  # fmt: skip
    for row in walk.tables["rounds"].rows:
        if row[1] in (ROUND_ZH["missed"], ROUND_ZH["incomplete"]):
            table.rows.append([row[1], f"{row[0]} 的巡查", f"未巡：{row[4]}" if row[4] else ""])
    if signed is None and walk.over:
        table.rows.append(["值班日志未交班", "", "没有值班领导的交班签字"])
    return table


def _meta(
    roster: Roster, day: dt.date, walk: _Walk, signed: SignOff | None, items: Table
) -> list[tuple[str, str, Any]]:
    leaders = [r[1] for r in walk.on_duty.values() if r[2] == ROLE_ZH["duty_leader"]]
    sign = "未交班 not signed off"
    if signed is not None:
        at = signed.at.astimezone(roster.calendar.tz)
        sign = f"{signed.name}（{signed.staff_id}）{at:%Y-%m-%d %H:%M}"
    return [
        ("日期", "Date", day.isoformat()),
        ("服务结束", "Service ends", hm(walk.end, roster)),
        ("值班领导", "Duty leader", "、".join(leaders) or "（当天无刷卡记录）"),
        ("交接班", "Handovers", len(walk.tables["handovers"].rows)),
        ("延时接走", "Late pickups", len(walk.late)),
        ("拒绝与警报", "Refusals and alerts", len(walk.tables["alerts"].rows)),
        (
            "漏巡",
            "Rounds missed",
            sum(
                r[1] in (ROUND_ZH["missed"], ROUND_ZH["incomplete"])
                for r in walk.tables["rounds"].rows
            ),
        ),
        ("未结事项", "Open items", len(items.rows)),
        ("交班签字", "Signed off", sign),
        ("说明", "Note", "值班记录只能追加，不能修改或删除 notes are additions, never edits"),
    ]
