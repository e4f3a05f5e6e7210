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

from edge.clock import ScaledClock
from edge.errors import CampusEdgeError
from edge.school import auth
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
end = "17:45"

[[service_end]]
from = "04-01"
to = "11-30"
end = "18:00"

[dismissal]
"1-2" = ["16:00", "17:00", "17:30"]
"3-6" = ["17:00", "17:30"]

[service]
start = "15:30"
late_call_minutes = 10     # the duty leader calls guardians 10 minutes after the end
late_custody_minutes = 20  # the gate guard takes the children still here after 20
"""


def school_toml(today: dt.date) -> str:
    """Return the demo's school.toml; a weekend today is a make-up day (调休) for Friday.

    The demo plays an afternoon whatever the day it is started: on a Saturday or a
    Sunday the school works as on a Friday, as Chinese schools do around holidays.
    """
    if today.isoweekday() <= 5:
        return SCHOOL_TOML
    return SCHOOL_TOML + f'\n[days]\nmakeup = {{ "{today.isoformat()}" = 5 }}\n'


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
        # Many schools' exports write the class as a bare number beside the grade; some
        # write it out: the demo has both (the screens say 一年级4班 either way).
        klass = str(index % 3 + 1) if grade <= 4 else f"{CN_GRADE[grade - 1]}年级{index % 3 + 1}班"
        walk = "1" if grade >= 5 and rng.random() < 0.3 or index == students - 1 else "0"
        name = _name(rng)
        rows.students.append([sid, name, str(grade), klass, _uid(rng, used, 4).hex().upper(), walk])
        # Siblings: one child in eight shares the previous child's guardians.
        if not (family and rng.random() < 0.125):
            family = _guardians(rows, rng, used)
        for n, gid in enumerate(family):
            rows.pickup.append([sid, gid, ("母亲", "父亲", "祖母", "外公")[n % 4], "1"])
        # A custody restriction: this adult must not collect (always one, for the demo).
        if rng.random() < 0.02 or index == 7:
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
    for name in ("赵老师", "钱老师"):  # 科任老师 with no group of their own: they take over
        sid = f"T{len(staff_rows) + 1:03d}"
        staff_rows.append([sid, name, "teacher", _uid(rng, used, 7).hex().upper()])
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
    (folder / "school.toml").write_text(school_toml(today or dt.date.today()), encoding="utf-8")  # noqa: DTZ011
    return folder


def first_card(roster: Roster) -> str:
    """Return a student's card number as written in the roster (for the demo's hint)."""
    for row in roster.tables.get("students", []):
        if row.get("card_uid"):
            return row["card_uid"]
    return "04A2B3C4"


DEMO_MARK = "demo-campus"  # in a data directory the demo made (and may start afresh)
DEMO_ZONE = "Asia/Shanghai"  # SCHOOL_TOML's timezone


def fresh_start(data_dir: Path, database: Path) -> None:
    """Clear a demo's ledger for a new afternoon; refuse a directory that is not a demo's.

    Each demo plays today's afternoon from its start: yesterday's run (or this
    morning's) would leave the children released before they sign in again.
    """
    mark = data_dir / DEMO_MARK
    # An older demo's directory has no mark: its roster folder holds the demo's own files.
    made = [data_dir / "roster" / name for name in ("stations.csv", "school.toml")]
    made_by_demo = mark.exists() or (
        all(path.exists() for path in made)
        and "P-EAST,东门接送点" in made[0].read_text(encoding="utf-8")
        and "an 8-digit card number without a letter" in made[1].read_text(encoding="utf-8")
    )
    if database.exists() and not made_by_demo:
        raise CampusEdgeError(
            f"{data_dir} holds a campus that is not a demo's; the demo starts its directory "
            "afresh, so give it one of its own (--data-dir)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    mark.write_text("made by `campus-edge demo`, which starts it afresh each time\n", "utf-8")


def demo_day(now: dt.datetime | None = None) -> dt.date:
    """Return today in the demo school's zone."""
    from zoneinfo import ZoneInfo

    return (now or dt.datetime.now(dt.UTC)).astimezone(ZoneInfo(DEMO_ZONE)).date()


def welcome(
    roster: Roster, clock: ScaledClock, secret: bytes, base: str, data_dir: Path,
    last: dt.datetime,
) -> str:  # fmt: skip
    """Return what the demo prints: pages to open first, tokens, the clock's pace, how to stop."""
    tz = roster.calendar.tz
    start = clock.now().astimezone(tz)
    leader = next(s for s in roster.staff.values() if s.role == "duty_leader")
    admin = next(s for s in roster.staff.values() if s.role == "admin")
    classroom = next(s for s in roster.stations.values() if s.role == "classroom")
    gate = next(s for s in roster.stations.values() if s.role == "pickup")
    three_hours = 3 * 3600 / clock.speed
    pace = f"{three_hours / 60:.1f} min" if three_hours >= 60 else f"{three_hours:.0f} s"
    end = roster.calendar.service_end_at(start.date())
    token = auth.issue(secret, leader.staff_id, leader.role, clock.now(), 24)
    return "\n".join([
        f"演示校园 Demo campus: {len(roster.students)} students, {len(roster.groups)} groups, "
        f"{len(roster.stations)} stations (in {data_dir}).",
        f"演示时钟 Demo clock: {start:%Y-%m-%d %H:%M} ({tz}), {clock.speed:g}x real time: "
        f"3 hours of the afternoon take {pace}; service ends {end:%H:%M}; "
        f"after {last.astimezone(tz):%H:%M} it runs at real speed.",
        "The afternoon plays by itself through the simulated readers; its moments are "
        "told below as they happen.",
        "Open first:",
        f"  1. {base}/dashboard            duty leader's dashboard: sign in with the token below",
        f"  2. {base}/kiosk/{classroom.station_id:<14} a classroom kiosk ({classroom.name})",
        f"  3. {base}/kiosk/{gate.station_id:<14} a pickup kiosk, the guard's screen ({gate.name})",
        f"  4. {base}/dashboard/rollcall   the roll call (same token)",
        f"Duty leader token ({leader.name}): {token}",
        f"Admin token ({admin.name}): "
        + auth.issue(secret, admin.staff_id, admin.role, clock.now(), 24),
        "Tap a card yourself:",
        f"  curl -s -XPOST {base}/api/v1/sim/taps -H 'content-type: application/json' "
        f'-d \'{{"station": "{classroom.station_id}", "uid": "{first_card(roster)}"}}\'',
        "Stop: Ctrl+C (the next demo starts a fresh afternoon).",
    ])  # fmt: skip
