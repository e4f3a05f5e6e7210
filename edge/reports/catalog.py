"""The reports by name, and making one from what the caller asked (CLI options or query)."""

from __future__ import annotations

import datetime as dt

from edge.errors import ReportError
from edge.reports.attendance import attendance
from edge.reports.duty import duty
from edge.reports.parents import parents
from edge.reports.period import period
from edge.reports.source import Progress, Source
from edge.reports.supervision import supervision
from edge.reports.tables import Report
from edge.reports.timeline import timeline
from edge.reports.workload import workload

NAMES = ("attendance", "workload", "supervision", "timeline", "parents", "duty")


def make(
    name: str,
    source: Source,
    *,
    now: dt.datetime,
    month: str | None = None,
    term: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    date: dt.date | None = None,
    group: str | None = None,
    student: str | None = None,
    progress: Progress | None = None,
) -> Report:
    """Make the named report from what the caller asked for (CLI options or query).

    ``now`` decides which days are over: a day counts in attendance and workload once
    its service has ended, and a child not yet come today is "not yet arrived" in the
    supervision record rather than absent.
    """
    if name not in NAMES:
        raise ReportError(f"there is no report '{name}'; the reports are {', '.join(NAMES)}", 404)
    roster = source.roster()
    calendar = roster.calendar
    today = calendar.day_of(now)
    through = today if now >= calendar.service_end_at(today) else today - dt.timedelta(days=1)
    if name == "duty":
        day = date or today
        return duty(source, day, over=day <= through, now=now)
    if name in ("supervision", "timeline"):
        day = date or today
        if name == "supervision":
            if not group:
                raise ReportError("the supervision record is per group: name the group")
            return supervision(source, day, group, over=day <= through)
        if not student:
            raise ReportError("the timeline is one child's day: name the student")
        return timeline(source, day, student)
    if month is None and term is None and start is None and end is None:
        month = (date or today).strftime("%Y-%m")  # this month, when nothing is said
    span = period(roster, month=month, term=term, start=start, end=end)
    build = {"attendance": attendance, "workload": workload, "parents": parents}[name]
    return build(source, span, through, progress)
