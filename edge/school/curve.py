"""The afternoon as a curve: how many children stood in each state, step by step.

``curve`` folds a day's events once (in fold order, corrections applied, as
edge.school.fold does) and records the counts at every step from the service start
(or the first event, if earlier) to an hour after the service end (or the last event,
if later). The counts at a step are those of the picture as it stood then: every
roster student expected today, on leave, present, released or gone alone; ``signed_in``
is how many have signed in at least once so far; ``overdue`` is the present ones once
the service end has passed. ``CurveCache`` keeps the last curves worked out, by day,
roster and ledger position, so asking again costs nothing until the ledger grows.

Pure apart from the cache: no clock is read; the caller says what "now" is.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import EXPECTED, ON_LEAVE, PRESENT, STATES, DayState, effective
from edge.school.roster import Roster

STEP = dt.timedelta(minutes=5)
AFTER_END = dt.timedelta(hours=1)
SERIES = (*STATES, "signed_in", "overdue")
_MOVES = frozenset({ev.SIGNED_IN, ev.RELEASED, ev.LEFT_ALONE})


@dataclass(frozen=True)
class Curve:
    """The counts of a day at every step from ``start`` to ``end``.

    ``points`` holds (moment, counts) with counts in SERIES order; ``final`` is the
    count after every event (the picture as it stands at the ledger's end).
    """

    day: dt.date
    start: dt.datetime
    end: dt.datetime
    step: dt.timedelta
    service_end: dt.datetime
    points: tuple[tuple[dt.datetime, tuple[int, ...]], ...]
    final: tuple[int, ...]

    def to_json(self, now: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
        """Return the points up to ``now``, and a last point at ``now`` while the day runs."""
        shown = [(at, counts) for at, counts in self.points if at <= now]
        if self.start <= now < self.end and (not shown or shown[-1][0] < now):
            late = now >= self.service_end
            final = self.final if late else (*self.final[:-1], 0)
            shown.append((now, final))
        return {
            "date": self.day.isoformat(),
            "start": self.start.astimezone(tz).isoformat(),
            "end": self.end.astimezone(tz).isoformat(),
            "step_minutes": int(self.step.total_seconds() // 60),
            "service_end": self.service_end.astimezone(tz).isoformat(),
            "series": list(SERIES),
            "points": [
                {"at": at.astimezone(tz).isoformat(), **dict(zip(SERIES, counts, strict=True))}
                for at, counts in shown
            ],
        }


class _Counter:
    """The running counts of roster students by state, as events move them."""

    def __init__(self, roster: Roster, day: dt.date) -> None:
        self.by_state = dict.fromkeys(STATES, 0)
        # Listed today and not seen yet: counted as expected or on leave until seen.
        self.unseen: dict[str, str] = {}
        for sid in roster.students:
            if roster.on_leave(sid, day):
                self.unseen[sid] = ON_LEAVE
            elif roster.expected_groups(sid, day):
                self.unseen[sid] = EXPECTED
        for where in self.unseen.values():
            self.by_state[where] += 1
        self.listed = frozenset(roster.students)
        self.signed_in: set[str] = set()
        self.grouped = 0  # present in a group: overdue once the service end has passed

    def move(self, state: DayState, sid: str, before: str | None, grouped_before: bool) -> None:
        """Count a student's move from ``before`` to where ``state`` now has them."""
        now = state.students.get(sid)
        if now is None or sid not in self.listed:
            return
        if before is None:
            before = self.unseen.pop(sid, None)
        if before is not None:
            self.by_state[before] -= 1
        self.by_state[now.state] += 1
        self.grouped += (now.state == PRESENT and now.group_id is not None) - grouped_before
        if now.state == PRESENT:
            self.signed_in.add(sid)

    def counts(self, late: bool) -> tuple[int, ...]:
        """Return the counts in SERIES order; overdue only once ``late``."""
        by = self.by_state
        return (*(by[s] for s in STATES), len(self.signed_in), self.grouped if late else 0)


def curve(
    roster: Roster, day: dt.date, events: Iterable[Event], step: dt.timedelta = STEP
) -> Curve:
    """Fold a day's events (in fold order) once and return its counts step by step."""
    calendar = roster.calendar
    tz = calendar.tz
    held = effective(events)
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    service_end = calendar.service_end_at(day)
    start = dt.datetime.combine(day, calendar.service_start, tzinfo=tz)
    end = service_end + AFTER_END
    moves = [e for e in held if e.kind in _MOVES]
    if moves:
        start = min(start, min(e.at for e in moves))
        end = max(end, max(e.at for e in moves))
    start = max(midnight, midnight + (start - midnight) // step * step)
    end = min(midnight + dt.timedelta(days=1), midnight + -(-(end - midnight) // step) * step)
    counter = _Counter(roster, day)
    state = DayState(day)
    points: list[tuple[dt.datetime, tuple[int, ...]]] = []
    boundary = start
    for event in held:
        while event.at > boundary and boundary <= end:
            points.append((boundary, counter.counts(boundary >= service_end)))
            boundary += step
        sid = event.subject_id
        if event.kind not in _MOVES or not sid:
            state.apply(event)
            continue
        seen = state.students.get(sid)
        grouped = seen is not None and seen.state == PRESENT and seen.group_id is not None
        state.apply(event)
        if state.students.get(sid) is not seen:
            counter.move(state, sid, seen.state if seen else None, grouped)
    while boundary <= end:
        points.append((boundary, counter.counts(boundary >= service_end)))
        boundary += step
    return Curve(day, start, end, step, service_end, tuple(points), counter.counts(True))


class DayEvents(Protocol):
    """What CurveCache reads: a day's events in fold order, and how far the ledger grew."""

    def iter_day(self, day: dt.date) -> Iterable[Event]: ...  # noqa: D102

    def last_rowid(self) -> int: ...  # noqa: D102


class CurveCache:
    """The curves last asked for, worked out again only once the ledger or roster changed.

    Keeps a few (day, roster, ledger position) keys; one fold at a time (thread-safe).
    """

    KEEP = 3

    def __init__(self, ledger: DayEvents) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        self._kept: dict[tuple[dt.date, int, int, int], Curve] = {}

    def of(self, roster: Roster, day: dt.date) -> tuple[Curve, int]:
        """Return the day's curve as the ledger stands now, and the ledger position."""
        with self._lock:
            rowid = self._ledger.last_rowid()
            key = (day, id(roster), roster.version, rowid)
            found = self._kept.get(key)
            if found is None:
                found = curve(roster, day, self._ledger.iter_day(day))
                self._kept = {k: v for k, v in self._kept.items() if k[0] != day}
                while len(self._kept) >= self.KEEP:
                    self._kept.pop(next(iter(self._kept)))
                self._kept[key] = found
            return found, rowid
