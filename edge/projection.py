"""The current picture (who is where, with whom), kept up to date from the ledger.

The ``Projection`` keeps the DayStates (edge.school.fold) of recent days in memory,
applies each committed event as it is appended, and refolds a day from the ledger when
an event arrives that sorts before ones already applied (a synced event from another
node). So the live picture is never a refold per query, and can always be rebuilt.
It keeps the pickup book (delegates, codes, plans) the same way. ``picture`` shapes a
day's state as the presence answer of CONTRACT.md.

Thread safety: the writer thread applies events while request threads read pictures;
both hold ``Projection.lock``. A DayState itself is not thread-safe.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from edge.clock import Reading
from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import EXPECTED, ON_LEAVE, PRESENT, STATES, DayState, Presence, fold
from edge.school.pickup import CODES as PICKUP_CODES
from edge.school.pickup import PickupBook, Plan, fold_book
from edge.school.placement import CLOCK_STEPPED
from edge.school.roster import Roster
from edge.school.rules import late_stage


class Projection:
    """The live pictures of recent days, updated as events are committed."""

    KEEP_DAYS = 3

    def __init__(
        self,
        load_day: Callable[[dt.date], Iterable[Event]],
        load_actions: Callable[[], Iterable[Event]] = lambda: (),
        local: str | None = None,
    ) -> None:
        self.lock = threading.RLock()
        self.local = local  # the node whose taps these states decide (see DayState)
        self._load_day = load_day
        self._load_actions = load_actions
        self._book: PickupBook | None = None
        self._days: OrderedDict[dt.date, DayState] = OrderedDict()
        self._facts: dict[tuple[int, int, dt.date], DayRoster] = {}
        # The monotonic readings of this process's taps, by day and event id, handed to
        # every fold of the day (the ledger does not keep them; see DayState).
        self._readings: dict[dt.date, dict[str, Reading]] = {}

    def day(self, day: dt.date) -> DayState:
        """Return the live state of ``day``, folding it from the ledger on first use."""
        with self.lock:
            state = self._days.get(day)
            if state is None:
                readings = self._readings.setdefault(day, {})
                state = fold(day, self._load_day(day), presorted=True, local=self.local,
                             readings=readings)  # fmt: skip
                self._days[day] = state
                while len(self._days) > self.KEEP_DAYS:
                    self._days.popitem(last=False)
            else:
                self._days.move_to_end(day)
            return state

    @property
    def book(self) -> PickupBook:
        """Return the pickup book (delegates, codes), folded from the ledger on first use."""
        with self.lock:
            if self._book is None:
                self._book = fold_book(list(self._load_actions()))
            return self._book

    def add(self, event: Event, mono: tuple[str, float] | None = None) -> None:
        """Apply a committed event; refold its day if it sorts before what is applied.

        ``mono`` is the monotonic reading of the tap the event records (see DayState).
        """
        if event.kind == ev.ACTION and event.code == CLOCK_STEPPED:
            self.forget()  # its kiosk's unsynced events move to where they belong
            return
        if event.kind == ev.ACTION:
            with self.lock:
                book = self._book
                if book is not None and event.code in PICKUP_CODES:
                    if book.last_key is None or event.key > book.last_key:
                        book.apply(event)
                    else:
                        self._book = None  # refolded in key order when next needed
            return
        if event.kind == ev.CORRECTED:
            self.forget(event.day)  # the corrected event is left out when refolded
            return
        with self.lock:
            if mono is not None:
                self._readings.setdefault(event.day, {})[event.event_id] = mono
                for old in [d for d in self._readings if d < event.day - dt.timedelta(days=1)]:
                    del self._readings[old]  # windows of seconds: yesterday's are enough
            state = self._days.get(event.day)
            if state is None:
                return  # folded from the ledger, which holds the event, when first needed
            if state.last_key is None or event.key > state.last_key:
                state.apply(event, mono)
            else:
                self.forget(event.day)  # refolded in key order when next needed

    def skipped(self, day: dt.date) -> list[tuple[str, str]]:
        """Return the events the fold of a day and the book could not apply: (id, why)."""
        with self.lock:
            return [*self.day(day).skipped, *self.book.skipped]

    def picture(self, roster: Roster, day: dt.date, now: dt.datetime) -> dict[str, Any]:
        """Return the presence answer of a day as it stands now, from the live state."""
        with self.lock:
            return picture(roster, self.day(day), now, self.facts(roster, day))

    def room(self, roster: Roster, group_id: str, day: dt.date) -> Room:
        """Return how a group stands on a day: who is present, who has custody, the plans."""
        with self.lock:
            state = self.day(day)
            present = len(state.present_in(group_id))
            held = state.custodians.get(group_id)
            expected = roster.expected_in_group(group_id, day)
            plans = self.book.plans
            planned = [(sid, plan) for sid in expected
                       if (plan := plans.get((sid, day))) is not None]  # fmt: skip
        return Room(present, len(expected), held[0] if held else None, planned)

    def facts(self, roster: Roster, day: dt.date) -> DayRoster:
        """Return the roster's facts for a day, computed once per roster and day."""
        key = (id(roster), roster.version, day)
        facts = self._facts.get(key)
        if facts is None:
            facts = day_roster(roster, day)
            if len(self._facts) > 8:
                self._facts.clear()
            self._facts[key] = facts
        return facts

    def forget(self, day: dt.date | None = None) -> None:
        """Drop the in-memory state of a day (or of all days) so it refolds from the ledger."""
        with self.lock:
            for gone in list(self._days) if day is None else [day]:
                self._days.pop(gone, None)
            if day is None:
                self._book = None


@dataclass(frozen=True)
class Room:
    """How one group stands on a day, as its classroom screen shows it."""

    present: int
    expected: int
    custodian: str | None  # the staff id holding custody, if anyone does
    plans: list[tuple[str, Plan]]  # today's pickup plans of the group's children


def picture_at(
    roster: Roster, day: dt.date, at: dt.datetime, events: Iterable[Event]
) -> dict[str, Any]:
    """Return the presence answer of a day as it stood at ``at``, refolded from its events.

    The live state is left alone: ``events`` are the day's up to ``at``, in fold order.
    """
    return picture(roster, fold(day, events, presorted=True), at)


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
    entries: dict[str, tuple[Presence, str | None, bool, dict[str, Any]]] = field(
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
            unseen = {**ident, "state": ON_LEAVE, **_NOBODY, "expected_groups": groups}
        elif groups:
            unseen = {**ident, "state": EXPECTED, **_NOBODY, "expected_groups": groups}
        rows.append((sid, unseen, ident))
    return DayRoster(
        day,
        tuple(rows),
        {g: len(roster.expected_in_group(g, day)) for g in roster.groups},
        roster.calendar.service_end_at(day),
        roster.calendar.tz,
    )


_NOBODY = {"group_id": None, "custodian_staff_id": None, "released_to": None, "since": None,
           "overdue": False}  # fmt: skip


def picture(
    roster: Roster, state: DayState, judged_at: dt.datetime, facts: DayRoster | None = None
) -> dict[str, Any]:
    """Return the presence answer of CONTRACT.md for one day, judged at a moment."""
    facts = facts if facts is not None and facts.day == state.day else day_roster(roster, state.day)
    tally = _tally(state, facts, judged_at >= facts.service_end)
    custodians = state.custodians
    return {
        "date": state.day.isoformat(),
        "at": judged_at.astimezone(roster.calendar.tz).isoformat(),
        "service_end": facts.service_end.isoformat(),
        "dismissal": [
            {"grades": [low, high], "times": [t.strftime("%H:%M") for t in times]}
            for low, high, times in roster.calendar.dismissal
        ],
        "students": tally.students,
        "counts": tally.counts,
        "late": _escalation(roster, facts, judged_at, tally),
        "groups": [
            {
                "group_id": g.group_id,
                "name": g.name,
                "kind": g.kind,
                "room": g.room,
                "custodian_staff_id": custodians.get(g.group_id, (None,))[0],
                "custodian_name": _staff_name(roster, custodians.get(g.group_id, (None,))[0]),
                "present": tally.present_by_group.get(g.group_id, 0),
                "expected": facts.expected_by_group.get(g.group_id, 0),
            }
            for g in roster.groups.values()
        ],
    }


@dataclass
class _Tally:
    """The students' entries of a picture and what they add up to."""

    students: list[dict[str, Any]]
    counts: dict[str, int]
    present_by_group: dict[str, int]


def _tally(state: DayState, facts: DayRoster, is_late: bool) -> _Tally:
    """List every student's entry in roster order, counting states and overdue children."""
    tally = _Tally([], dict.fromkeys(STATES, 0), {})
    students, counts, present_by_group = tally.students, tally.counts, tally.present_by_group
    seen = state.students
    custodians = state.custodians
    overdue = 0
    for sid, unseen, ident in facts.rows:
        presence = seen.get(sid)
        if presence is None:
            if unseen is not None:
                counts[unseen["state"]] += 1
                students.append(unseen)
            continue
        current = presence.state
        custodian = None
        late = False
        if current == PRESENT and presence.group_id is not None:
            group = presence.group_id
            present_by_group[group] = present_by_group.get(group, 0) + 1
            held = custodians.get(group)
            custodian = held[0] if held else None
            late = is_late
            overdue += late
        counts[current] += 1
        # The entry is reused while presence, custodian and lateness are unchanged:
        # between two requests only the students who tapped need a new one.
        cached = facts.entries.get(sid)
        if cached is not None and cached[0] is presence and cached[1:3] == (custodian, late):
            students.append(cached[3])
            continue
        entry = {
            **ident, "state": current, "group_id": presence.group_id,
            "custodian_staff_id": custodian, "released_to": presence.released_to,
            "since": facts.local_text(presence.since), "overdue": late,
            "station": presence.station,
        }  # fmt: skip
        facts.entries[sid] = (presence, custodian, late, entry)
        students.append(entry)
    counts["overdue"] = overdue
    return tally


def _escalation(
    roster: Roster, facts: DayRoster, judged_at: dt.datetime, tally: _Tally
) -> dict[str, Any]:
    """Return how far late pickups have gone, with the calls to make from stage 2."""
    calendar = roster.calendar
    stage = late_stage(calendar, facts.service_end, judged_at)
    escalation: dict[str, Any] = {
        "stage": stage,
        "call_from": (facts.service_end + calendar.late_call).astimezone(calendar.tz).isoformat(),
        "custody_at": (facts.service_end + calendar.late_custody)
        .astimezone(calendar.tz)
        .isoformat(),
        "calls": [],
    }
    if stage >= 2 and tally.counts["overdue"]:  # the duty leader calls each overdue child's adults
        adults: dict[str, list[dict[str, str]]] = {}
        for (sid, gid), right in roster.pickup.items():
            guardian = roster.guardians.get(gid)
            if right.allowed and guardian is not None:
                adults.setdefault(sid, []).append(
                    {"name": guardian.name, "phone": guardian.phone, "relation": right.relation}
                )
        escalation["calls"] = [
            {"student_id": e["student_id"], "name": e["name"],
             "guardians": adults.get(e["student_id"], [])}
            for e in tally.students if e.get("overdue")
        ]  # fmt: skip
    return escalation


def _staff_name(roster: Roster, staff_id: str | None) -> str | None:
    """Return the name of a member of staff, if the roster knows them."""
    member = roster.staff.get(staff_id or "")
    return member.name if member else None


class DayLog(Protocol):
    """What DayCache reads: a day's events, and how far the ledger has grown."""

    def iter_day(self, day: dt.date) -> Iterable[Event]: ...  # noqa: D102

    def last_rowid(self) -> int: ...  # noqa: D102


T = TypeVar("T")


class DayCache(Generic[T]):
    """What ``work`` makes of a day's events, worked out again only once the ledger grew.

    One day is kept (the one asked last); thread-safe.
    """

    def __init__(self, ledger: DayLog, work: Callable[[Iterable[Event]], T]) -> None:
        self._ledger = ledger
        self._work = work
        self._lock = threading.Lock()
        self._kept: tuple[tuple[dt.date, int], T] | None = None

    def of(self, day: dt.date) -> T:
        """Return what ``work`` makes of the day's events as the ledger stands now."""
        key = (day, self._ledger.last_rowid())
        with self._lock:
            if self._kept is None or self._kept[0] != key:
                self._kept = (key, self._work(self._ledger.iter_day(day)))
            return self._kept[1]
