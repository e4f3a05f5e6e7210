"""The presence answer of one day, kept rendered and updated for just what an event touches.

A ``View`` holds, per student in roster order, their entry of the presence answer as
JSON bytes, and the counts and per-group tallies those entries add up to. The
projection (edge.projection) calls ``touch`` with each event it applies in place: only
the event's subject (and, for a custody change, that group's present children) is
rendered again. A refold (a correction, a synced event that sorts earlier) or the
service end passing (every present child turns overdue) calls ``rebuild``, which
renders everyone once and keeps what differs. So a presence answer is a join of kept
bytes, and a dashboard's delta lists exactly the entries that changed since the last
one (``delta``).

Not thread-safe: the projection's lock guards it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from edge.school.events import CORRECTED, CUSTODY_TAKEN, Event
from edge.school.fold import EXPECTED, ON_LEAVE, PRESENT, STATES, DayState
from edge.school.roster import Roster
from edge.school.rules import late_stage

# What an entry adds up to: (state, the group it is present in, overdue)
Mark = tuple[str | None, str | None, bool]
_UNLISTED: Mark = (None, None, False)
NOBODY = {"group_id": None, "custodian_staff_id": None, "released_to": None, "since": None,
          "overdue": False}  # fmt: skip


@dataclass(frozen=True)
class DayRoster:
    """What the roster says about one day, worked out once per roster version and day.

    ``rows`` holds, per student in roster order: their id, the entry shown while they
    are unseen today (expected or on leave; None when not listed at all), and the
    identity fields every entry starts with. Entries here are shared: never mutate.
    """

    day: dt.date
    rows: tuple[tuple[str, dict[str, Any] | None, dict[str, Any]], ...]
    expected_by_group: dict[str, int]
    service_end: dt.datetime
    tz: dt.tzinfo
    since_text: dict[dt.datetime, str] = field(default_factory=dict, compare=False)
    entries: dict[str, tuple[Any, str | None, bool, dict[str, Any]]] = field(
        default_factory=dict, compare=False
    )

    def local_text(self, moment: dt.datetime) -> str:
        """Return a moment as ISO text in the school's zone, formatted once per instant."""
        text = self.since_text.get(moment)
        if text is None:
            text = self.since_text[moment] = moment.astimezone(self.tz).isoformat()
        return text


def day_roster(roster: Roster, day: dt.date) -> DayRoster:
    """Work out the roster's facts for one day (see DayRoster)."""
    rows = []
    for sid, student in roster.students.items():
        ident = {
            "student_id": sid,
            "name": student.name,
            "grade": student.grade,
            "class": student.class_name,
        }
        unseen: dict[str, Any] | None = None
        groups = roster.expected_groups(sid, day)
        if roster.on_leave(sid, day):
            unseen = {**ident, "state": ON_LEAVE, **NOBODY, "expected_groups": groups}
        elif groups:
            unseen = {**ident, "state": EXPECTED, **NOBODY, "expected_groups": groups}
        rows.append((sid, unseen, ident))
    return DayRoster(
        day,
        tuple(rows),
        {g: len(roster.expected_in_group(g, day)) for g in roster.groups},
        roster.calendar.service_end_at(day),
        roster.calendar.tz,
    )


def staff_name(roster: Roster, staff_id: str | None) -> str | None:
    """Return the name of a member of staff, if the roster knows them."""
    member = roster.staff.get(staff_id or "")
    return member.name if member else None


def escalation(
    roster: Roster, service_end: dt.datetime, judged_at: dt.datetime, overdue: Iterable[Any]
) -> dict[str, Any]:
    """Return how far late pickups have gone, with the calls to make from stage 2.

    ``overdue``: the overdue children's entries (student_id, name), in roster order;
    only read from stage 2.
    """
    calendar = roster.calendar
    stage = late_stage(calendar, service_end, judged_at)
    answer: dict[str, Any] = {
        "stage": stage,
        "call_from": (service_end + calendar.late_call).astimezone(calendar.tz).isoformat(),
        "custody_at": (service_end + calendar.late_custody).astimezone(calendar.tz).isoformat(),
        "calls": [],
    }
    if stage >= 2:  # the duty leader calls each overdue child's adults
        children = list(overdue)
        if not children:
            return answer
        adults: dict[str, list[dict[str, str]]] = {}
        for (sid, gid), right in roster.pickup.items():
            guardian = roster.guardians.get(gid)
            if right.allowed and guardian is not None:
                adults.setdefault(sid, []).append(
                    {"name": guardian.name, "phone": guardian.phone, "relation": right.relation}
                )
        answer["calls"] = [
            {"student_id": e["student_id"], "name": e["name"],
             "guardians": adults.get(e["student_id"], [])}
            for e in children
        ]  # fmt: skip
    return answer


class View:
    """A day's presence answer kept rendered (see the module's docstring)."""

    def __init__(self, roster: Roster, facts: DayRoster, state: DayState, late: bool) -> None:
        self.roster = roster
        self.facts = facts
        self.state = state
        self.late = late  # whether present children are overdue (the service end passed)
        self.index = {sid: i for i, (sid, _, _) in enumerate(facts.rows)}
        self.entries: list[bytes | None] = [None] * len(facts.rows)
        self.marks: list[Mark] = [_UNLISTED] * len(facts.rows)
        self.counts = dict.fromkeys(STATES, 0)
        self.overdue = 0
        self.present_by_group: dict[str, int] = {}
        self.members: dict[str, set[int]] = {}
        self.group_ids = list(roster.groups)
        self.group_index = {g: i for i, g in enumerate(self.group_ids)}
        self.group_entries: list[bytes] = [b""] * len(self.group_ids)
        self.changed: set[int] = set()  # students whose entry changed since the last delta
        self.changed_groups: set[int] = set()
        self.version = 0  # moves whenever an entry changes
        self.reload: str | None = None  # why screens must refetch, once asked (see Projection)
        self.stage: int | None = None  # the late stage the last delta was judged at
        self._dirty: set[str] = set()
        self._joined: bytes | None = None
        self._unseen: dict[int, bytes] = {}
        self._late: tuple[tuple[int, int], bytes] | None = None
        self.rebuild(state, late)
        self.changed.clear()
        self.changed_groups.clear()

    def rebuild(self, state: DayState, late: bool) -> None:
        """Render every entry and group again from ``state`` (a refold, the service end)."""
        self.state, self.late = state, late
        for i in range(len(self.entries)):
            self._set(i)
        self._dirty.clear()
        for gid in self.group_ids:
            self._group(gid)

    def touch(self, event: Event) -> None:
        """Render again what an event applied in place changed: its subject, a group's children."""
        i = self.index.get(event.subject_id or "")
        if i is not None:
            self._set(i)
        if event.kind == CUSTODY_TAKEN:
            gid = event.data.get("group_id")
            if isinstance(gid, str):
                for j in list(self.members.get(gid, ())):
                    self._set(j)
                self._dirty.add(gid)
        for gid in self._dirty:
            self._group(gid)
        self._dirty.clear()

    def _set(self, i: int) -> None:
        entry, mark = self._render(i)
        old = self.marks[i]
        if mark != old:
            self._count(i, old, -1)
            self._count(i, mark, 1)
            self.marks[i] = mark
        if entry != self.entries[i]:
            self.entries[i] = entry
            self.changed.add(i)
            self.version += 1
            self._joined = None

    def _count(self, i: int, mark: Mark, step: int) -> None:
        current, group, overdue = mark
        if current is not None:
            self.counts[current] += step
        if group is not None:
            self.present_by_group[group] = self.present_by_group.get(group, 0) + step
            members = self.members.setdefault(group, set())
            members.add(i) if step > 0 else members.discard(i)
            self._dirty.add(group)
        self.overdue += step * overdue

    def _render(self, i: int) -> tuple[bytes | None, Mark]:
        sid, unseen, ident = self.facts.rows[i]
        presence = self.state.students.get(sid)
        if presence is None:
            if unseen is None:
                return None, _UNLISTED
            kept = self._unseen.get(i)
            if kept is None:
                kept = self._unseen[i] = orjson.dumps(unseen)
            return kept, (unseen["state"], None, False)
        group, custodian, late, present_in = presence.group_id, None, False, None
        if presence.state == PRESENT and group is not None:
            held = self.state.custodians.get(group)
            custodian = held[0] if held else None
            late, present_in = self.late, group
        entry = {
            **ident, "state": presence.state, "group_id": group,
            "custodian_staff_id": custodian, "released_to": presence.released_to,
            "since": self.facts.local_text(presence.since), "overdue": late,
            "station": presence.station,
        }  # fmt: skip
        return orjson.dumps(entry), (presence.state, present_in, late)

    def _group(self, gid: str) -> None:
        g = self.group_index.get(gid)
        if g is None:
            return
        group = self.roster.groups[gid]
        held = self.state.custodians.get(gid)
        staff = held[0] if held else None
        entry = orjson.dumps({
            "group_id": gid, "name": group.name, "kind": group.kind, "room": group.room,
            "custodian_staff_id": staff, "custodian_name": staff_name(self.roster, staff),
            "present": self.present_by_group.get(gid, 0),
            "expected": self.facts.expected_by_group.get(gid, 0),
        })  # fmt: skip
        if entry != self.group_entries[g]:
            self.group_entries[g] = entry
            self.changed_groups.add(g)

    # -- answers ---------------------------------------------------------------------

    def students_json(self) -> bytes:
        """Return the students' list, rendered: joined once per change."""
        if self._joined is None:
            self._joined = b"[" + b",".join(e for e in self.entries if e is not None) + b"]"
        return self._joined

    def counts_json(self) -> bytes:
        """Return the counts by state, with the overdue children."""
        return orjson.dumps({**self.counts, "overdue": self.overdue})

    def late_json(self, judged_at: dt.datetime) -> bytes:
        """Return the late pickups' escalation, judged at a moment (kept per stage and change)."""
        stage = late_stage(self.roster.calendar, self.facts.service_end, judged_at)
        key = (stage, self.version if stage >= 2 else 0)
        if self._late is None or self._late[0] != key:
            overdue = (self.facts.rows[i][2] for i, m in enumerate(self.marks) if m[2])
            body = escalation(self.roster, self.facts.service_end, judged_at, overdue)
            self._late = (key, orjson.dumps(body))
        return self._late[1]

    def answer(self, judged_at: dt.datetime, cursor: int) -> bytes:
        """Return the whole presence answer (CONTRACT.md) with the cursor, as JSON bytes."""
        calendar = self.roster.calendar
        head = orjson.dumps({
            "date": self.facts.day.isoformat(),
            "at": judged_at.astimezone(calendar.tz).isoformat(),
            "service_end": self.facts.service_end.isoformat(),
            "dismissal": [
                {"grades": [low, high], "times": [t.strftime("%H:%M") for t in times]}
                for low, high, times in calendar.dismissal
            ],
        })  # fmt: skip
        return b"".join((
            head[:-1], b',"students":', self.students_json(), b',"counts":', self.counts_json(),
            b',"late":', self.late_json(judged_at), b',"groups":[',
            b",".join(self.group_entries), b'],"cursor":', str(cursor).encode(), b"}",
        ))  # fmt: skip

    def entry_of(self, i: int) -> bytes:
        """Return a student's entry; for one not listed now, their identity with state null."""
        entry = self.entries[i]
        if entry is None:
            entry = orjson.dumps({**self.facts.rows[i][2], "state": None, **NOBODY})
        return entry

    def delta(
        self, cursor: int, judged_at: dt.datetime, students: Iterable[int], groups: Iterable[int]
    ) -> bytes:
        """Return a delta of the dashboard stream (README, The dashboard's live stream)."""
        return b"".join((
            b'{"cursor":', str(cursor).encode(), b',"date":"', self.facts.day.isoformat().encode(),
            b'","students":[', b",".join(self.entry_of(i) for i in sorted(students)),
            b'],"groups":[', b",".join(self.group_entries[g] for g in sorted(groups)),
            b'],"counts":', self.counts_json(), b',"late":', self.late_json(judged_at), b"}",
        ))  # fmt: skip

    def touched_by(self, events: Iterable[Event]) -> set[int]:
        """Return the students whose entries events touched: subjects, a group's children."""
        touched: set[int] = set()
        for event in events:
            sid = event.data.get("student_id") if event.kind == CORRECTED else event.subject_id
            i = self.index.get(sid if isinstance(sid, str) else "")
            if i is not None:
                touched.add(i)
            gid = event.data.get("group_id")
            if event.kind == CUSTODY_TAKEN and isinstance(gid, str):
                touched.update(self.members.get(gid, ()))
        return touched

    def take_changes(self) -> tuple[set[int], set[int]]:
        """Return the students and groups changed since last asked, and forget them."""
        changed, groups = self.changed, self.changed_groups
        self.changed, self.changed_groups = set(), set()
        return changed, groups
