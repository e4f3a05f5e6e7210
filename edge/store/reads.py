"""Reads the HTTP routes make of a node's ledger, beside the Ledger's own.

``student_day`` is one child's events of a day (the timeline); ``DayCache`` keeps what
was worked out from a day's events until the ledger grows (the conflicts every open
dashboard asks for every 15 s: a hub's day is 40,000 events).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from edge.school.events import SELECT_COLUMNS, Event
from edge.store.ledger import Ledger

T = TypeVar("T")


def student_day(ledger: Ledger, student_id: str, day: dt.date) -> list[Event]:
    """Return one child's events of a school day, in fold order."""
    rows = (
        ledger.reader()
        .execute(
            f"SELECT {SELECT_COLUMNS} FROM events WHERE subject_id = ? AND day = ? "  # noqa: S608
            "ORDER BY hlc, node_id, epoch, seq",
            (student_id, day.isoformat()),
        )
        .fetchall()
    )
    return [Event.from_row(row) for row in rows]


class DayCache(Generic[T]):
    """What ``work`` makes of a day's events, worked out again only once the ledger grew.

    One day is kept (the one asked last); thread-safe.
    """

    def __init__(self, ledger: Ledger, work: Callable[[Iterable[Event]], T]) -> None:
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
