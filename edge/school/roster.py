"""The school roster: who the students, guardians and staff are, and who may collect whom.

A roster bundle is a folder of CSV files or one .xlsx workbook with sheets of the
same names (CONTRACT.md). ``read_bundle`` turns files into tables of cleaned text
cells; ``build`` checks those tables as a whole and returns an immutable ``Roster``.
The store keeps the cleaned tables, so a roster read back from the database goes
through the same ``build`` and the same checks. Nothing here does I/O beyond reading
the bundle's files; a ``Roster`` is immutable and safe to share between threads.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge import text as text_rules
from edge.errors import RosterError
from edge.school import calendar as calendar_mod
from edge.school.calendar import Calendar, CalendarError
from edge.school.cards import ByteOrder, CardNumberError, CellKind, normalize, roster_cell

Progress = Callable[[str, int, int], None]
Table = list[dict[str, str]]

ROLES = ("teacher", "guard", "duty_leader", "admin")
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


def empty() -> Roster:
    """Return the roster of a kiosk that has not been given one yet."""
    return build({name: [] for name in FILES}, "", version=0)


# -- reading files ---------------------------------------------------------------


def read_bundle(
    path: Path, progress: Progress | None = None
) -> tuple[dict[str, Table], str, dict[str, bytes]]:
    """Read a folder of CSV files or an .xlsx workbook into tables of cleaned text.

    Returns the tables (each row a dict keyed by canonical column name, with a
    ``_row`` key holding the spreadsheet row number), the text of school.toml, and
    the photos the rows name, keyed by the content-addressed name that replaces the
    file name in the ``photo`` cell.
    """
    path = Path(path)
    if not path.exists():
        raise RosterError(f"{path} does not exist")
    if path.is_dir():
        raw = _read_csv_folder(path, progress)
        toml_path = path / "school.toml"
    elif path.suffix.lower() == ".xlsx":
        raw = _read_workbook(path, progress)
        toml_path = path.with_name("school.toml")
    else:
        raise RosterError(f"{path.name} is neither a folder of CSV files nor an .xlsx workbook")
    school_toml = ""
    if toml_path.exists():
        try:
            school_toml = toml_path.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as err:
            raise RosterError("school.toml is not UTF-8 text", file="school.toml") from err
    try:
        card_form = calendar_mod.parse(school_toml).card_form if school_toml.strip() else ""
    except CalendarError as err:
        raise RosterError(str(err), file="school.toml") from err
    sheet = None if path.is_dir() else path.name
    tables = {
        name: _map_columns(name, header, rows, sheet, card_form)
        for name, (header, rows) in raw.items()
    }
    base = path if path.is_dir() else path.parent
    photos: dict[str, bytes] = {}
    for name in ("students", "guardians"):
        for row in tables.get(name, []):
            if row.get("photo"):
                row["photo"] = _photo(base, row, f"{name}.csv", photos)
    return tables, school_toml, photos


PHOTO_TYPES = {b"\x89PNG": "png", b"\xff\xd8\xff": "jpg", b"RIFF": "webp"}
PHOTO_LIMIT = 2 * 1024 * 1024
PHOTO_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|webp)$")


def _photo(base: Path, row: dict[str, str], filename: str, photos: dict[str, bytes]) -> str:
    """Check a row's photo file and return its content-addressed name."""
    import hashlib

    given = row["photo"]
    where = {"file": filename, "row": int(row["_row"]), "column": "photo"}
    file = (base / given).resolve()
    if not file.is_relative_to(base.resolve()):
        raise RosterError(f"photo '{given}' lies outside the roster folder", **where)  # type: ignore[arg-type]
    if not file.is_file():
        raise RosterError(f"photo '{given}' is not in the roster folder", **where)  # type: ignore[arg-type]
    data = file.read_bytes()
    if len(data) > PHOTO_LIMIT:
        raise RosterError(
            f"photo '{given}' is {len(data) // 1024} KB; make it smaller than 2 MB",
            **where,  # type: ignore[arg-type]
        )
    kind = next((k for magic, k in PHOTO_TYPES.items() if data.startswith(magic)), None)
    if kind is None or (kind == "webp" and data[8:12] != b"WEBP"):
        raise RosterError(f"photo '{given}' is not a JPEG, PNG or WebP image", **where)  # type: ignore[arg-type]
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    photos[name] = data
    return name


def _decode(data: bytes, filename: str) -> str:
    # Excel on a Chinese Windows saves "CSV" in GB18030/GBK, elsewhere in UTF-8 with
    # or without a BOM: accept both rather than make the admin re-save the file.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise RosterError("is neither UTF-8 nor GBK text; save it as CSV UTF-8", file=filename)


RawTable = tuple[list[str], list[tuple[int, list[str]]]]


def _read_csv_folder(folder: Path, progress: Progress | None) -> dict[str, RawTable]:
    raw: dict[str, RawTable] = {}
    for name, (must_exist, _) in FILES.items():
        filename = f"{name}.csv"
        file = folder / filename
        if not file.exists():
            if must_exist:
                raise RosterError(f"{filename} is missing from {folder}", file=filename)
            continue
        text = _decode(file.read_bytes(), filename)
        if "\x00" in text:
            raise RosterError("holds NUL bytes: it is not a CSV text file", file=filename)
        try:
            records = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as err:
            raise RosterError(f"cannot be read as CSV: {err}", file=filename) from err
        raw[name] = _split_header(records, filename, progress)
    return raw


def _read_workbook(path: Path, progress: Progress | None) -> dict[str, RawTable]:
    import zipfile

    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as err:
        raise RosterError(f"{path.name} cannot be opened as an Excel workbook: {err}") from err
    try:
        sheets = {s.strip().lower().removesuffix(".csv"): s for s in book.sheetnames}
        raw: dict[str, RawTable] = {}
        for name, (must_exist, _) in FILES.items():
            if name not in sheets:
                if must_exist:
                    raise RosterError(
                        f"{path.name} has no sheet named '{name}'", file=f"{path.name}:{name}"
                    )
                continue
            records = [
                [_cell_text(c.value, getattr(c, "number_format", "")) for c in row]
                for row in book[sheets[name]].iter_rows()
            ]
            raw[name] = _split_header(records, f"{path.name}:{name}", progress)
        return raw
    finally:
        book.close()


class _Number(str):
    """The text of a cell Excel stored as a number (its leading zeros are gone)."""


class _Scientific(_Number):
    """A number Excel shows in scientific notation: typed like 123456E3, a hex UID."""


def _cell_text(value: object, number_format: str = "") -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return _Scientific(value) if "E+" in number_format.upper() else _Number(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _split_header(records: list[list[str]], filename: str, progress: Progress | None) -> RawTable:
    records = [r for r in records if any(str(c).strip() for c in r)]
    if not records:
        raise RosterError("is empty: it needs a header row", file=filename)
    header = [str(c).strip().lstrip("\ufeff") for c in records[0]]
    rows: list[tuple[int, list[str]]] = []
    total = len(records) - 1
    for number, record in enumerate(records[1:], start=2):
        rows.append((number, [c if isinstance(c, _Number) else str(c).strip() for c in record]))
        if progress and ((number - 1) % 500 == 0 or number - 1 == total):
            progress(filename, number - 1, total)
    if progress and total == 0:
        progress(filename, 0, 0)
    return header, rows


def _map_columns(
    name: str,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    workbook: str | None = None,
    card_form: str = "",
) -> Table:
    """Key each row by canonical column name; refuse card cells that read two ways.

    ``workbook`` names the .xlsx the rows came from (None: a CSV file); a card cell
    that may name two cards (cards.roster_cell) is refused naming its sheet and row.
    """
    filename = f"{name}.csv"
    columns = FILES[name][1]
    lookup: dict[str, str] = {}
    for column in columns:
        lookup[column.name.lower()] = column.name
        for alias in column.aliases:
            lookup.setdefault(alias.lower(), column.name)
    positions: dict[str, int] = {}
    for index, title in enumerate(header):
        canonical = lookup.get(title.lower())
        if canonical is None:
            continue  # extra columns (notes, phone of a second parent) are allowed
        if canonical in positions:
            raise RosterError(
                f"has two columns for '{canonical}'", file=filename, row=1, column=title
            )
        positions[canonical] = index
    for column in columns:
        if column.name not in positions and not column.optional_column:
            known = ", ".join([column.name, *column.aliases])
            raise RosterError(
                f"has no '{column.name}' column (header names accepted: {known})",
                file=filename,
                row=1,
                column=column.name,
            )
    table: Table = []
    cards: list[RosterError] = []
    for number, values in rows:
        if len(values) > len(header) and any(values[len(header) :]):
            raise RosterError(
                f"has {len(values)} cells but the header has {len(header)}; "
                "is there an unquoted comma in a name?",
                file=filename,
                row=number,
            )
        row = {"_row": str(number)}
        for column_name, index in positions.items():
            row[column_name] = str(values[index]) if index < len(values) else ""
        if row.get("card_uid"):
            kind: CellKind = (
                "csv" if workbook is None
                else "number" if isinstance(values[positions["card_uid"]], _Number)
                else "text"
            )  # fmt: skip
            where = f"{workbook}:{name}" if workbook else filename
            if isinstance(values[positions["card_uid"]], _Scientific):
                reason = (
                    f"Excel turned card number {row['card_uid']} into a number in scientific "
                    "notation, as it does with a hex UID like 123456E3, so the card number is "
                    "no longer the one typed. In Excel, format the card_uid column as Text "
                    "and type the number again as the reader shows it."
                )
                cards.append(RosterError(reason, file=where, row=number, column="card_uid"))
                continue
            try:
                row["card_uid"] = roster_cell(row["card_uid"], kind, card_form)
            except CardNumberError as err:
                cards.append(RosterError(str(err), file=where, row=number, column="card_uid"))
        table.append(row)
    if cards:
        raise RosterError(
            cards[0].reason,
            file=cards[0].file,
            row=cards[0].row,
            column="card_uid",
            more=cards[1:21],
        )
    return table


# -- checking and building ---------------------------------------------------------


class _Checker:
    """Collects the first problems found, so an admin can fix several at once."""

    def __init__(self) -> None:
        self.problems: list[RosterError] = []

    def fail(self, message: str, file: str, row: dict[str, str] | None, column: str | None) -> None:
        self.problems.append(
            RosterError(message, file=file, row=int(row["_row"]) if row else None, column=column)
        )

    def raise_if_any(self) -> None:
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


def build(tables: dict[str, Table], school_toml: str, version: int) -> Roster:
    """Check the tables as a whole and return the Roster they describe.

    Raises RosterError naming file, row and column of the first problem (and
    carrying up to 20 more), so nothing of a bad bundle is ever used.
    """
    try:
        calendar = calendar_mod.parse(school_toml) if school_toml.strip() else Calendar()
    except CalendarError as err:
        raise RosterError(str(err), file="school.toml") from err
    check = _Checker()
    byte_order: ByteOrder = "big" if calendar.card_byte_order == "big" else "little"
    cards: dict[str, tuple[str, str]] = {}
    card_rows: dict[str, str] = {}

    def required(file: str, row: dict[str, str], column: str) -> str:
        value = row.get(column, "").strip()
        if not value:
            check.fail(f"'{column}' is empty", file, row, column)
        return value

    def card(file: str, row: dict[str, str], kind: str, ident: str) -> str | None:
        raw = row.get("card_uid", "").strip()
        if not raw:
            return None
        try:
            key = normalize(raw, byte_order=byte_order)
        except CardNumberError as err:
            check.fail(str(err), file, row, "card_uid")
            return None
        if key in cards:
            check.fail(f"card {raw} is already the card of {card_rows[key]}", file, row, "card_uid")
            return None
        cards[key] = (kind, ident)
        card_rows[key] = f"{file} row {row['_row']} ({ident})"
        return key

    def unique(file: str, row: dict[str, str], column: str, seen: dict[str, str]) -> str:
        value = required(file, row, column)
        # An id is written into every event about its holder, and the campus hub takes
        # no event whose ids are longer or hold control characters (edge.sync.schema).
        wrong = text_rules.problem(value) or (
            f"is {len(value)} characters long; ids have at most 64" if len(value) > 64 else None
        )
        if value and wrong:
            check.fail(f"{column} {value[:64]!r} {wrong}", file, row, column)
        elif value and value in seen:
            check.fail(f"{column} '{value}' is also on row {seen[value]}", file, row, column)
        seen[value] = row["_row"]
        return value

    def flag(file: str, row: dict[str, str], column: str, default: bool) -> bool:
        value = row.get(column, "").strip().lower()
        if value == "":
            return default
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        check.fail(f"'{row.get(column, '')}' is not 1 or 0 (是/否)", file, row, column)
        return default

    students: dict[str, Student] = {}
    seen: dict[str, str] = {}
    for row in tables.get("students", []):
        sid = unique("students.csv", row, "student_id", seen)
        name = required("students.csv", row, "name")
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
            card("students.csv", row, "student", sid),
            flag("students.csv", row, "walk_alone", False),
            row.get("photo") or None,
        )

    guardians: dict[str, Guardian] = {}
    seen = {}
    for row in tables.get("guardians", []):
        gid = unique("guardians.csv", row, "guardian_id", seen)
        phone = row.get("phone", "").strip()
        if phone and not re.fullmatch(r"[0-9+\-\s()]{5,20}", phone):
            check.fail(f"phone '{phone}' is not a phone number", "guardians.csv", row, "phone")
        guardians[gid] = Guardian(
            gid,
            required("guardians.csv", row, "name"),
            phone,
            card("guardians.csv", row, "guardian", gid),
            row.get("photo") or None,
        )

    staff: dict[str, Staff] = {}
    seen = {}
    for row in tables.get("staff", []):
        stid = unique("staff.csv", row, "staff_id", seen)
        role_text = required("staff.csv", row, "role")
        role = _ROLE_ALIASES.get(role_text.lower())
        if role_text and role is None:
            check.fail(
                f"role '{role_text}' is not one of {', '.join(ROLES)}", "staff.csv", row, "role"
            )
        staff[stid] = Staff(
            stid,
            required("staff.csv", row, "name"),
            role or "teacher",
            card("staff.csv", row, "staff", stid),
        )

    groups: dict[str, Group] = {}
    seen = {}
    for row in tables.get("groups", []):
        gid = unique("groups.csv", row, "group_id", seen)
        kind_text = required("groups.csv", row, "kind")
        kind = _KIND_ALIASES.get(kind_text.lower())
        if kind_text and kind is None:
            check.fail(f"kind '{kind_text}' is not basic or club", "groups.csv", row, "kind")
        owner = row.get("staff_id", "").strip() or None
        if owner and owner not in staff:
            check.fail(f"staff_id '{owner}' is not in staff.csv", "groups.csv", row, "staff_id")
        start_text = row.get("start", "").strip()
        start = None
        if start_text:
            try:
                start = calendar_mod.parse_time(start_text, "start")
            except CalendarError:
                check.fail(
                    f"start '{start_text}' is not a time of day like 16:00",
                    "groups.csv",
                    row,
                    "start",
                )
        groups[gid] = Group(
            gid,
            required("groups.csv", row, "name"),
            kind or "basic",
            owner,
            row.get("room", "").strip(),
            start,
        )

    pickup: dict[tuple[str, str], PickupRight] = {}
    for row in tables.get("pickup", []):
        sid = required("pickup.csv", row, "student_id")
        gid = required("pickup.csv", row, "guardian_id")
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
            row.get("relation", "").strip(), flag("pickup.csv", row, "allowed", False)
        )

    enrollments: dict[str, list[tuple[str, frozenset[int]]]] = {}
    for row in tables.get("enrollments", []):
        sid = required("enrollments.csv", row, "student_id")
        gid = required("enrollments.csv", row, "group_id")
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

    stations: dict[str, Station] = {}
    seen = {}
    for row in tables.get("stations", []):
        stid = unique("stations.csv", row, "station_id", seen)
        if stid and not re.fullmatch(r"[A-Za-z0-9_.\-]{1,64}", stid):
            check.fail(
                f"station_id '{stid}' may hold only letters, digits, '-', '_' and '.' "
                "(it is part of the kiosk's web address)",
                "stations.csv",
                row,
                "station_id",
            )
        role_text = required("stations.csv", row, "role")
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
            required("stations.csv", row, "name"),
            role or "classroom",
            group if role == "classroom" else None,
        )

    leave: dict[tuple[str, dt.date], str] = {}
    for row in tables.get("leave", []):
        sid = required("leave.csv", row, "student_id")
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

    check.problems = check.problems[:21]
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
        cards=cards,
        tables=tables,
        school_toml=school_toml,
        _by_guardian={k: tuple(v) for k, v in by_guardian.items()},
        _by_group={k: tuple(v) for k, v in by_group.items()},
    )


def _grade(text: str) -> int | None:
    text = text.strip().removesuffix("年级").strip()
    if text in _CN_DIGITS:
        return _CN_DIGITS[text]
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    return None


def _weekdays(text: str) -> frozenset[int] | None:
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


def load(path: Path, version: int, progress: Progress | None = None) -> Roster:
    """Read and check a bundle in one go (what ``roster import`` does before storing)."""
    tables, school_toml, photos = read_bundle(path, progress)
    return dataclasses.replace(build(tables, school_toml, version), photos=photos)
