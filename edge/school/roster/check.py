"""Checking a roster's tables as a whole, and building the Roster they describe.

``build`` takes the cleaned tables (edge.school.roster.bundle, or the store's copy of
them) and the text of school.toml, and either returns an immutable ``Roster`` or
raises RosterError naming file, row and column of the first problem found (and up to
20 more), so nothing of a bad roster is ever used.
"""

from __future__ import annotations

import datetime as dt
import re

from edge import text as text_rules
from edge.errors import RosterError
from edge.school import calendar as calendar_mod
from edge.school.calendar import Calendar, CalendarError
from edge.school.cards import ByteOrder, CardNumberError, normalize
from edge.school.roster.model import (
    ROLES,
    Checkpoint,
    Group,
    Guardian,
    PickupRight,
    Roster,
    Staff,
    Station,
    Student,
    Table,
)

Row = dict[str, str]

_TRUE = {"1", "true", "yes", "y", "是", "可以", "允许", "√", "✓"}
_FALSE = {"0", "false", "no", "n", "否", "不", "不可以", "不允许", "×"}
_CN_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ROLE_ALIASES = {
    "teacher": "teacher",
    "班主任": "teacher",
    "教师": "teacher",
    "老师": "teacher",
    "科任老师": "teacher",
    "看护教师": "teacher",
    "课后服务教师": "teacher",
    "guard": "guard",
    "门卫": "guard",
    "保安": "guard",
    "duty_leader": "duty_leader",
    "值班领导": "duty_leader",
    "导护值班教师": "duty_leader",
    "admin": "admin",
    "管理员": "admin",
    "教务处": "admin",
    "德育中心": "admin",
}
_KIND_ALIASES = {
    "basic": "basic",
    "基础": "basic",
    "基础服务": "basic",
    "看护": "basic",
    "托管": "basic",
    "club": "club",
    "社团": "club",
    "兴趣": "club",
    "兴趣小组": "club",
    "拓展": "club",
}
_STATION_ALIASES = {
    "classroom": "classroom",
    "教室": "classroom",
    "班级": "classroom",
    "pickup": "pickup",
    "接送点": "pickup",
    "接送": "pickup",
    "校门": "pickup",
    "门口": "pickup",
}


class _Checker:
    """Collects the first problems found, so an admin can fix several at once.

    It also holds the cards seen so far: a card belongs to one person in the roster.
    """

    def __init__(self, byte_order: ByteOrder) -> None:
        self.problems: list[RosterError] = []
        self.byte_order = byte_order
        self.cards: dict[str, tuple[str, str]] = {}
        self._card_rows: dict[str, str] = {}

    def fail(self, message: str, file: str, row: Row | None, column: str | None) -> None:
        """Note a problem of a file's row and column."""
        self.problems.append(
            RosterError(message, file=file, row=int(row["_row"]) if row else None, column=column)
        )

    def raise_if_any(self) -> None:
        """Raise the first problem noted, carrying the next 20, if there is any."""
        self.problems = self.problems[:21]
        if not self.problems:
            return
        first = self.problems[0]
        if len(self.problems) > 1:
            raise RosterError(
                first.reason,
                file=first.file,
                row=first.row,
                column=first.column,
                more=self.problems[1:],
            )
        raise first

    def required(self, file: str, row: Row, column: str) -> str:
        """Return a cell that must not be empty (noting it if it is)."""
        value = row.get(column, "").strip()
        if not value:
            self.fail(f"'{column}' is empty", file, row, column)
        return value

    def card(self, file: str, row: Row, kind: str, ident: str) -> str | None:
        """Return the card key of a row's card cell, if any; a card names one holder."""
        raw = row.get("card_uid", "").strip()
        if not raw:
            return None
        try:
            key = normalize(raw, byte_order=self.byte_order)
        except CardNumberError as err:
            self.fail(str(err), file, row, "card_uid")
            return None
        if key in self.cards:
            self.fail(
                f"card {raw} is already the card of {self._card_rows[key]}", file, row, "card_uid"
            )
            return None
        self.cards[key] = (kind, ident)
        self._card_rows[key] = f"{file} row {row['_row']} ({ident})"
        return key

    def unique(self, file: str, row: Row, column: str, seen: dict[str, str]) -> str:
        """Return a row's id: present, usable in an event, and on no earlier row."""
        value = self.required(file, row, column)
        # An id is written into every event about its holder, and the campus hub takes
        # no event whose ids are longer or hold control characters (edge.school.schema).
        wrong = text_rules.problem(value) or (
            f"is {len(value)} characters long; ids have at most 64" if len(value) > 64 else None
        )
        if value and wrong:
            self.fail(f"{column} {value[:64]!r} {wrong}", file, row, column)
        elif value and value in seen:
            self.fail(f"{column} '{value}' is also on row {seen[value]}", file, row, column)
        seen[value] = row["_row"]
        return value

    def flag(self, file: str, row: Row, column: str, default: bool) -> bool:
        """Return a yes/no cell (1/0, 是/否, ...); empty gives ``default``."""
        value = row.get(column, "").strip().lower()
        if value == "":
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        self.fail(f"'{row.get(column, '')}' is not 1 or 0 (是/否)", file, row, column)
        return default


def build(tables: dict[str, Table], school_toml: str, version: int) -> Roster:
    """Check the tables as a whole and return the Roster they describe.

    Raises RosterError naming file, row and column of the first problem (and
    carrying up to 20 more), so nothing of a bad bundle is ever used.
    """
    try:
        calendar = calendar_mod.parse(school_toml) if school_toml.strip() else Calendar()
    except CalendarError as err:
        raise RosterError(str(err), file="school.toml") from err
    check = _Checker("big" if calendar.card_byte_order == "big" else "little")
    students = _students(check, tables.get("students", []))
    guardians = _guardians(check, tables.get("guardians", []))
    staff = _staff(check, tables.get("staff", []))
    groups = _groups(check, tables.get("groups", []), staff)
    pickup = _pickup(check, tables.get("pickup", []), students, guardians)
    enrollments = _enrollments(check, tables.get("enrollments", []), students, groups)
    stations = _stations(check, tables.get("stations", []), groups)
    leave = _leave(check, tables.get("leave", []), students)
    checkpoints = _checkpoints(check, tables.get("checkpoints", []), stations)
    _patrol_places(check, calendar, stations, checkpoints)
    check.raise_if_any()

    by_guardian: dict[str, list[tuple[str, PickupRight]]] = {}
    for (sid, gid), right in pickup.items():
        by_guardian.setdefault(gid, []).append((sid, right))
    by_group: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for sid, entries in enrollments.items():
        for gid, days in entries:
            by_group.setdefault(gid, []).append((sid, days))
    return Roster(
        version=version,
        calendar=calendar,
        students=students,
        guardians=guardians,
        staff=staff,
        groups=groups,
        stations=stations,
        pickup=pickup,
        enrollments={k: tuple(v) for k, v in enrollments.items()},
        leave=leave,
        cards=check.cards,
        tables=tables,
        school_toml=school_toml,
        _by_guardian={k: tuple(v) for k, v in by_guardian.items()},
        _by_group={k: tuple(v) for k, v in by_group.items()},
        checkpoints=checkpoints,
    )


def _students(check: _Checker, rows: Table) -> dict[str, Student]:
    """Check students.csv: ids, names, grades, cards, walk-alone flags."""
    students: dict[str, Student] = {}
    seen: dict[str, str] = {}
    for row in rows:
        sid = check.unique("students.csv", row, "student_id", seen)
        name = check.required("students.csv", row, "name")
        grade = _grade(row.get("grade", ""))
        if grade is None:
            check.fail(
                f"grade '{row.get('grade', '')}' is not a grade from 1 to 12",
                "students.csv",
                row,
                "grade",
            )
        students[sid] = Student(
            sid,
            name,
            grade or 0,
            row.get("class", "").strip(),
            check.card("students.csv", row, "student", sid),
            check.flag("students.csv", row, "walk_alone", False),
            row.get("photo") or None,
        )
    return students


def _guardians(check: _Checker, rows: Table) -> dict[str, Guardian]:
    """Check guardians.csv: ids, names, phone numbers, cards."""
    guardians: dict[str, Guardian] = {}
    seen: dict[str, str] = {}
    for row in rows:
        gid = check.unique("guardians.csv", row, "guardian_id", seen)
        phone = row.get("phone", "").strip()
        if phone and not re.fullmatch(r"[0-9+\-\s()]{5,20}", phone):
            check.fail(f"phone '{phone}' is not a phone number", "guardians.csv", row, "phone")
        guardians[gid] = Guardian(
            gid,
            check.required("guardians.csv", row, "name"),
            phone,
            check.card("guardians.csv", row, "guardian", gid),
            row.get("photo") or None,
        )
    return guardians


def _staff(check: _Checker, rows: Table) -> dict[str, Staff]:
    """Check staff.csv: ids, roles, names, cards."""
    staff: dict[str, Staff] = {}
    seen: dict[str, str] = {}
    for row in rows:
        stid = check.unique("staff.csv", row, "staff_id", seen)
        role_text = check.required("staff.csv", row, "role")
        role = _ROLE_ALIASES.get(role_text.lower())
        if role_text and role is None:
            check.fail(
                f"role '{role_text}' is not one of {', '.join(ROLES)}", "staff.csv", row, "role"
            )
        staff[stid] = Staff(
            stid,
            check.required("staff.csv", row, "name"),
            role or "teacher",
            check.card("staff.csv", row, "staff", stid),
        )
    return staff


def _groups(check: _Checker, rows: Table, staff: dict[str, Staff]) -> dict[str, Group]:
    """Check groups.csv: ids, kinds, the staff in charge, start times, names."""
    groups: dict[str, Group] = {}
    seen: dict[str, str] = {}
    for row in rows:
        gid = check.unique("groups.csv", row, "group_id", seen)
        kind_text = check.required("groups.csv", row, "kind")
        kind = _KIND_ALIASES.get(kind_text.lower())
        if kind_text and kind is None:
            check.fail(f"kind '{kind_text}' is not basic or club", "groups.csv", row, "kind")
        owner = row.get("staff_id", "").strip() or None
        if owner and owner not in staff:
            check.fail(f"staff_id '{owner}' is not in staff.csv", "groups.csv", row, "staff_id")
        start = _start(check, row)
        groups[gid] = Group(
            gid,
            check.required("groups.csv", row, "name"),
            kind or "basic",
            owner,
            row.get("room", "").strip(),
            start,
        )
    return groups


def _start(check: _Checker, row: Row) -> dt.time | None:
    """Return a group's own start time, if its row gives one."""
    start_text = row.get("start", "").strip()
    if not start_text:
        return None
    try:
        return calendar_mod.parse_time(start_text, "start")
    except CalendarError:
        check.fail(
            f"start '{start_text}' is not a time of day like 16:00", "groups.csv", row, "start"
        )
        return None


def _pickup(
    check: _Checker, rows: Table, students: dict[str, Student], guardians: dict[str, Guardian]
) -> dict[tuple[str, str], PickupRight]:
    """Check pickup.csv: each (student, guardian) once, both known, allowed 1 or 0."""
    pickup: dict[tuple[str, str], PickupRight] = {}
    for row in rows:
        sid = check.required("pickup.csv", row, "student_id")
        gid = check.required("pickup.csv", row, "guardian_id")
        if sid and sid not in students:
            check.fail(
                f"student_id '{sid}' is not in students.csv", "pickup.csv", row, "student_id"
            )
        if gid and gid not in guardians:
            check.fail(
                f"guardian_id '{gid}' is not in guardians.csv", "pickup.csv", row, "guardian_id"
            )
        if (sid, gid) in pickup:
            check.fail(f"{sid} and {gid} are listed twice", "pickup.csv", row, "guardian_id")
        if not row.get("allowed", "").strip():
            check.fail(
                "'allowed' is empty: write 1 (may collect) or 0 (must not)",
                "pickup.csv",
                row,
                "allowed",
            )
        pickup[(sid, gid)] = PickupRight(
            row.get("relation", "").strip(), check.flag("pickup.csv", row, "allowed", False)
        )
    return pickup


def _enrollments(
    check: _Checker, rows: Table, students: dict[str, Student], groups: dict[str, Group]
) -> dict[str, list[tuple[str, frozenset[int]]]]:
    """Check enrollments.csv: known students and groups, weekdays 1-7."""
    enrollments: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for row in rows:
        sid = check.required("enrollments.csv", row, "student_id")
        gid = check.required("enrollments.csv", row, "group_id")
        if sid and sid not in students:
            check.fail(
                f"student_id '{sid}' is not in students.csv", "enrollments.csv", row, "student_id"
            )
        if gid and gid not in groups:
            check.fail(f"group_id '{gid}' is not in groups.csv", "enrollments.csv", row, "group_id")
        days = _weekdays(row.get("weekdays", ""))
        if days is None:
            check.fail(
                f"weekdays '{row.get('weekdays', '')}' is not a list of days 1-7 like 1,2,3,4,5",
                "enrollments.csv",
                row,
                "weekdays",
            )
        enrollments.setdefault(sid, []).append((gid, days or frozenset()))
    return enrollments


def _stations(check: _Checker, rows: Table, groups: dict[str, Group]) -> dict[str, Station]:
    """Check stations.csv: ids fit in a web address, roles, a classroom's group, names."""
    stations: dict[str, Station] = {}
    seen: dict[str, str] = {}
    for row in rows:
        stid = check.unique("stations.csv", row, "station_id", seen)
        if stid and not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", stid):
            check.fail(
                f"station_id '{stid}' may hold only letters, digits, '-', '_' and '.' "
                "(it is part of the kiosk's web address)",
                "stations.csv",
                row,
                "station_id",
            )
        role_text = check.required("stations.csv", row, "role")
        role = _STATION_ALIASES.get(role_text.lower())
        if role_text and role is None:
            check.fail(
                f"role '{role_text}' is not classroom or pickup", "stations.csv", row, "role"
            )
        group = row.get("group_id", "").strip() or None
        if role == "classroom" and not group:
            check.fail("a classroom station needs its group_id", "stations.csv", row, "group_id")
        if group and group not in groups:
            check.fail(f"group_id '{group}' is not in groups.csv", "stations.csv", row, "group_id")
        stations[stid] = Station(
            stid,
            check.required("stations.csv", row, "name"),
            role or "classroom",
            group if role == "classroom" else None,
        )
    return stations


def _checkpoints(
    check: _Checker, rows: Table, stations: dict[str, Station]
) -> dict[str, Checkpoint]:
    """Check checkpoints.csv: ids apart from stations', names, a tag that is no one's card."""
    found: dict[str, Checkpoint] = {}
    seen: dict[str, str] = {}
    for row in rows:
        cid = check.unique("checkpoints.csv", row, "checkpoint_id", seen)
        if cid and not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", cid):
            check.fail(f"checkpoint_id '{cid}' may hold only letters, digits, '-', '_' and '.'",
                       "checkpoints.csv", row, "checkpoint_id")  # fmt: skip
        elif cid in stations:
            check.fail(f"checkpoint_id '{cid}' is also a station in stations.csv",
                       "checkpoints.csv", row, "checkpoint_id")  # fmt: skip
        if not row.get("card_uid", "").strip():
            check.fail("'card_uid' is empty: the tag's number", "checkpoints.csv", row, "card_uid")
        card = check.card("checkpoints.csv", row, "checkpoint", cid)
        name = check.required("checkpoints.csv", row, "name")
        found[cid] = Checkpoint(cid, name, card or "", row.get("place", "").strip())
    return found


def _patrol_places(
    check: _Checker, calendar: Calendar, stations: dict[str, Station],
    checkpoints: dict[str, Checkpoint],
) -> None:  # fmt: skip
    """Check that [patrol] places names stations and checkpoints of this roster."""
    for place in calendar.patrol.places if calendar.patrol else ():
        if place not in stations and place not in checkpoints:
            check.fail(f"[patrol] place '{place}' is neither in stations.csv nor in "
                       "checkpoints.csv", "school.toml", None, "places")  # fmt: skip


def _leave(
    check: _Checker, rows: Table, students: dict[str, Student]
) -> dict[tuple[str, dt.date], str]:
    """Check leave.csv: known students, real dates."""
    leave: dict[tuple[str, dt.date], str] = {}
    for row in rows:
        sid = check.required("leave.csv", row, "student_id")
        if sid and sid not in students:
            check.fail(f"student_id '{sid}' is not in students.csv", "leave.csv", row, "student_id")
        try:
            day = dt.date.fromisoformat(row.get("date", "").strip().replace("/", "-"))
        except ValueError:
            check.fail(
                f"date '{row.get('date', '')}' is not a date like 2026-11-23",
                "leave.csv",
                row,
                "date",
            )
            continue
        leave[(sid, day)] = row.get("reason", "").strip()
    return leave


def _grade(text: str) -> int | None:
    """Read a grade: 1 to 12, or 一 to 九, with or without 年级."""
    text = text.strip().removesuffix("年级").strip()
    if text in _CN_DIGITS:
        return _CN_DIGITS[text]
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    return None


def _weekdays(text: str) -> frozenset[int] | None:
    """Read weekdays 1-7 like 1,2,3 or 1-5 (None: not a list of days)."""
    days: set[int] = set()
    for part in re.split(r"[,，、;；\s]+", text.strip()):
        if not part:
            continue
        bounds = part.split("-")
        if not all(b.isdigit() for b in bounds) or len(bounds) > 2:
            return None
        low, high = int(bounds[0]), int(bounds[-1])
        if not 1 <= low <= high <= 7:
            return None
        days.update(range(low, high + 1))
    return frozenset(days) if days else None
