"""The current picture (who is where, with whom), derived from the ledger.

A ``DayState`` is the fold of one school day's events in key order; ``apply`` moves it
forward by one event. The ``Projection`` keeps the DayStates of recent days in memory,
applies each committed event as it is appended, and refolds a day from the ledger when
an event arrives that sorts before ones already applied (a synced event from another
node). So the live picture is never a refold per query, and can always be rebuilt.

Thread safety: the writer thread applies events while request threads read pictures;
both hold ``Projection.lock``. A DayState itself is not thread-safe.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from edge import events as ev
from edge.events import Event
from edge.roster import Roster

PRESENT, RELEASED, LEFT_ALONE = "present", "released", "left_alone"
EXPECTED, ON_LEAVE = "expected", "on_leave"
STATES = (EXPECTED, ON_LEAVE, PRESENT, RELEASED, LEFT_ALONE)


@dataclass(frozen=True)
class Presence:
    """Where a student seen today is: present in a group, released, or gone alone."""

    state: str
    group_id: str | None
    since: dt.datetime
    station: str
    released_to: str | None = None
    reentry: bool = False


class DayState:
    """The fold of one day's events: students, custodians, pickup contexts, last taps."""

    def __init__(self, day: dt.date) -> None:
        self.day = day
        self.students: dict[str, Presence] = {}
        self.custodians: dict[str, tuple[str, dt.datetime]] = {}
        self.contexts: dict[str, tuple[str, dt.datetime]] = {}
        self.last_taps: dict[tuple[str, str], dt.datetime] = {}
        self.last_key: tuple[int, str, str, int] | None = None
        self.count = 0

    def apply(self, event: Event) -> None:
        """Move the state forward by one event (which must sort after the last one)."""
        self.last_key = event.key
        self.count += 1
        if event.card is not None and event.kind in ev.TAP_KINDS:
            self.last_taps[(event.station, event.card)] = event.at
        kind, sid, data = event.kind, event.subject_id, event.data
        if kind == ev.SIGNED_IN and sid:
            self.students[sid] = Presence(
                PRESENT,
                data.get("group_id"),
                event.at,
                event.station,
                reentry=bool(data.get("reentry")),
            )
        elif kind == ev.RELEASED and sid:
            self.students[sid] = Presence(
                RELEASED, None, event.at, event.station, released_to=data.get("guardian_id")
            )
        elif kind == ev.LEFT_ALONE and sid:
            self.students[sid] = Presence(LEFT_ALONE, None, event.at, event.station)
        elif kind == ev.CUSTODY_TAKEN and sid:
            self.custodians[data["group_id"]] = (sid, event.at)
        elif kind == ev.PICKUP_OPENED and sid:
            self.contexts[event.station] = (sid, event.at)

    def state_of(self, roster: Roster, student_id: str) -> str | None:
        """Return a student's state today, or None if not enrolled today and never seen."""
        seen = self.students.get(student_id)
        if seen is not None:
            return seen.state
        if roster.on_leave(student_id, self.day):
            return ON_LEAVE
        if roster.expected_groups(student_id, self.day):
            return EXPECTED
        return None

    def present_in(self, group_id: str) -> list[str]:
        """Return the students present in a group now."""
        return [
            sid for sid, p in self.students.items() if p.state == PRESENT and p.group_id == group_id
        ]


def fold(day: dt.date, events: Iterable[Event]) -> DayState:
    """Fold events of one day, in key order, into a fresh DayState."""
    state = DayState(day)
    for event in sorted(events, key=lambda e: e.key):
        state.apply(event)
    return state


class Projection:
    """The live pictures of recent days, updated as events are committed."""

    KEEP_DAYS = 3

    def __init__(self, load_day: Callable[[dt.date], Iterable[Event]]) -> None:
        self.lock = threading.RLock()
        self._load_day = load_day
        self._days: OrderedDict[dt.date, DayState] = OrderedDict()

    def day(self, day: dt.date) -> DayState:
        """Return the live state of ``day``, folding it from the ledger on first use."""
        with self.lock:
            state = self._days.get(day)
            if state is None:
                state = fold(day, self._load_day(day))
                self._days[day] = state
                while len(self._days) > self.KEEP_DAYS:
                    self._days.popitem(last=False)
            else:
                self._days.move_to_end(day)
            return state

    def add(self, event: Event) -> None:
        """Apply a committed event; refold its day if it sorts before what is applied."""
        with self.lock:
            state = self._days.get(event.day)
            if state is None:
                self.day(event.day)  # folds from the ledger, which holds the event already
            elif state.last_key is None or event.key > state.last_key:
                state.apply(event)
            else:
                self.forget(event.day)
                self.day(event.day)

    def forget(self, day: dt.date | None = None) -> None:
        """Drop the in-memory state of a day (or of all days) so it refolds from the ledger."""
        with self.lock:
            if day is None:
                self._days.clear()
            else:
                self._days.pop(day, None)


def picture(roster: Roster, state: DayState, judged_at: dt.datetime) -> dict[str, Any]:
    """Return the presence answer of CONTRACT.md for one day, judged at a moment."""
    day = state.day
    overdue_from = roster.calendar.service_end_at(day)
    is_late = judged_at >= overdue_from
    tz = roster.calendar.tz
    students: list[dict[str, Any]] = []
    counts = dict.fromkeys(STATES, 0)
    seen = state.students
    present_by_group: dict[str, int] = {}
    for sid, student in roster.students.items():
        presence = seen.get(sid)
        expected_groups: list[str] = []
        if presence is None:
            if roster.on_leave(sid, day):
                current = ON_LEAVE
            else:
                expected_groups = roster.expected_groups(sid, day)
                if not expected_groups:
                    continue
                current = EXPECTED
            entry: dict[str, Any] = {
                "student_id": sid,
                "name": student.name,
                "grade": student.grade,
                "class": student.class_name,
                "state": current,
                "group_id": None,
                "custodian_staff_id": None,
                "released_to": None,
                "since": None,
                "overdue": False,
                "expected_groups": expected_groups,
            }
        else:
            current = presence.state
            custodian = None
            if current == PRESENT and presence.group_id is not None:
                present_by_group[presence.group_id] = present_by_group.get(presence.group_id, 0) + 1
                held = state.custodians.get(presence.group_id)
                custodian = held[0] if held else None
            entry = {
                "student_id": sid,
                "name": student.name,
                "grade": student.grade,
                "class": student.class_name,
                "state": current,
                "group_id": presence.group_id,
                "custodian_staff_id": custodian,
                "released_to": presence.released_to,
                "since": presence.since.astimezone(tz).isoformat(),
                "overdue": current == PRESENT and is_late,
                "station": presence.station,
            }
        counts[current] += 1
        students.append(entry)
    counts["overdue"] = sum(1 for s in students if s["overdue"])
    return {
        "date": day.isoformat(),
        "at": judged_at.astimezone(tz).isoformat(),
        "service_end": overdue_from.isoformat(),
        "students": students,
        "counts": counts,
        "groups": [
            {
                "group_id": g.group_id,
                "name": g.name,
                "kind": g.kind,
                "room": g.room,
                "custodian_staff_id": state.custodians.get(g.group_id, (None,))[0],
                "present": present_by_group.get(g.group_id, 0),
                "expected": len(roster.expected_in_group(g.group_id, day)),
            }
            for g in roster.groups.values()
        ],
    }
