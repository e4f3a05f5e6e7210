"""Reports on the district central: one campus's events at a time, or every campus joined.

The central's PostgreSQL store (sync.central) serves as a ``CampusStore``; a report is
made per campus exactly as its hub makes it, and ``district`` joins them, each row led
by its campus.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from edge.errors import ReportError
from edge.reports.catalog import make
from edge.reports.tables import Column, Report, Table
from edge.school.events import Event
from edge.school.roster import Roster


class CampusStore(Protocol):
    """What a report reads of the central's store: campuses, their rosters and events."""

    def campuses(self) -> list[str]:
        """Return the campuses with a roster, in name order."""
        ...

    def campus_roster(self, campus: str) -> Roster:
        """Return a campus's newest roster."""
        ...

    def campus_events(
        self, campus: str, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield a campus's events of the days, day by day in fold order."""
        ...

    def campus_sign_ins(
        self, campus: str, start: dt.date, end: dt.date
    ) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in at a campus in the days."""
        ...


class CentralSource:
    """One campus's events and roster on the district central (PostgreSQL)."""

    def __init__(self, store: CampusStore, campus: str) -> None:
        self._store = store
        self.campus = campus
        self._roster: Roster | None = None

    def roster(self) -> Roster:
        """Return the campus's newest roster."""
        if self._roster is None:
            self._roster = self._store.campus_roster(self.campus)
        return self._roster

    def events(
        self, start: dt.date, end: dt.date, kinds: Iterable[str] | None = None
    ) -> Iterator[Event]:
        """Yield the campus's events of the days, day by day in fold order."""
        return self._store.campus_events(self.campus, start, end, kinds)

    def sign_ins(self, start: dt.date, end: dt.date) -> Iterator[tuple[dt.date, str]]:
        """Yield each (day, student_id) with a sign-in at the campus in the days."""
        return self._store.campus_sign_ins(self.campus, start, end)


def across(
    store: CampusStore,
    name: str,
    campus: str | None,
    *,
    now: dt.datetime,
    tell: Callable[[str], None],
    **asked: Any,
) -> Report:
    """Make a report on the central: one campus's, or every campus's joined into one.

    A campus whose school.toml cannot make the report is left out of the district's
    (``tell`` says so) but fails the report asked of it alone.
    """
    campuses = [campus] if campus else store.campuses()
    if not campuses:
        raise ReportError("the central holds no campus roster yet: nothing to report")
    if len(campuses) > 1 and name in ("supervision", "timeline"):
        raise ReportError(f"the {name} report is about one campus: add --campus NAME")
    made = []
    for each in campuses:
        tell(f"Campus {each} ...")
        try:
            made.append((each, make(name, CentralSource(store, each), now=now, **asked)))
        except ReportError as err:
            if campus:
                raise
            tell(f"  left out: {err}")  # its school.toml differs
    if not made:
        raise ReportError("no campus could make this report (see above)")
    return made[0][1] if campus else district(made)


def district(reports: list[tuple[str, Report]]) -> Report:
    """Join one report per campus into one, each row led by its campus (the central's view)."""
    first = reports[0][1]
    tables = []
    for index, table in enumerate(first.tables):
        joined = Table(
            table.name, table.zh, table.en, [Column("campus", "校区", "Campus"), *table.columns]
        )
        for campus, report in reports:
            joined.rows.extend([campus, *row] for row in report.tables[index].rows)
        tables.append(joined)
    meta = [m for m in first.meta if m[0] in ("统计期间", "起止日期", "计量规则", "迟到判定")]
    meta.append(("校区", "Campuses", "、".join(c for c, _ in reports)))
    return Report(first.name, first.zh, first.en, meta, tables)
