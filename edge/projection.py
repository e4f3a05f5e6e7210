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
import gc
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from edge.clock import Reading
from edge.picture import DayRoster, View, day_roster, escalation, staff_name
from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import PRESENT, STATES, DayState, fold
from edge.school.pickup import CODES as PICKUP_CODES
from edge.school.pickup import PickupBook, Plan, fold_book
from edge.school.placement import CLOCK_STEPPED
from edge.school.roster import Roster
from edge.school.rules import late_stage


class Projection:
    """The live pictures of recent days, updated as events are committed."""

    KEEP_DAYS = 3
    freeze_gc = False  # serve: freeze what a new day's View built (see edge.cli.serve)

    def __init__(
        self,
        load_day: Callable[[dt.date], Iterable[Event]],
        load_actions: Callable[[], Iterable[Event]] = lambda: (),
        local: str | None = None,
        last_rowid: Callable[[], int] = lambda: 0,
        load_after: Callable[[int, int, int], list[Event]] = lambda after, limit, upto: [],
    ) -> None:
        self.lock = threading.RLock()
        self._last_rowid = last_rowid  # the ledger's newest rowid
        self._load_after = load_after  # (after, limit, upto): events in ledger order
        self._cursor: int | None = None  # the rowid of the last event reflected
        self._views: OrderedDict[dt.date, View] = OrderedDict()
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
        The event's ``rowid`` moves the cursor (what the pictures reflect).
        """
        if event.rowid is not None:
            with self.lock:
                self._cursor = max(self.cursor, event.rowid)
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
                view = self._views.get(event.day)
                if view is not None and view.state is state:
                    view.touch(event)
            else:
                self.forget(event.day)  # refolded in key order when next needed

    def skipped(self, day: dt.date) -> list[tuple[str, str]]:
        """Return the events the fold of a day and the book could not apply: (id, why)."""
        with self.lock:
            return [*self.day(day).skipped, *self.book.skipped]

    @property
    def cursor(self) -> int:
        """Return the ledger rowid of the last event the pictures reflect (0: none)."""
        with self.lock:
            if self._cursor is None:
                self._cursor = self._last_rowid()
            return self._cursor

    def picture(self, roster: Roster, day: dt.date, now: dt.datetime) -> dict[str, Any]:
        """Return the presence answer of a day as it stands now, from the live state."""
        with self.lock:
            return picture(roster, self.day(day), now, self.facts(roster, day))

    def picture_json(self, roster: Roster, day: dt.date, now: dt.datetime) -> bytes:
        """Return the presence answer of a day now, with ``cursor``: joined from kept bytes."""
        with self.lock:
            return self.view(roster, day, now).answer(now, self.cursor)

    def view(self, roster: Roster, day: dt.date, now: dt.datetime) -> View:
        """Return the kept presence answer of a day, brought up to the state and moment.

        A refolded day, or the service end passed (everyone present turns overdue),
        renders every entry once and keeps what changed; a new roster starts over.
        ``reload`` says why screens must refetch (None while deltas can carry it).
        """
        with self.lock:
            state = self.day(day)
            facts = self.facts(roster, day)
            late = now >= facts.service_end
            view = self._views.get(day)
            if view is None or view.roster is not roster:
                fresh = View(roster, facts, state, late)
                if view is not None:
                    fresh.reload = "roster"
                view = self._views[day] = fresh
                while len(self._views) > self.KEEP_DAYS:
                    self._views.popitem(last=False)
                if self.freeze_gc:  # it lives all day: the cyclic GC need not walk it again
                    gc.freeze()  # (full collections over it were presence's 85 ms spikes)
            elif view.state is not state or view.late != late:
                if view.late != late:
                    view.reload = "service_end"
                view.rebuild(state, late)
            self._views.move_to_end(day)
            return view

    def changes(self, roster: Roster, day: dt.date, now: dt.datetime) -> Change | None:
        """Return what changed in a day's picture since last asked, and forget it.

        ("delta", JSON) with the changed entries and groups (README, The dashboard's live stream),
        ("reload", reason) when screens must refetch, or None when nothing changed.
        Only for a day whose picture was asked (a screen holds it); else None.
        """
        with self.lock:
            if day not in self._views:
                return None
            view = self.view(roster, day, now)
            students, groups = view.take_changes()
            stage = late_stage(roster.calendar, view.facts.service_end, now)
            moved, view.stage = view.stage is not None and view.stage != stage, stage
            if view.reload or moved:
                reason, view.reload = view.reload or "late_stage", None
                return Change.reload(reason)
            if not students and not groups:
                return None
            return Change("delta", view.delta(self.cursor, now, students, groups), self.cursor)

    def forget_changes(self) -> None:
        """Forget what changed (no screen is listening): the next delta starts from now."""
        with self.lock:
            for view in self._views.values():
                view.take_changes()
                view.reload = view.stage = None

    def bridge(
        self, roster: Roster, day: dt.date, now: dt.datetime, since: int, most: int = 5000
    ) -> tuple[int, Change | None]:
        """Return (cursor, what brings a picture at cursor ``since`` up to now).

        ("delta", JSON): the current entries of every child and group the ledger's
        events after ``since`` touched; None when nothing happened since; ("reload",
        reason) when it cannot be bridged: a cursor ahead of the ledger or unknown,
        of another day, or more than ``most`` events behind.
        """
        cursor = self.cursor
        if since > cursor or since < 0:
            return cursor, Change.reload("cursor")
        if since == cursor:
            return cursor, None
        # Read without the lock (the writer goes on): the entries below are taken as they
        # stand later still; a delta committed meanwhile has a cursor past this one and
        # is queued for the stream after this one, so the stream ends where the ledger is.
        held = self._load_after(max(since - 1, 0), most + 2, cursor)
        if since > 0 and (not held or held[0].rowid != since or held[0].day != day):
            return cursor, Change.reload("cursor")
        events = [e for e in held if e.rowid != since]
        if len(events) > most:
            return cursor, Change.reload("behind")
        with self.lock:
            view = self.view(roster, day, now)  # a reload it asks for goes to every screen
            touched = view.touched_by(e for e in events if e.day == day)
            groups = range(len(view.group_ids))  # all: a moved child changed a count anywhere
            return cursor, Change("delta", view.delta(cursor, now, touched, groups), cursor)

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
                self._days.pop(gone, None)  # its View (if any) rebuilds and keeps what differs
            if day is None:
                self._book = None
                self._cursor = None  # a rolled-back write's rowids are used again


@dataclass(frozen=True)
class Change:
    """What screens are told of a picture: a ``delta`` (JSON, up to ``cursor``) or a ``reload``."""

    kind: str  # delta | reload
    data: bytes  # the event's JSON
    cursor: int = 0  # the delta's SSE id; 0 for a reload

    @classmethod
    def reload(cls, reason: str) -> Change:
        """Return a reload, saying why (day, service_end, late_stage, roster, cursor, behind)."""
        return cls("reload", b'{"reason":"' + reason.encode() + b'"}')


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
        "late": escalation(
            roster, facts.service_end, judged_at, (e for e in tally.students if e.get("overdue"))
        ),
        "groups": [
            {
                "group_id": g.group_id,
                "name": g.name,
                "kind": g.kind,
                "room": g.room,
                "custodian_staff_id": custodians.get(g.group_id, (None,))[0],
                "custodian_name": staff_name(roster, custodians.get(g.group_id, (None,))[0]),
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
