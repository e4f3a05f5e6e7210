"""The fold of one school day: who is where and with whom, from the day's events.

A ``DayState`` is the fold of one school day's events in key order; ``apply`` moves it
forward by one event, and ``fold`` builds one from a day's events with the corrections
applied. Pure: no clock is read and nothing is stored (edge.projection keeps the live
states of recent days). A DayState itself is not thread-safe.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from edge.clock import Reading
from edge.school import events as ev
from edge.school.events import Event
from edge.school.pickup import Unusable, data_of, text
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
        # outside instructor -> "in" or "out", their last gate tap (every node's: 门卫登记)
        self.gate: dict[str, str] = {}
        self.last_taps: dict[tuple[str, str], dt.datetime] = {}
        # (station, card) -> (epoch, seq, event id) of the tap last_taps holds: on this node
        # the last tap is the one made last (seq), which a stepped-back clock may sort
        # earlier; its id finds its monotonic reading (``last_reading``).
        self._last_made: dict[tuple[str, str], tuple[str, int, str]] = {}
        self.last_key: tuple[int, str, str, int] | None = None
        # Patrol: every node's visits (rounds merge on the hub), and on this node, by
        # station, the last patrol-role staff tap there (staff, when, event id), which a
        # second tap or the screen's confirm turns into custody, or a tag attributes to.
        self.patrol: list[Event] = []
        self.patrol_staff: dict[str, tuple[str, dt.datetime, str]] = {}
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
        if mine and event.subject_kind == "staff" and event.subject_id:
            for station, held in list(self.patrol_staff.items()):
                if held[0] == event.subject_id and station != event.station:
                    del self.patrol_staff[station]  # moved on: nobody confirms for them there
        if event.kind == ev.PATROL_VISIT and event.outcome == ev.ACCEPTED:
            self.patrol.append(event)
            if mine and event.subject_id and "group_id" in event.data:
                self.patrol_staff[event.station] = (event.subject_id, event.at, event.event_id)
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
            self.patrol_staff.pop(event.station, None)  # a visit taken over is done with
        elif kind == ev.HANDOVER_OFFERED and mine:
            self.offers[text(data, "group_id") or ""] = (sid, event.at, event.event_id)
        elif kind == ev.STAFF_ON_DUTY and data.get("gate") in ("in", "out"):
            self.gate[sid] = str(data["gate"])  # an instructor at the gate is not on duty
        elif kind == ev.STAFF_ON_DUTY:
            self.on_duty = (sid, event.at)
            if mine:  # a checkpoint tag tapped here next is attributed to them (rules)
                self.patrol_staff[event.station] = (sid, event.at, event.event_id)
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
