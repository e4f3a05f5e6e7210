"""Where a report reads: the roster in force and the events of a range of days.

A ``Source`` gives them: a node's own ledger (``LedgerSource``: a kiosk, or a hub
with the whole campus) or the district central's PostgreSQL, one campus at a time
(``reports.central.CentralSource``).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from edge.school.events import CORRECTED, SIGNED_IN, Event
from edge.school.fold import effective
from edge.school.roster import Roster
from edge.store.ledger import Ledger

Progress = Callable[[int, int, dt.date], None]


class Source(Protocol):
    """Where a report reads: the roster in force and the events of a range of days."""

    def roster(self) -> Roster:
        """Return the roster in force."""
        ...

    def events(
        self, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield the events of ``start``..``end``, day by day, each day in fold order."""
        ...

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in in the days, in any order."""
        ...


SIGN_IN_KINDS = frozenset({SIGNED_IN, CORRECTED})  # a sign-in, and what may undo it


class LedgerSource:
    """A node's own ledger as a report source: a kiosk's taps, or a hub's whole campus."""

    def __init__(self, ledger: Ledger, roster: Roster | None = None) -> None:
        self._ledger = ledger
        self._roster = roster

    def roster(self) -> Roster:
        """Return the roster in force (the node's live one when it was given)."""
        if self._roster is None:
            self._roster = self._ledger.load_roster()
        return self._roster

    def events(
        self, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield the ledger's events of the days, day by day in fold order.

        Events made on a wrong clock count on the day they are placed on
        (edge.school.placement).
        """
        return self._ledger.iter_days(start, end, kinds, tz=self.roster().calendar.tz)

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in in the days."""
        if not self._ledger.clock_steps():
            return self._ledger.sign_ins(start, end)
        # A kiosk's clock was stepped: its sign-ins count on the day they are placed on.
        seen = {(day, e.subject_id) for day, events in by_day(self, start, end, SIGN_IN_KINDS, None)
                for e in events if e.kind == SIGNED_IN and e.subject_id}  # fmt: skip
        return iter(sorted(seen))


def by_day(
    source: Source,
    start: dt.date,
    end: dt.date,
    kinds: Iterable[str] | None,
    progress: Progress | None,
) -> Iterator[tuple[dt.date, list[Event]]]:
    """Yield (day, events) for every day of the range, empty days included, in order."""
    total = (end - start).days + 1
    stream = itertools.groupby(source.events(start, end, kinds), key=lambda e: e.day)
    pending = next(stream, None)
    for index in range(total):
        day = start + dt.timedelta(days=index)
        events: list[Event] = []
        if pending is not None and pending[0] == day:
            events = effective(pending[1])  # a corrected sign-in or release does not count
            pending = next(stream, None)
        if progress is not None:
            progress(index + 1, total, day)
        yield day, events
