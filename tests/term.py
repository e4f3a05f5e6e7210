"""A generated term with known answers: what happened each day, decided before any tap.

``Term.plan`` says, per school day, who came, who was on leave or absent, when each
child signed in and left and with whom, and how each group's staff did (on time,
late, absent with a substitute, handed over). ``Term.play`` taps it all through a
real node, in time order; the answers the reports must give are worked out here from
the plan alone (this file's own school-day arithmetic, not the calendar's), so a
report is checked against what happened rather than against itself.

Special days, fixed so the tests can name them:
- LOST: S05 loses their card (no sign-in: absent); the next day a new card is
  enrolled (roster version 2) and someone taps the old one at K1 (an unknown card);
- REENTRY: S02 is collected at 16:40, comes back to K1 at 16:50, is collected again;
- LEAVE_BUT_CAME: S03 has leave in leave.csv and comes anyway (attended);
- NOT_RELEASED: S12 is never recorded as gone (G2's record incomplete, overdue);
- T1_LATE: T1 takes custody 20 minutes late; T2_ABSENT: SUB stands in for T2;
- EXTRA: S19 (enrolled Mon/Wed/Fri) comes on a Tuesday;
- Fridays: the duty leader L1 takes G1 over from T1 at 17:00.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")
TERM_NAME = "2026秋季学期"
TERM_START, TERM_END = dt.date(2026, 9, 1), dt.date(2026, 10, 16)
CLOSED = {dt.date(2026, 9, 25)} | {dt.date(2026, 10, d) for d in range(1, 8)}
MAKEUP = {dt.date(2026, 9, 27): 1, dt.date(2026, 10, 10): 5}  # a Sunday, a Saturday (调休)
LOST = dt.date(2026, 9, 15)
REENTRY = dt.date(2026, 9, 17)
LEAVE_BUT_CAME = dt.date(2026, 9, 8)
NOT_RELEASED = dt.date(2026, 9, 22)
T1_LATE = dt.date(2026, 9, 9)
T2_ABSENT = dt.date(2026, 9, 10)
EXTRA = dt.date(2026, 9, 29)

STUDENTS = [f"S{n:02d}" for n in range(1, 25)]
WALK_ALONE = {"S10", "S20"}
GROUPS = {  # group: (name, kind, staff, start, station, members, weekdays)
    "G1": ("一年级看护组", "basic", "T1", "15:40", "K1", STUDENTS[:10], {1, 2, 3, 4, 5}),
    "G2": ("二三年级看护组", "basic", "T2", "15:40", "K2", STUDENTS[10:24], {1, 2, 3, 4, 5}),
    "G3": ("科学社", "club", "T3", "16:30", "K3", STUDENTS[:5], {3}),
    "G4": ("午托组", "basic", "T4", "11:30", "K4", STUDENTS[20:24], {1, 2, 3, 4, 5}),
}
PART_WEEK = {"S19": {1, 3, 5}, "S20": {1, 3, 5}}  # in G2 only on these weekdays
STAFF = {
    "T1": ("陈老师", "teacher"), "T2": ("周老师", "teacher"), "T3": ("吴老师", "teacher"),
    "T4": ("郑老师", "teacher"), "SUB": ("孙老师", "teacher"), "L1": ("刘校长", "duty_leader"),
    "A1": ("王主任", "admin"),
}  # fmt: skip
SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张"


def card(ident: str, version: int = 1) -> str:
    """Return the hex card number of a person (a replaced card differs in its first byte)."""
    digits = "".join(f"{ord(c):02X}" for c in ident)[-6:].rjust(6, "0")
    return f"{'04' if version == 1 else '05'}{digits}"


def student_name(sid: str) -> str:
    return f"{SURNAMES[int(sid[1:]) - 1]}小{sid[1:]}"


def guardian_of(sid: str) -> str:
    return f"P{sid[1:]}"


def guardian_name(sid: str) -> str:
    return f"{SURNAMES[int(sid[1:]) - 1]}家长{sid[1:]}"


def local(day: dt.date, hhmm: str, second: int = 0) -> dt.datetime:
    hour, minute = (int(p) for p in hhmm.split(":"))
    start = dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=TZ)
    return start + dt.timedelta(seconds=second)


def hm(moment: dt.datetime | None) -> str:
    return moment.astimezone(TZ).strftime("%H:%M") if moment else ""


def school_days() -> list[tuple[dt.date, int]]:
    """Return (day, timetable weekday) of every school day of the term, worked out by hand."""
    days = []
    day = TERM_START
    while day <= TERM_END:
        if day in MAKEUP:
            days.append((day, MAKEUP[day]))
        elif day.weekday() < 5 and day not in CLOSED:
            days.append((day, day.isoweekday()))
        day += dt.timedelta(days=1)
    return days


def groups_of(sid: str, weekday: int) -> list[str]:
    found = []
    for gid, (*_, members, weekdays) in GROUPS.items():
        days = PART_WEEK.get(sid, weekdays) if gid == "G2" else weekdays
        if sid in members and weekday in days:
            found.append(gid)
    return found


@dataclass
class Child:
    """One student's day in the plan."""

    status: str  # attended | on_leave | absent
    sign_ins: list[tuple[dt.datetime, str]] = field(default_factory=list)  # (at, group)
    releases: list[tuple[dt.datetime, str | None]] = field(default_factory=list)  # guardian


@dataclass
class Custody:
    """A staff member's custody tap at a group's station."""

    at: dt.datetime
    staff: str
    group: str


@dataclass
class Day:
    day: dt.date
    weekday: int
    children: dict[str, Child]
    custody: list[Custody]
    leave: dict[str, str]


class Term:
    """The plan of a whole term and the answers it implies."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.days = [self._plan(day, weekday) for day, weekday in school_days()]
        self.by_day = {d.day: d for d in self.days}

    # -- the plan ----------------------------------------------------------------

    def _plan(self, day: dt.date, weekday: int) -> Day:
        rng = self.rng
        children: dict[str, Child] = {}
        leave: dict[str, str] = {}
        # Pickups 20 s apart, so one family's guardian tap never falls between another
        # family's guardian and child (which would replace the open pickup context).
        slots = rng.sample(range(10, 4800, 20), len(STUDENTS))
        late_slots = rng.sample(range(10, 900, 20), len(STUDENTS))
        for sid in STUDENTS:
            groups = groups_of(sid, weekday)
            if not groups and not (sid == "S19" and day == EXTRA):
                continue
            roll = rng.random()
            if sid == "S05" and day == LOST:
                status = "absent"
            elif (sid, day) in (("S02", REENTRY), ("S12", NOT_RELEASED), ("S19", EXTRA)):
                status = "attended"
            elif sid == "S03" and day == LEAVE_BUT_CAME:
                status = "attended"
                leave[sid] = "病假"
            else:
                status = "on_leave" if roll < 0.08 else "absent" if roll < 0.13 else "attended"
                if status == "on_leave":
                    leave[sid] = rng.choice(["病假", "事假"])
            child = Child(status)
            children[sid] = child
            if status != "attended":
                continue
            if "G4" in groups:
                child.sign_ins.append((local(day, "11:25", rng.randrange(0, 600)), "G4"))
            first = "G2" if "G4" in groups or not groups else groups[0]
            child.sign_ins.append((local(day, "15:33", rng.randrange(0, 900)), first))
            if "G3" in groups:
                child.sign_ins.append((local(day, "16:24", rng.randrange(0, 240)), "G3"))
            if sid == "S02" and day == REENTRY:
                child.releases.append((local(day, "16:40", 5), guardian_of(sid)))
                child.sign_ins.append((local(day, "16:50", 5), "G1"))
                child.releases.append((local(day, "17:20", 5), guardian_of(sid)))
                continue
            if sid == "S12" and day == NOT_RELEASED:
                continue
            index = STUDENTS.index(sid)
            if rng.random() < 0.05:
                at = local(day, "18:05", late_slots[index])
            else:
                at = local(day, "16:35", slots[index])
            child.releases.append((at, None if sid in WALK_ALONE else guardian_of(sid)))
        custody = []
        for gid, (_, _, staff, start, _, _, weekdays) in GROUPS.items():
            if weekday not in weekdays:
                continue
            begin = local(day, start)
            if (gid, day) == ("G1", T1_LATE):
                custody.append(Custody(begin + dt.timedelta(minutes=20), staff, gid))
            elif (gid, day) == ("G2", T2_ABSENT):
                custody.append(Custody(begin + dt.timedelta(minutes=2), "SUB", gid))
            else:
                roll = rng.random()
                if roll < 0.07 and (gid, day) != ("G2", NOT_RELEASED):
                    custody.append(Custody(begin + dt.timedelta(minutes=3), "SUB", gid))
                else:
                    minutes = rng.randrange(12, 25) if roll < 0.14 else rng.randrange(0, 8)
                    custody.append(Custody(begin + dt.timedelta(minutes=minutes), staff, gid))
            if gid == "G1" and weekday == 5:
                custody.append(Custody(local(day, "17:00"), "L1", gid))
        return Day(day, weekday, children, custody, leave)

    # -- the roster --------------------------------------------------------------

    def write_roster(self, folder: Path, version: int = 1) -> Path:
        """Write the roster bundle; version 2 carries S05's replacement card."""
        folder.mkdir(parents=True, exist_ok=True)
        students = ["student_id,name,grade,class,card_uid,walk_alone"]
        for sid in STUDENTS:
            grade = 1 if sid in STUDENTS[:10] else 2 if sid in STUDENTS[10:17] else 3
            number = card(sid, 2 if sid == "S05" and version == 2 else 1)
            students.append(
                f"{sid},{student_name(sid)},{grade},{grade}年级1班,{number},"
                f"{int(sid in WALK_ALONE)}"
            )
        guardians = ["guardian_id,name,phone,card_uid"]
        pickup = ["student_id,guardian_id,relation,allowed"]
        for sid in STUDENTS:
            gid = guardian_of(sid)
            guardians.append(f"{gid},{guardian_name(sid)},1380000{sid[1:]:0>4},{card(gid)}")
            pickup.append(f"{sid},{gid},母亲,1")
        staff = ["staff_id,name,role,card_uid"]
        staff += [f"{s},{name},{role},{card(s)}" for s, (name, role) in STAFF.items()]
        groups = ["group_id,name,kind,staff_id,room,start"]
        enrollments = ["student_id,group_id,weekdays"]
        stations = ["station_id,name,role,group_id"]
        for gid, (name, kind, owner, start, station, members, weekdays) in GROUPS.items():
            groups.append(f"{gid},{name},{kind},{owner},{station}室,{start}")
            stations.append(f"{station},{name}教室,classroom,{gid}")
            for sid in members:
                days = PART_WEEK.get(sid, weekdays) if gid == "G2" else weekdays
                enrollments.append(f'{sid},{gid},"{",".join(str(d) for d in sorted(days))}"')
        stations.append("GATE,校门接送点,pickup,")
        leave = ["student_id,date,reason"]
        for day in self.days:
            leave += [f"{sid},{day.day.isoformat()},{why}" for sid, why in day.leave.items()]
        closed = ", ".join(f'"{d.isoformat()}"' for d in sorted(CLOSED))
        makeup = ", ".join(f'"{d.isoformat()}" = {w}' for d, w in MAKEUP.items())
        school = f"""timezone = "Asia/Shanghai"
card_form = "hex"  # the cards above are hex UIDs, some without a letter
[[service_end]]
from = "04-01"
to = "11-30"
end = "18:00"
[[term]]
name = "{TERM_NAME}"
from = "{TERM_START.isoformat()}"
to = "{TERM_END.isoformat()}"
[days]
closed = [{closed}]
makeup = {{ {makeup} }}
[service]
start = "15:40"
late_after_minutes = 10
"""
        files = {
            "students.csv": students, "guardians.csv": guardians, "pickup.csv": pickup,
            "staff.csv": staff, "groups.csv": groups, "enrollments.csv": enrollments,
            "stations.csv": stations, "leave.csv": leave,
        }  # fmt: skip
        for name, lines in files.items():
            (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        (folder / "school.toml").write_text(school, encoding="utf-8")
        return folder

    # -- the taps ----------------------------------------------------------------

    def taps(self, day: Day) -> list[tuple[dt.datetime, str, str]]:
        """Return the day's taps (at, station, card) in time order."""
        taps: list[tuple[dt.datetime, str, str]] = []
        version = 2 if day.day > LOST else 1
        for sid, child in day.children.items():
            mine = card(sid, version if sid == "S05" else 1)
            for at, gid in child.sign_ins:
                taps.append((at, GROUPS[gid][4], mine))
            for at, guardian in child.releases:
                if guardian is not None:
                    taps.append((at - dt.timedelta(seconds=4), "GATE", card(guardian)))
                taps.append((at, "GATE", mine))
        for c in day.custody:
            taps.append((c.at, GROUPS[c.group][4], card(c.staff)))
        if day.day == LOST + dt.timedelta(days=1):
            taps.append((local(day.day, "15:31"), "K1", card("S05", 1)))  # the lost card
        return sorted(taps)

    def play(self, node: object, roster_dir: Path) -> None:
        """Tap the whole term through a node's writer, re-enrolling S05 after LOST."""
        from edge.school import roster as roster_mod

        writer = node.writer  # type: ignore[attr-defined]
        for day in self.days:
            if day.day == LOST + dt.timedelta(days=1):
                bundle = self.write_roster(roster_dir.parent / "roster-v2", version=2)
                node.ledger.save_roster(roster_mod.load(bundle, version=2), "lost card")  # type: ignore[attr-defined]
            futures = [
                writer.submit_nowait(writer.make_tap(station, uid, at))
                for at, station, uid in self.taps(day)
            ]
            for future in futures:
                future.result(timeout=30)

    # -- the answers ---------------------------------------------------------------

    def attendance(self, start: dt.date, end: dt.date) -> dict[str, tuple[int, ...]]:
        """Per student: (enrolled, attended, on leave, absent, extra) over the days."""
        answers = {}
        for sid in STUDENTS:
            counts = {"attended": 0, "on_leave": 0, "absent": 0}
            enrolled = extra = 0
            for day in self.days:
                if not start <= day.day <= end or sid not in day.children:
                    continue
                if not groups_of(sid, day.weekday):
                    extra += day.children[sid].status == "attended"
                    continue
                enrolled += 1
                counts[day.children[sid].status] += 1
            answers[sid] = (enrolled, counts["attended"], counts["on_leave"], counts["absent"],
                            extra)  # fmt: skip
        return answers

    def sessions(self, start: dt.date, end: dt.date) -> dict[tuple[str, str, str], str]:
        """Per (date, staff, group): the record's status, worked out from the plan."""
        answers: dict[tuple[str, str, str], str] = {}
        for day in self.days:
            if not start <= day.day <= end:
                continue
            for gid, (_, _, owner, begin, *_rest) in GROUPS.items():
                taken = [c for c in day.custody if c.group == gid]
                if not taken:
                    continue
                first = taken[0]
                for c in taken:
                    status = "complete"
                    if c is first and c.at > local(day.day, begin) + dt.timedelta(minutes=10):
                        status = "late"
                    answers[(day.day.isoformat(), c.staff, gid)] = status
                last = taken[-1]
                if (
                    self.left_in(day, gid)
                    and answers[(day.day.isoformat(), last.staff, gid)] != "late"
                ):
                    answers[(day.day.isoformat(), last.staff, gid)] = "incomplete"
                if owner not in {c.staff for c in taken}:
                    answers[(day.day.isoformat(), owner, gid)] = "absent"
        return answers

    def left_in(self, day: Day, gid: str) -> list[str]:
        """Return who is still signed in to a group at the end of the day."""
        still = []
        for sid, child in day.children.items():
            moves = sorted([(at, "in", g) for at, g in child.sign_ins]
                           + [(at, "out", "") for at, _ in child.releases])  # fmt: skip
            if moves and moves[-1][1] == "in" and moves[-1][2] == gid:
                still.append(sid)
        return still


def played_node(root: Path) -> tuple[Term, object]:
    """Tap a whole generated term through a started in-process node; the caller stops it."""
    from edge.clock import ManualClock
    from edge.node import Node
    from edge.school import roster as roster_mod
    from edge.settings import Settings
    from edge.store.ledger import Ledger

    plan = Term()
    bundle = plan.write_roster(root / "roster")
    settings = Settings(data_dir=root / "data", node_id="kiosk-term", simulate=True, readers=[])
    Ledger(settings.database, settings.node_id).save_roster(
        roster_mod.load(bundle, version=1), "test"
    )
    node = Node(settings, ManualClock(dt.datetime(2026, 11, 23, 15, 30, tzinfo=TZ)))
    node.writer.clock_synced = True
    node.start()
    plan.play(node, bundle)
    return plan, node
