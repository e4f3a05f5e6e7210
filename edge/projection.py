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
from dataclasses import dataclass, field
from typing import Any

from edge.clock import Reading
from edge.school import events as ev
from edge.school.events import Event
from edge.school.pickup import CODES as PICKUP_CODES
from edge.school.pickup import PickupBook, Unusable, data_of, fold_book, text
from edge.school.roster import Roster

PRESENT, RELEASED, LEFT_ALONE = "present", "released", "left_alone"
EXPECTED, ON_LEAVE = "expected", "on_leave"
STATES = (EXPECTED, ON_LEAVE, PRESENT, RELEASED, LEFT_ALONE)


@dataclass(frozen=True)
class Context:
    """An open pickup context at a station: who opened it, when, and for whom.

    ``only`` limits it to some children (a one-time code or a pass names one);
    None means every child the roster lets that guardian collect.
    """

    adult_id: str
    at: dt.datetime
    adult_kind: str = "guardian"  # guardian | delegate | pass
    only: frozenset[str] | None = None
    adult_name: str | None = None
    code: str | None = None  # the one-time code that opened it
    valid: tuple[str, str] | None = None  # a pass's dates (from, to), as it carries them
    station: str = ""
    event_id: str | None = None  # the tap that opened it (its reading: DayState.readings)


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
    """The fold of one day's events: students, custodians, pickup contexts, last taps.

    ``local`` names the node whose taps this state decides. What only the reader at a
    station can have seen (an open pickup context, a handover offered, the last taps
    the debounce compares with) is taken from that node's own events alone: a context
    or a tap synced from another node never opens a pickup here, never swallows a card
    here. Where and with whom children are is folded from every node's events.

    ``readings`` maps the id of each of this node's taps made by this process to the
    monotonic reading taken at the tap (clock.Reading). The ledger does not keep them,
    so the Projection hands the same dict to every refold of the day: the debounce, a
    pickup context, a handover offer close by real time (clock.within) however often
    the day is refolded.
    """

    def __init__(
        self, day: dt.date, local: str | None = None, readings: dict[str, Reading] | None = None
    ) -> None:
        self.day = day
        self.local = local
        self.readings: dict[str, Reading] = {} if readings is None else readings
        self.students: dict[str, Presence] = {}
        self.custodians: dict[str, tuple[str, dt.datetime]] = {}
        self.contexts: dict[str, Context] = {}
        # code -> (station, moment) of its first opening in key order: the one that counts
        self.codes_used: dict[str, tuple[str, dt.datetime]] = {}
        # group -> (handing staff, when, the id of the offering tap)
        self.offers: dict[str, tuple[str, dt.datetime, str]] = {}
        self.on_duty: tuple[str, dt.datetime] | None = None  # the last staff at a pickup point
        self.last_taps: dict[tuple[str, str], dt.datetime] = {}
        # (station, card) -> (epoch, seq, event id) of the tap last_taps holds: on this node
        # the last tap is the one made last (seq), which a stepped-back clock may sort
        # earlier; its id finds its monotonic reading (``last_reading``).
        self._last_made: dict[tuple[str, str], tuple[str, int, str]] = {}
        self.last_key: tuple[int, str, str, int] | None = None
        self.skipped: list[tuple[str, str]] = []  # (event id, why): events not applied

    def apply(self, event: Event, mono: tuple[str, float] | None = None) -> None:
        """Move the state forward by one event (which must sort after the last one).

        ``mono`` is the monotonic reading of the tap it records, if taken just now.
        An event it cannot apply (a field missing or of the wrong type) is skipped and
        listed in ``skipped`` with the reason, never raised: nothing in a ledger can
        stop the node.
        """
        if event.kind in (ev.ACTION, ev.CORRECTED):
            return  # a staff action changes no one's place, and does not order taps
        self.last_key = event.key
        mine = self.local is None or event.node_id == self.local
        if mono is not None:
            self.readings[event.event_id] = mono
        if mine and event.card is not None and event.kind in ev.TAP_KINDS and self._later(event):
            self.last_taps[(event.station, event.card)] = event.at
        try:
            self._apply(event, data_of(event), mine)
        except Unusable as err:
            self.skipped.append((event.event_id, f"{event.kind}: {err}"))

    def reading_of(self, event_id: str | None) -> Reading | None:
        """Return the monotonic reading of this node's tap ``event_id``, if this process made it.

        None for a tap of an earlier process: clock.within then counts it as old.
        """
        return self.readings.get(event_id or "")

    def last_reading(self, station: str, card: str) -> Reading | None:
        """Return the monotonic reading of the last tap of ``card`` at ``station``, if any."""
        last = self._last_made.get((station, card))
        return self.readings.get(last[2]) if last is not None else None

    def _later(self, event: Event) -> bool:
        """Tell whether a tap was made after the one last_taps holds for its card there."""
        key, made = (event.station, event.card or ""), (event.epoch, event.seq, event.event_id)
        held = self._last_made.get(key)
        same_chain = self.local is not None and held is not None and held[0] == made[0]
        if same_chain and held is not None and made[1] < held[1]:
            return False
        self._last_made[key] = made
        return True

    def _apply(self, event: Event, data: dict[str, Any], mine: bool) -> None:
        kind, sid = event.kind, event.subject_id
        if not sid:
            return
        if kind == ev.SIGNED_IN:
            group = text(data, "group_id", optional=True)
            self.students[sid] = Presence(
                PRESENT, group, event.at, event.station, reentry=bool(data.get("reentry"))
            )
        elif kind == ev.RELEASED:
            guardian = text(data, "guardian_id", optional=True)
            self.students[sid] = Presence(
                RELEASED, None, event.at, event.station, released_to=guardian
            )
        elif kind == ev.LEFT_ALONE:
            self.students[sid] = Presence(LEFT_ALONE, None, event.at, event.station)
        elif kind == ev.CUSTODY_TAKEN:
            group = text(data, "group_id") or ""
            self.custodians[group] = (sid, event.at)
            self.offers.pop(group, None)
        elif kind == ev.HANDOVER_OFFERED and mine:
            self.offers[text(data, "group_id") or ""] = (sid, event.at, event.event_id)
        elif kind == ev.STAFF_ON_DUTY:
            self.on_duty = (sid, event.at)
        elif kind == ev.PICKUP_OPENED:
            self._open(event, sid, data, mine)

    def _open(self, event: Event, sid: str, data: dict[str, Any], mine: bool) -> None:
        only, valid = data.get("only"), data.get("valid")
        if only is not None and not (
            isinstance(only, list) and all(isinstance(s, str) for s in only)
        ):
            raise Unusable("its 'only' is not a list of student ids")
        if valid is not None and not (
            isinstance(valid, list) and len(valid) == 2 and all(isinstance(v, str) for v in valid)
        ):
            raise Unusable("its 'valid' is not two dates")
        adult_kind = text(data, "adult_kind", optional=True) or "guardian"
        if adult_kind not in ("guardian", "delegate", "pass"):
            raise Unusable(f"its adult_kind {adult_kind[:20]!r} is not guardian, delegate or pass")
        code = text(data, "code", optional=True)
        if code:  # a code used anywhere on the campus is used
            self.codes_used.setdefault(code, (event.station, event.at))
        if not mine:
            return
        self.contexts[event.station] = Context(
            sid, event.at, adult_kind, frozenset(only) if only is not None else None,
            text(data, "delegate_name", optional=True), code,
            (valid[0], valid[1]) if valid else None, event.station, event.event_id,
        )  # fmt: skip

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


def effective(events: Iterable[Event]) -> list[Event]:
    """Return the events that count: without those a later correction undid.

    A correction itself stays in (it changes nothing when applied); the events it
    names are left out wherever they stand in the day. A correction that names no
    event id is ignored (``unusable_corrections`` lists it).
    """
    held = list(events)
    voided = {c for e in held if e.kind == ev.CORRECTED and isinstance(c := _corrects(e), str)}
    if not voided:
        return held
    return [e for e in held if e.event_id not in voided]


def _corrects(event: Event) -> object:
    return event.data.get("corrects") if isinstance(event.data, dict) else None


def unusable_corrections(events: Iterable[Event]) -> list[tuple[str, str]]:
    """Return the corrections among events that name no event id, with the reason."""
    return [
        (e.event_id, "corrected: its 'corrects' is not an event id")
        for e in events
        if e.kind == ev.CORRECTED and not isinstance(_corrects(e), str)
    ]


def fold(
    day: dt.date,
    events: Iterable[Event],
    *,
    presorted: bool = False,
    local: str | None = None,
    readings: dict[str, Reading] | None = None,
) -> DayState:
    """Fold events of one day into a fresh DayState, in key order, corrections applied.

    ``local``: the node whose taps the state will decide; ``readings``: the monotonic
    readings of its taps made by this process (see DayState).
    """
    state = DayState(day, local, readings)
    held = list(events)
    kept = effective(held)
    for event in kept if presorted else sorted(kept, key=lambda e: e.key):
        state.apply(event)
    state.skipped.extend(unusable_corrections(held))
    return state


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
    is_late = judged_at >= facts.service_end
    tz = roster.calendar.tz
    students: list[dict[str, Any]] = []
    counts = dict.fromkeys(STATES, 0)
    seen = state.students
    custodians = state.custodians
    present_by_group: dict[str, int] = {}
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
    stage = late_stage(roster.calendar, facts.service_end, judged_at)
    escalation: dict[str, Any] = {
        "stage": stage,
        "call_from": (facts.service_end + roster.calendar.late_call).astimezone(tz).isoformat(),
        "custody_at": (facts.service_end + roster.calendar.late_custody).astimezone(tz).isoformat(),
        "calls": [],
    }
    if stage >= 2 and overdue:  # the duty leader calls each overdue child's adults
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
            for e in students if e.get("overdue")
        ]  # fmt: skip
    return {
        "date": state.day.isoformat(),
        "at": judged_at.astimezone(tz).isoformat(),
        "service_end": facts.service_end.isoformat(),
        "dismissal": [
            {"grades": [low, high], "times": [t.strftime("%H:%M") for t in times]}
            for low, high, times in roster.calendar.dismissal
        ],
        "students": students,
        "counts": counts,
        "late": escalation,
        "groups": [
            {
                "group_id": g.group_id,
                "name": g.name,
                "kind": g.kind,
                "room": g.room,
                "custodian_staff_id": custodians.get(g.group_id, (None,))[0],
                "custodian_name": _staff_name(roster, custodians.get(g.group_id, (None,))[0]),
                "present": present_by_group.get(g.group_id, 0),
                "expected": facts.expected_by_group.get(g.group_id, 0),
            }
            for g in roster.groups.values()
        ],
    }


def late_stage(calendar: Any, service_end: dt.datetime, moment: dt.datetime) -> int:
    """Return how far late pickups have escalated at a moment (DOMAIN.md, the afternoon).

    0 before the service end; 1 from it (the duty leader gets the list); 2 from
    ``late_call`` after it (the list shows guardians' phones to call); 3 from
    ``late_custody`` after it (the children still here pass to the gate guard).
    """
    if moment < service_end:
        return 0
    if moment < service_end + calendar.late_call:
        return 1
    if moment < service_end + calendar.late_custody:
        return 2
    return 3


def _staff_name(roster: Roster, staff_id: str | None) -> str | None:
    member = roster.staff.get(staff_id or "")
    return member.name if member else None
