"""Dismissal plans (放学安排): how and when a child goes home on a day.

Today's plan closes at the school's cut-off (calendar ``plan_cutoff``); after it the
class teacher and the gate are told instead. A child leaves alone only with written
consent (students.csv walk_alone); a pickup point must be one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from edge.actions.desk import VIEW_ROLES, Desk
from edge.errors import TapError
from edge.school import auth
from edge.school.calendar import CalendarError, parse_time
from edge.school.pickup import PLAN_SET
from edge.school.proof import GRANT_ROLES


def set_plan(
    desk: Desk,
    who: auth.Principal,
    student_id: str,
    day: dt.date | None = None,
    *,
    batch: str | None = None,
    point: str | None = None,
    mode: str = "guardian",
    club_until: str | None = None,
) -> dict[str, Any]:
    """Set a child's plan for ``day`` (today); return what was recorded."""
    auth.require(who, GRANT_ROLES, full=True)
    student = desk.student(student_id)
    calendar = desk.roster.calendar
    today, now = desk.today(), desk.now()
    day = day or today
    cutoff = dt.datetime.combine(today, calendar.plan_cutoff, calendar.tz)
    if day < today or (day == today and now >= cutoff):
        raise TapError(
            f"the plan for {day} can no longer change: today's plans close at "
            f"{calendar.plan_cutoff:%H:%M} (school setting plan_cutoff); "
            "tell the class teacher and the gate instead", 409)  # fmt: skip
    if point is not None:
        desk.pickup_station(point)
    if mode == "alone" and not student.walk_alone:
        raise TapError(f"{student.name} has no written consent to leave alone "
                       "(students.csv walk_alone)", 409)  # fmt: skip
    for text, name in ((batch, "batch"), (club_until, "club_until")):
        if text is not None:
            try:
                parse_time(text, name)
            except CalendarError as err:
                raise TapError(str(err)) from err
    data = {"student_id": student_id, "date": day.isoformat(), "batch": batch,
            "point": point, "mode": mode, "club_until": club_until}  # fmt: skip
    desk.record(PLAN_SET, data, who)
    return data


def plan_of(
    desk: Desk, who: auth.Principal, student_id: str, day: dt.date | None = None
) -> dict[str, Any] | None:
    """Return a child's plan for ``day`` (today), None when none was set."""
    auth.require(who, VIEW_ROLES)
    desk.student(student_id)
    plan = desk.projection.book.plans.get((student_id, day or desk.today()))
    return plan.to_json() if plan else None
