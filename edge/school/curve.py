"""The afternoon as a curve: how many children stood in each state, step by step.

``DayCurve`` folds a day's moves (sign-ins, releases, walks home; in fold order,
corrections applied, as edge.school.fold does) and records the counts at every step
from the service start (or the first move, if earlier) to an hour after the service
end (or the last move, if later). The counts at a step are those of the picture as it
stood then: every roster student expected today, on leave, present, released or gone
alone; ``signed_in`` is how many have signed in at least once so far; ``overdue`` is
the present ones (in a group) once the service end has passed.

``CurveCache`` keeps one day's fold and moves it forward with the events the ledger
gained since (its rowid), so a curve costs what changed; it folds the day again only
when an event sorts before what it has, a correction arrives, or the roster changed.

No clock is read; the caller says what "now" is.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from edge.school import events as ev
from edge.school.events import Event
from edge.school.fold import EXPECTED, LEFT_ALONE, ON_LEAVE, PRESENT, RELEASED, STATES, effective
from edge.school.placement import CLOCK_STEPPED
from edge.school.roster import Roster

STEP = dt.timedelta(minutes=5)
AFTER_END = dt.timedelta(hours=1)
SERIES = (*STATES, "signed_in", "overdue")
MOVES = {ev.SIGNED_IN: PRESENT, ev.RELEASED: RELEASED, ev.LEFT_ALONE: LEFT_ALONE}
BRIDGE = 5000  # more new events than this: fold the day again rather than step through


class DayCurve:
    """The counts of one day, folded move by move; ``add`` moves it forward."""

    def __init__(self, roster: Roster, day: dt.date, step: dt.timedelta = STEP) -> None:
        tz = roster.calendar.tz
        self.day, self.step = day, step
        self.midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
        self.service_end = roster.calendar.service_end_at(day)
        self.start = self._floor(dt.datetime.combine(day, roster.calendar.service_start, tzinfo=tz))
        self.end = self._ceil(self.service_end + AFTER_END)
        self.boundary = self.start  # the next step to record
        self.points: list[tuple[dt.datetime, tuple[int, ...]]] = []
        self.last_key: tuple[int, str, str, int] | None = None
        self.by_state = dict.fromkeys(STATES, 0)
        # where each student counts now: (state, present in a group)
        self.where: dict[str, tuple[str, bool]] = {}
        for sid in roster.students:
            if roster.on_leave(sid, day):
                self.where[sid] = (ON_LEAVE, False)
            elif roster.expected_groups(sid, day):
                self.where[sid] = (EXPECTED, False)
        for state, _ in self.where.values():
            self.by_state[state] += 1
        self.listed = frozenset(roster.students)
        self.signed_in: set[str] = set()
        self.grouped = 0

    def _floor(self, moment: dt.datetime) -> dt.datetime:
        return max(self.midnight, self.midnight + (moment - self.midnight) // self.step * self.step)

    def _ceil(self, moment: dt.datetime) -> dt.datetime:
        steps = -(-(moment - self.midnight) // self.step)
        return min(self.midnight + dt.timedelta(days=1), self.midnight + steps * self.step)

    def counts(self, late: bool) -> tuple[int, ...]:
        """Return the counts now in SERIES order; overdue only once ``late``."""
        by = self.by_state
        return (*(by[s] for s in STATES), len(self.signed_in), self.grouped if late else 0)

    def add(self, event: Event) -> None:
        """Move the counts forward by one event of the day, sorting after the last one."""
        state = MOVES.get(event.kind)
        sid = event.subject_id
        if state is None or not sid:
            return
        group = event.data.get("group_id") if isinstance(event.data, dict) else None
        if state == PRESENT and not (group is None or isinstance(group, str)):
            return  # the fold skips it (edge.school.fold: Unusable)
        self.last_key = event.key
        if not self.points and event.at < self.boundary:
            self.start = self.boundary = self._floor(event.at)  # a move before the service
        self.end = max(self.end, self._ceil(event.at))
        while event.at > self.boundary and self.boundary <= self.end:
            self.points.append((self.boundary, self.counts(self.boundary >= self.service_end)))
            self.boundary += self.step
        if sid not in self.listed:
            return  # the picture lists roster students only
        before, was_grouped = self.where.get(sid, (None, False))
        grouped = state == PRESENT and bool(group)
        if before is not None:
            self.by_state[before] -= 1
        self.by_state[state] += 1
        self.where[sid] = (state, grouped)
        self.grouped += grouped - was_grouped
        if state == PRESENT:
            self.signed_in.add(sid)

    def to_json(self, now: dt.datetime, tz: dt.tzinfo) -> dict[str, Any]:
        """Return the points up to ``now`` and, while the day runs, a last point at ``now``."""
        shown = [(at, counts) for at, counts in self.points if at <= now]
        moment = self.boundary
        while moment <= min(now, self.end):  # no move since: the counts as they are
            shown.append((moment, self.counts(moment >= self.service_end)))
            moment += self.step
        if self.start <= now < self.end and (not shown or shown[-1][0] < now):
            shown.append((now, self.counts(now >= self.service_end)))
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


def curve(roster: Roster, day: dt.date, events: Iterable[Event]) -> DayCurve:
    """Fold a day's events (in fold order; corrections among them applied) into a curve."""
    folded = DayCurve(roster, day)
    for event in effective(events):
        folded.add(event)
    return folded


class DayEvents(Protocol):
    """What CurveCache reads: a day's events in fold order, what came after a rowid."""

    def iter_days(  # noqa: D102
        self,
        start: dt.date,
        end: dt.date,
        kinds: Iterable[str] | None = None,
        until: dt.datetime | None = None,
        tz: dt.tzinfo | None = None,
    ) -> Iterable[Event]: ...

    def events_after(self, cursor: int, limit: int) -> Sequence[Event]: ...  # noqa: D102

    def last_rowid(self) -> int: ...  # noqa: D102


class CurveCache:
    """The curves of the last few days asked, moved forward with the ledger's new events.

    Thread-safe: one request at a time folds or moves a curve.
    """

    KEEP_DAYS = 4

    def __init__(self, ledger: DayEvents) -> None:
        self._ledger = ledger
        self._lock = threading.Lock()
        # day -> (roster id and version, the ledger rowid folded up to, the curve)
        self._kept: OrderedDict[dt.date, tuple[tuple[int, int], int, DayCurve]] = OrderedDict()
        self.folds = 0  # how many times a day was folded whole (for tests and benches)

    def answer(self, roster: Roster, day: dt.date, now: dt.datetime) -> dict[str, Any]:
        """Return the day's curve as the ledger stands now, with ``cursor`` (its rowid)."""
        with self._lock:
            rowid, folded = self._current(roster, day)
            answer = folded.to_json(now, roster.calendar.tz)
        answer["cursor"] = rowid
        return answer

    def _current(self, roster: Roster, day: dt.date) -> tuple[int, DayCurve]:
        key = (id(roster), roster.version)
        rowid = self._ledger.last_rowid()
        kept = self._kept.get(day)
        if kept is not None and kept[0] == key and kept[1] <= rowid:
            folded = kept[2]
            if kept[1] == rowid or self._step(folded, kept[1], rowid):
                self._keep(day, (key, rowid, folded))
                return rowid, folded
        kinds = [*MOVES, ev.CORRECTED]
        # Placed as presence places them: a wrong-clock kiosk's taps on their real day.
        events = self._ledger.iter_days(day, day, kinds=kinds, tz=roster.calendar.tz)
        folded = curve(roster, day, events)
        self.folds += 1
        self._keep(day, (key, rowid, folded))
        return rowid, folded

    def _keep(self, day: dt.date, kept: tuple[tuple[int, int], int, DayCurve]) -> None:
        self._kept[day] = kept
        self._kept.move_to_end(day)
        while len(self._kept) > self.KEEP_DAYS:
            self._kept.popitem(last=False)

    def _step(self, folded: DayCurve, since: int, upto: int) -> bool:
        """Add the events after ``since``; False if the day must be folded again."""
        if upto - since > BRIDGE:
            return False
        after = self._ledger.events_after(since, BRIDGE + 1)
        if any(e.kind == ev.ACTION and e.code == CLOCK_STEPPED for e in after):
            return False  # a kiosk's taps move to where they belong: fold the day again
        fresh = [e for e in after
                 if e.day == folded.day and e.rowid is not None and e.rowid <= upto]  # fmt: skip
        if any(e.kind == ev.CORRECTED for e in fresh):
            return False
        moves = [e for e in fresh if e.kind in MOVES]
        last = folded.last_key
        if any(last is not None and e.key <= last for e in moves):
            return False  # sorts before what is folded (synced from another node)
        for event in sorted(moves, key=lambda e: e.key):
            folded.add(event)
        return True
