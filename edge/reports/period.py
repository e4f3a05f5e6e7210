"""The days a report covers: a month, a term of school.toml, or from and to dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from edge.errors import ReportError
from edge.school.roster import Roster

MAX_DAYS = 400


@dataclass(frozen=True)
class Period:
    """The days a report covers (both ends included) and how to name them."""

    start: dt.date
    end: dt.date
    label: str

    def days(self) -> list[dt.date]:
        """Return every day of the period."""
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


def period(
    roster: Roster,
    *,
    month: str | None = None,
    term: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> Period:
    """Work out a report's period from a month (2026-11), a term's name, or from/to dates."""
    given = [month is not None, term is not None, start is not None or end is not None]
    if sum(given) != 1:
        raise ReportError("name the period: a month (2026-11), a term, or from and to dates")
    if month is not None:
        try:
            first = dt.date.fromisoformat(f"{month.strip()}-01")
        except ValueError as err:
            raise ReportError(f"month '{month}' is not a month like 2026-11") from err
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return Period(first, following - dt.timedelta(days=1), first.strftime("%Y-%m"))
    if term is not None:
        found = roster.calendar.term(term)
        if found is None:
            names = "、".join(t.name for t in roster.calendar.terms)
            hint = f" (school.toml names: {names})" if names else " (school.toml names no terms)"
            raise ReportError(f"there is no term named '{term}'{hint}", 404)
        return Period(found.start, found.end, found.name)
    if start is None or end is None:
        raise ReportError("a period by dates needs both from and to")
    if end < start:
        raise ReportError(f"the period ends ({end}) before it starts ({start})")
    if (end - start).days >= MAX_DAYS:
        raise ReportError(f"a report covers at most {MAX_DAYS} days; ask for a term or a month")
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}")
