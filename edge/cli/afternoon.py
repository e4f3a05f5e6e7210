"""A generated afternoon for the demo campus, played through its simulated readers.

``plan`` writes the afternoon of one day from a roster, deterministic for a seed:
children sign in at their classroom kiosks from the service start, each group's
supervisor takes custody (one group changes hands later), the dismissal batches of
school.toml bring guardians to both pickup points, a barred adult is refused, a
guardian without a card is helped on the pickup screen (a manual release signed by the
guard's card), walk-alone children leave alone, and a few children are collected after
the service end, late enough to be passed to the gate guard.

``Player`` plays it in one background thread on the node's clock (the demo's): every
card goes through its station's simulated reader, the path a card on a real reader
takes, and is answered once durable; the forgotten card goes through the pickup
screen's action (edge.actions.releases). A failing step is logged and skipped: the demo
never stops the node.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from edge.actions import releases
from edge.clock import ScaledClock
from edge.errors import CampusEdgeError
from edge.node import Node
from edge.school.roster import Roster

log = logging.getLogger(__name__)

ESCALATE = "escalate"  # a step that asks the node to pass late children to the guard
FORGOT_REASON = "家长忘带接送卡"


@dataclass(frozen=True)
class Step:
    """One thing that happens at a moment: a card at a station, or an action there."""

    at: dt.datetime
    station: str = ""
    card: str = ""  # as written in the roster (the reader's form)
    note: str = ""  # said in the demo's terminal when it happens ("" for routine taps)
    manual: tuple[str, str] | None = None  # (student, guardian): asked on the pickup screen
    kind: str = "tap"  # or ESCALATE: the node passes late children to the guard


@dataclass
class _Child:
    student_id: str
    grade: int
    station: str


def _cards(roster: Roster, table: str, key: str) -> dict[str, str]:
    """Return each row's card as written in the roster file (the form a reader types)."""
    return {r[key]: r["card_uid"] for r in roster.tables.get(table, []) if r.get("card_uid")}


def plan(
    roster: Roster, day: dt.date, seed: int = 2026, begin: dt.datetime | None = None
) -> list[Step]:
    """Return the afternoon of ``day`` as steps in time order (deterministic for ``seed``).

    ``begin`` (a demo started late) moves the sign-ins there and leaves out what lies
    before it.
    """
    rng = random.Random(seed)
    cal = roster.calendar
    start = dt.datetime.combine(day, cal.service_start, tzinfo=cal.tz)
    if begin is not None and begin > start:
        start = begin.astimezone(cal.tz)
    end = cal.service_end_at(day)
    children, steps = _sign_ins(roster, day, start, rng)
    steps += _custody(roster, day, start, children)
    steps += _dismissal(roster, day, children, end, rng)
    return sorted((s for s in steps if s.at >= start), key=lambda s: s.at)


def _sign_ins(
    roster: Roster, day: dt.date, start: dt.datetime, rng: random.Random
) -> tuple[dict[str, _Child], list[Step]]:
    """Children sign in at their classroom, most in the first 12 minutes, a few late."""
    station_of = {s.group_id: s.station_id for s in roster.stations.values() if s.group_id}
    cards = _cards(roster, "students", "student_id")
    children: dict[str, _Child] = {}
    steps = []
    for sid, student in roster.students.items():
        groups = [g for g in roster.expected_groups(sid, day) if g in station_of]
        absent = rng.random() < 0.02  # expected, not on leave, never comes: the missing
        if not groups or roster.on_leave(sid, day) or absent or sid not in cards:
            continue
        station = station_of[groups[-1]]  # a club that meets today, else the basic group
        minutes = rng.uniform(20, 30) if rng.random() < 0.03 else rng.uniform(0, 12)
        steps.append(Step(start + dt.timedelta(minutes=minutes), station, cards[sid]))
        children[sid] = _Child(sid, student.grade, station)
    return children, steps


def _custody(
    roster: Roster, day: dt.date, start: dt.datetime, children: dict[str, _Child]
) -> list[Step]:
    """Each supervisor takes custody at 10 minutes; at 16:30 one group changes hands."""
    cards = _cards(roster, "staff", "staff_id")
    steps = []
    held = {c.station for c in children.values()}
    for station in roster.stations.values():
        group = roster.groups.get(station.group_id or "")
        if group is None or station.station_id not in held or group.staff_id not in cards:
            continue
        at = start + dt.timedelta(minutes=10)
        steps.append(Step(at, station.station_id, cards[group.staff_id or ""]))
    supervisors = {g.staff_id for g in roster.groups.values()}
    spare = [s for s, m in roster.staff.items()
             if m.role == "teacher" and s not in supervisors and s in cards]  # fmt: skip
    # The group that stays longest (the oldest children's) changes hands.
    by_grade = sorted(children.values(), key=lambda c: -c.grade)
    if spare and by_grade:
        room = by_grade[0].station
        at = dt.datetime.combine(day, dt.time(16, 30), tzinfo=roster.calendar.tz)
        name = roster.staff[spare[0]].name
        note = f"交接班：{name}接管{roster.stations[room].name} (a staff handover)"
        at = max(at, start + dt.timedelta(minutes=20))
        steps.append(Step(at, room, cards[spare[0]], note))
    return steps


def _families(roster: Roster, children: dict[str, _Child]) -> dict[str, list[_Child]]:
    """Group the children who came by the guardian who collects them (siblings together)."""
    cards = _cards(roster, "guardians", "guardian_id")
    families: dict[str, list[_Child]] = {}
    placed: set[str] = set()
    for (sid, gid), right in sorted(roster.pickup.items()):
        if sid in children and sid not in placed and right.allowed and gid in cards:
            families.setdefault(gid, []).append(children[sid])
            placed.add(sid)
    return families


def _dismissal(
    roster: Roster, day: dt.date, children: dict[str, _Child], end: dt.datetime,
    rng: random.Random,
) -> list[Step]:  # fmt: skip
    """Play the batches: guardians at both gates, a barred adult, a forgotten card, late ones."""
    cal = roster.calendar
    gates = sorted(s.station_id for s in roster.stations.values() if s.role == "pickup")
    if not gates:
        return []
    student_cards = _cards(roster, "students", "student_id")
    guardian_cards = _cards(roster, "guardians", "guardian_id")
    families = _families(roster, children)
    steps, barred = _barred(roster, day, children, gates)
    walking = {g for g, kids in families.items()
               if all(roster.students[k.student_id].walk_alone for k in kids)}  # fmt: skip
    order = sorted(set(families) - walking)
    rng.shuffle(order)
    late = set(order[:3])
    forgot = next((g for g in order[3:] if len(families[g]) == 1
                   and families[g][0].student_id != barred), None)  # fmt: skip
    for gid in sorted(families):
        kids = families[gid]
        times = cal.dismissal_times(max(k.grade for k in kids)) or (end.time(),)
        batch = dt.datetime.combine(day, rng.choice(times), tzinfo=cal.tz)
        at = min(batch + dt.timedelta(minutes=rng.uniform(-2, 10)), end - dt.timedelta(minutes=2))
        if barred in {k.student_id for k in kids}:  # collected after the barred adult came
            at = max(at, steps[0].at + dt.timedelta(minutes=rng.uniform(5, 15)))
        gate, guardian = rng.choice(gates), roster.guardians[gid].name
        if gid in walking:
            steps += [Step(at, gate, student_cards[k.student_id]) for k in kids]
        elif gid == forgot:
            note = f"{guardian} 忘带接送卡，接送点手动放行 (a forgotten card: manual release)"
            steps += _forgotten_card(roster, at, gate, kids[0].student_id, gid, note)
        else:
            note = ""
            if gid in late:
                at = end + cal.late_custody + dt.timedelta(minutes=rng.uniform(2, 8))
                note = f"{guardian} 超时来接 (collected late, from the gate guard)"
            steps.append(Step(at, gate, guardian_cards[gid], note))
            steps += [Step(at, gate, student_cards[k.student_id]) for k in kids]
    return steps + _said(roster, day, end)


def _said(roster: Roster, day: dt.date, end: dt.datetime) -> list[Step]:
    """Tell the afternoon's moments in the demo's terminal: batches, the end, escalation."""
    cal = roster.calendar
    said = []
    for time in sorted({t for _, _, times in cal.dismissal for t in times}):
        grades = "、".join(f"{low}-{high}" for low, high, times in cal.dismissal if time in times)
        at = dt.datetime.combine(day, time, tzinfo=cal.tz)
        said.append(Step(at, note=f"放学批次 {grades} 年级 (dismissal batch: grades {grades})"))
    said.append(Step(end, note="课后服务结束，仍在校即超时 (service ends: those here are late)"))
    said.append(Step(end + cal.late_call, note="值班领导电话联系家长 (the duty leader calls)"))
    late = end + cal.late_custody
    said.append(Step(late, note="超时未接的孩子交门卫看护 (late children pass to the gate guard)"))
    said += [Step(late + dt.timedelta(seconds=20), kind=ESCALATE),
             Step(late + dt.timedelta(minutes=3), kind=ESCALATE)]  # fmt: skip
    return said


def _forgotten_card(
    roster: Roster, at: dt.datetime, gate: str, sid: str, gid: str, note: str
) -> list[Step]:
    """Help a guardian without a card: the pickup screen asks a release, the guard's card signs."""
    guards = [s for s, m in roster.staff.items() if m.role == "guard"]
    cards = _cards(roster, "staff", "staff_id")
    signer = next((cards[s] for s in guards if s in cards), None)
    if signer is None:
        return []
    return [Step(at, gate, "", note, manual=(sid, gid)), Step(at, gate, signer)]


def _barred(
    roster: Roster, day: dt.date, children: dict[str, _Child], gates: list[str]
) -> tuple[list[Step], str | None]:
    """Bring an adult barred from a child (pickup.csv allowed = 0) to a gate: refused loudly.

    Returns the two taps (the adult's, then the child's at 16:50) and that child.
    """
    cards = _cards(roster, "guardians", "guardian_id")
    student_cards = _cards(roster, "students", "student_id")
    for (sid, gid), right in sorted(roster.pickup.items()):
        if right.allowed or sid not in children or gid not in cards or sid not in student_cards:
            continue
        at = dt.datetime.combine(day, dt.time(16, 50), tzinfo=roster.calendar.tz)
        name, child = roster.guardians[gid].name, roster.students[sid].name
        note = f"{name} 无权接{child}，拒绝并报警 (a barred adult: refused, loud alert)"
        tap = Step(at, gates[-1], cards[gid], note)
        return [tap, Step(at, gates[-1], student_cards[sid])], sid
    return [], None


class Player:
    """Plays steps on a node in one background thread, each when the clock reaches it."""

    def __init__(
        self, node: Node, clock: ScaledClock, steps: list[Step],
        say: Callable[[str], None] = print,
    ) -> None:  # fmt: skip
        self.node = node
        self.clock = clock
        self.steps = steps
        self.say = say
        self.done = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-afternoon", daemon=True)

    def start(self) -> None:
        """Start playing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop playing (what is under way finishes)."""
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        tz = self.node.roster.calendar.tz
        for step in self.steps:
            while (wait := self.clock.real_seconds_until(step.at)) > 0:
                if self._stop.wait(min(wait, 0.5)):
                    return
            if self._stop.is_set():
                return
            if step.note:
                self.say(f"[{self.clock.now().astimezone(tz):%H:%M}] {step.note}")
            try:
                self._perform(step)
            except (CampusEdgeError, TimeoutError) as err:
                log.warning("demo step at %s %s: %s", step.at, step.station, err)
            except Exception:  # the demo goes on; the node must never stop for it
                log.exception("demo step at %s %s failed", step.at, step.station)
            self.done += 1
        self.say(f"[{self.clock.now().astimezone(tz):%H:%M}] 演示下午结束 (the afternoon is over)")

    def _perform(self, step: Step) -> None:
        if step.kind == ESCALATE:
            self.node.writer.escalate().result(timeout=30)
            return
        if not step.station:  # only said
            return
        if step.manual is not None:
            sid, gid = step.manual
            releases.ask(self.node.desk, step.station, f"display:{step.station}", sid,
                         "guardian", gid, FORGOT_REASON)  # fmt: skip
            return
        reader = self.node.simulated(step.station)
        if reader is None:
            raise CampusEdgeError(f"station {step.station} has no simulated reader")
        reader.present(step.card).result(timeout=30)
