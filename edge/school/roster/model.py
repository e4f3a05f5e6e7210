"""The roster's facts: students, guardians, staff, groups, stations, and who may collect whom.

``FILES`` names the tables a roster is made of and their columns (CONTRACT.md); a
``Roster`` is what they say once checked (edge.school.roster.check). A Roster is
immutable and safe to share between threads.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from edge.school.calendar import Calendar

Table = list[dict[str, str]]

ROLES = ("teacher", "guard", "duty_leader", "admin")


@dataclass(frozen=True)
class Column:
    """One column of a roster file: its name, Chinese aliases and whether it may be empty."""

    name: str
    aliases: tuple[str, ...] = ()
    required: bool = True
    optional_column: bool = False


# The files of a bundle, their columns in CONTRACT.md's order, and whether the file
# itself must be present. Header aliases are the words Chinese school sheets use.
FILES: dict[str, tuple[bool, tuple[Column, ...]]] = {
    "students": (
        True,
        (
            Column("student_id", ("学号", "学生编号", "学籍号")),
            Column("name", ("姓名", "学生姓名")),
            Column("grade", ("年级",)),
            Column("class", ("班级", "班")),
            Column("card_uid", ("卡号", "校园卡号", "校园卡"), required=False),
            Column(
                "walk_alone",
                ("自行离校", "可独自离校", "独自离校"),
                required=False,
                optional_column=True,
            ),
            Column("photo", ("照片",), required=False, optional_column=True),
        ),
    ),
    "guardians": (
        False,
        (
            Column("guardian_id", ("家长编号", "监护人编号")),
            Column("name", ("姓名", "家长姓名", "监护人姓名")),
            Column("phone", ("电话", "手机", "手机号", "联系电话"), required=False),
            Column("card_uid", ("卡号", "接送卡号", "接送卡"), required=False),
            Column("photo", ("照片",), required=False, optional_column=True),
        ),
    ),
    "pickup": (
        False,
        (
            Column("student_id", ("学号", "学生编号")),
            Column("guardian_id", ("家长编号", "监护人编号")),
            Column("relation", ("关系", "与学生关系"), required=False),
            Column("allowed", ("允许接送", "允许", "可接送")),
        ),
    ),
    "staff": (
        True,
        (
            Column("staff_id", ("工号", "教师编号", "职工号")),
            Column("name", ("姓名", "教师姓名")),
            Column("role", ("角色", "岗位", "职务")),
            Column("card_uid", ("卡号", "工作卡号"), required=False),
        ),
    ),
    "groups": (
        True,
        (
            Column("group_id", ("班组编号", "组号", "班组")),
            Column("name", ("名称", "班组名称")),
            Column("kind", ("类型", "类别")),
            Column("staff_id", ("工号", "负责教师", "看护教师"), required=False),
            Column("room", ("教室", "地点", "场地"), required=False),
            Column("start", ("开始时间", "开始"), required=False, optional_column=True),
        ),
    ),
    "enrollments": (
        False,
        (
            Column("student_id", ("学号", "学生编号")),
            Column("group_id", ("班组编号", "组号", "班组")),
            Column("weekdays", ("星期", "周几", "服务日")),
        ),
    ),
    "stations": (
        True,
        (
            Column("station_id", ("站点编号", "站点")),
            Column("name", ("名称", "站点名称")),
            Column("role", ("类型", "角色")),
            Column("group_id", ("班组编号", "班组"), required=False),
        ),
    ),
    "leave": (
        False,
        (
            Column("student_id", ("学号", "学生编号")),
            Column("date", ("日期", "请假日期")),
            Column("reason", ("原因", "事由", "请假原因"), required=False),
        ),
    ),
    # Patrol checkpoints: NFC tags stuck on doors or corridors (absent: none).
    "checkpoints": (
        False,
        (
            Column("checkpoint_id", ("巡查点编号", "巡查点")),
            Column("name", ("名称", "巡查点名称")),
            Column("card_uid", ("标签号", "卡号", "标签")),
            Column("place", ("位置", "地点"), required=False, optional_column=True),
        ),
    ),
}


@dataclass(frozen=True)
class Student:
    """A student in after-school service."""

    student_id: str
    name: str
    grade: int
    class_name: str
    card: str | None
    walk_alone: bool
    photo: str | None = None


@dataclass(frozen=True)
class Guardian:
    """An adult with a pickup card."""

    guardian_id: str
    name: str
    phone: str
    card: str | None
    photo: str | None = None


@dataclass(frozen=True)
class PickupRight:
    """Whether a guardian may collect a student, and how they are related."""

    relation: str
    allowed: bool


@dataclass(frozen=True)
class Staff:
    """A member of staff and the role their token carries."""

    staff_id: str
    name: str
    role: str
    card: str | None


@dataclass(frozen=True)
class Group:
    """A supervised group: basic service or a club."""

    group_id: str
    name: str
    kind: str
    staff_id: str | None
    room: str
    start: dt.time | None = None  # the session's start; None: school.toml's [service] start


@dataclass(frozen=True)
class Station:
    """A kiosk's reader position: a classroom door (with its group) or a pickup point."""

    station_id: str
    name: str
    role: str
    group_id: str | None


@dataclass(frozen=True)
class Checkpoint:
    """A patrol checkpoint: an NFC tag stuck on a door or a corridor (checkpoints.csv)."""

    checkpoint_id: str
    name: str
    card: str
    place: str


@dataclass(frozen=True)
class Roster:
    """Everything the rules need to know about people, groups and stations."""

    version: int
    calendar: Calendar
    students: dict[str, Student]
    guardians: dict[str, Guardian]
    staff: dict[str, Staff]
    groups: dict[str, Group]
    stations: dict[str, Station]
    pickup: dict[tuple[str, str], PickupRight]
    enrollments: dict[str, tuple[tuple[str, frozenset[int]], ...]]
    leave: dict[tuple[str, dt.date], str]
    cards: dict[str, tuple[str, str]]
    tables: dict[str, Table] = field(repr=False, compare=False)
    school_toml: str = field(default="", repr=False, compare=False)
    _by_guardian: dict[str, tuple[tuple[str, PickupRight], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _by_group: dict[str, tuple[tuple[str, frozenset[int]], ...]] = field(
        default_factory=dict, repr=False, compare=False
    )
    photos: dict[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)

    def patrol_places(self) -> tuple[str, ...]:
        """Return what a patrol round must visit: [patrol] places, or every room and tag."""
        plan = self.calendar.patrol
        if plan is not None and plan.places:
            return plan.places
        rooms = [s for s, station in self.stations.items() if station.role == "classroom"]
        return (*rooms, *self.checkpoints)

    def expected_groups(self, student_id: str, day: dt.date) -> list[str]:
        """Return the groups a student is enrolled in on ``day`` (by its timetable weekday)."""
        weekday = self.calendar.timetable_weekday(day)
        return [g for g, days in self.enrollments.get(student_id, ()) if weekday in days]

    def expected_in_group(self, group_id: str, day: dt.date) -> list[str]:
        """Return the students enrolled in ``group_id`` on ``day`` (no one on a closed day)."""
        weekday = self.calendar.timetable_weekday(day)
        return [s for s, days in self._by_group.get(group_id, ()) if weekday in days]

    def group_start(self, group_id: str, day: dt.date) -> dt.datetime:
        """Return when a group's session starts on ``day``, in the school's zone."""
        group = self.groups.get(group_id)
        start = group.start if group and group.start else self.calendar.service_start
        return dt.datetime.combine(day, start, tzinfo=self.calendar.tz)

    def children_of(self, guardian_id: str) -> tuple[tuple[str, PickupRight], ...]:
        """Return (student_id, right) for every pickup.csv row of this guardian."""
        return self._by_guardian.get(guardian_id, ())

    def on_leave(self, student_id: str, day: dt.date) -> bool:
        """Tell whether a student is on leave on ``day``: enrolled that day, with leave recorded.

        Leave on a day without service for that student (not enrolled that weekday, a
        closed day) makes them on leave from nothing: they are not listed or counted
        as on leave anywhere (CONTRACT.md: not enrolled and never seen, not listed).
        """
        return (student_id, day) in self.leave and bool(self.expected_groups(student_id, day))

    def leave_recorded(self, student_id: str, day: dt.date) -> bool:
        """Tell whether leave.csv has a row for a student and day, enrolled or not."""
        return (student_id, day) in self.leave
