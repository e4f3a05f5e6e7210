"""A demo campus: a roster bundle a real school could have written, made up.

Grades 1-6, a basic group per grade (two where 30+ stay), five clubs, two pickup
points (东门, 西门), one or two guardians per child with siblings sharing them, a few
custody restrictions (allowed = 0), walk-alone consent for some older children,
leave for a few today. Cards come in every printed form readers produce: students'
as nfcpy hex, guardians' as the printed 10-digit decimal, staff's as 7-byte UIDs, a
few guardians with 125 kHz EM4100 fobs. Deterministic for a given seed.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

from edge.school.roster import Roster

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡"
    "余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯"
    "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "子涵浩然欣怡梓轩一诺雨桐宇轩思源诗涵俊杰佳怡博文嘉懿梓萱睿哲可馨若汐沐阳语桐书瑶"
    "明轩晨曦天佑安琪乐瑶皓宇依诺紫涵锦程昊然芷若家豪雅琪奕辰"
)
CN_GRADE = "一二三四五六"
CLUBS = [
    ("C-BB", "篮球社", "操场"),
    ("C-CAL", "书法社", "美术室"),
    ("C-SCI", "科学探究", "实验室"),
    ("C-CHO", "合唱团", "音乐室"),
    ("C-READ", "阅读社", "图书馆"),
]
SCHOOL_TOML = """timezone = "Asia/Shanghai"
card_byte_order = "little"
card_form = "hex"  # an 8-digit card number without a letter is a reader's hex UID

[[service_end]]
from = "12-01"
to = "03-31"
end = "17:00"

[[service_end]]
from = "04-01"
to = "11-30"
end = "18:00"

[dismissal]
"1-2" = ["16:00", "17:00", "17:30"]
"3-6" = ["17:00", "17:30"]
"""


def _name(rng: random.Random) -> str:
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))
    return rng.choice(SURNAMES) + given


def _uid(rng: random.Random, used: set[bytes], size: int) -> bytes:
    while True:
        data = bytes([0x04] if size == 7 else []) + rng.randbytes(size - (1 if size == 7 else 0))
        key = data if size != 4 else data[::-1]
        if key not in used:
            used.add(key)
            return data


@dataclass
class _Families:
    """The rows about children: students, guardians, who collects whom, groups, leave."""

    students: list[list[str]] = field(default_factory=list)
    guardians: list[list[str]] = field(default_factory=list)
    pickup: list[list[str]] = field(default_factory=list)
    enrollments: list[list[str]] = field(default_factory=list)
    leave: list[list[str]] = field(default_factory=list)

    def next_guardian(self) -> str:
        """Return the id the next guardian row takes."""
        return f"G{len(self.guardians) + 1:05d}"


def make_bundle(
    students: int = 300, seed: int = 2026, today: dt.date | None = None
) -> dict[str, list[list[str]]]:
    """Return the demo roster as rows per file (header first)."""
    rng = random.Random(seed)
    today = today or dt.date.today()  # noqa: DTZ011 - the demo's leave is for the local today
    used: set[bytes] = set()
    rows = _families(students, rng, used, today)
    staff_rows, group_rows, station_rows = _staff_and_groups(rng, used, rows.enrollments)
    return {
        "students": [["student_id", "name", "grade", "class", "card_uid", "walk_alone"],
                     *rows.students],
        "guardians": [["guardian_id", "name", "phone", "card_uid"], *rows.guardians],
        "pickup": [["student_id", "guardian_id", "relation", "allowed"], *rows.pickup],
        "staff": [["staff_id", "name", "role", "card_uid"], *staff_rows],
        "groups": [["group_id", "name", "kind", "staff_id", "room"], *group_rows],
        "enrollments": [["student_id", "group_id", "weekdays"], *rows.enrollments],
        "stations": [["station_id", "name", "role", "group_id"], *station_rows],
        "leave": [["student_id", "date", "reason"], *rows.leave],
    }  # fmt: skip


def _families(students: int, rng: random.Random, used: set[bytes], today: dt.date) -> _Families:
    """Make the children, grade by grade, with their guardians, enrollments and leave."""
    rows = _Families()
    per_grade = max(1, students // 6)
    family: list[str] = []
    for index in range(students):
        grade = min(6, index // per_grade + 1)
        sid = f"S{index + 1:05d}"
        klass = f"{CN_GRADE[grade - 1]}年级{index % 3 + 1}班"
        walk = "1" if grade >= 5 and rng.random() < 0.3 else "0"
        name = _name(rng)
        rows.students.append([sid, name, str(grade), klass, _uid(rng, used, 4).hex().upper(), walk])
        # Siblings: one child in eight shares the previous child's guardians.
        if not (family and rng.random() < 0.125):
            family = _guardians(rows, rng, used)
        for n, gid in enumerate(family):
            rows.pickup.append([sid, gid, ("母亲", "父亲", "祖母", "外公")[n % 4], "1"])
        if rng.random() < 0.02:  # a custody restriction: this adult must not collect
            gid = rows.next_guardian()
            rows.guardians.append(
                [gid, _name(rng), "", f"{int.from_bytes(_uid(rng, used, 4), 'little'):010d}"]
            )
            rows.pickup.append([sid, gid, "父亲", "0"])
        basic = f"B-{grade}{'AB'[index % 2] if per_grade >= 30 else 'A'}"
        rows.enrollments.append([sid, basic, "1,2,3,4,5"])
        if rng.random() < 0.3:
            club = rng.choice(CLUBS)[0]
            rows.enrollments.append([sid, club, str(rng.choice((1, 2, 3, 4, 5)))])
        if rng.random() < 0.02:
            rows.leave.append([sid, today.isoformat(), rng.choice(("病假", "事假"))])
    return rows


def _guardians(rows: _Families, rng: random.Random, used: set[bytes]) -> list[str]:
    """Add a child's one or two guardians, each with a card; return their ids."""
    made = []
    for _ in range(rng.choice((1, 2, 2))):
        gid = rows.next_guardian()
        if rng.random() < 0.1:
            card = "0A" + _uid(rng, used, 4).hex().upper()  # EM4100 fob, serial form
        else:
            card = f"{int.from_bytes(_uid(rng, used, 4), 'little'):010d}"  # as printed
        phone = "1" + rng.choice("3578") + "".join(rng.choice("0123456789") for _ in range(9))
        rows.guardians.append([gid, _name(rng), phone, card])
        made.append(gid)
    return made


def _staff_and_groups(
    rng: random.Random, used: set[bytes], enrollments: list[list[str]]
) -> tuple[list[list[str]], list[list[str]], list[list[str]]]:
    """Make the staff, a basic group per grade (two where many stay), the clubs, stations."""
    staff_rows = [
        ["T001", "刘校长", "duty_leader", _uid(rng, used, 7).hex().upper()],
        ["T002", "王主任", "admin", _uid(rng, used, 7).hex().upper()],
        ["T003", "张保安", "guard", _uid(rng, used, 7).hex().upper()],
        ["T004", "李门卫", "guard", _uid(rng, used, 7).hex().upper()],
    ]
    group_rows, station_rows = [], []
    groups = sorted({row[1] for row in enrollments if row[1].startswith("B-")})
    for gid in groups:
        sid = f"T{len(staff_rows) + 1:03d}"
        staff_rows.append([sid, _name(rng) + "老师", "teacher", _uid(rng, used, 7).hex().upper()])
        grade = int(gid[2])
        group_rows.append(
            [
                gid,
                f"{CN_GRADE[grade - 1]}年级看护{gid[3]}组",
                "basic",
                sid,
                f"{grade}0{'AB'.index(gid[3]) + 1}教室",
            ]
        )
        station_rows.append(
            [f"K-{gid[2:]}", f"{CN_GRADE[grade - 1]}年级{gid[3]}组教室", "classroom", gid]
        )
    for gid, name, room in CLUBS:
        sid = f"T{len(staff_rows) + 1:03d}"
        staff_rows.append([sid, _name(rng) + "老师", "teacher", _uid(rng, used, 7).hex().upper()])
        group_rows.append([gid, name, "club", sid, room])
        station_rows.append([f"K-{gid[2:]}", name, "classroom", gid])
    station_rows += [["P-EAST", "东门接送点", "pickup", ""], ["P-WEST", "西门接送点", "pickup", ""]]
    return staff_rows, group_rows, station_rows


def write_bundle(
    folder: Path, students: int = 300, seed: int = 2026, today: dt.date | None = None
) -> Path:
    """Write the demo roster as a folder of CSV files plus school.toml."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in make_bundle(students, seed, today).items():
        with open(folder / f"{name}.csv", "w", newline="", encoding="utf-8") as out:
            csv.writer(out).writerows(rows)
    (folder / "school.toml").write_text(SCHOOL_TOML, encoding="utf-8")
    return folder


def first_card(roster: Roster) -> str:
    """Return a student's card number as written in the roster (for the demo's hint)."""
    for row in roster.tables.get("students", []):
        if row.get("card_uid"):
            return row["card_uid"]
    return "04A2B3C4"
