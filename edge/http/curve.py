"""The afternoon as a curve, for the dashboard's chart: counts by state, step by step.

The dashboard asks once when it opens (and after a ``reload``); from then on it moves
the curve's last point itself from the counts every ``delta`` carries.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response

from edge.http.deps import PRESENCE_ROLES, STAFF_ERRORS, NodeDep, Staff, school_day
from edge.http.responses import json_response
from edge.school import auth

router = APIRouter()


@router.get("/api/v1/presence/curve", responses=STAFF_ERRORS)
def presence_curve(
    node: NodeDep,
    who: Staff,
    date: Annotated[dt.date | None, Query(description="school day, YYYY-MM-DD")] = None,
) -> Response:
    """Return how many children stood in each state every 5 minutes of a day, up to now.

    From the service start (or the first tap, if earlier) to an hour after the service
    end; ``points[].overdue`` counts the children still present after the service end.
    The last point is now, while the day runs. ``cursor``: the ledger position the
    curve reflects, as presence's.
    """
    auth.require(who, PRESENCE_ROLES)
    roster = node.roster
    now = node.clock.now()
    day = school_day(date) if date is not None else roster.calendar.day_of(now)
    answer = node.curves.answer(roster, day, now)
    answer["dismissal"] = [
        {"grades": [low, high], "times": [t.strftime("%H:%M") for t in times]}
        for low, high, times in roster.calendar.dismissal
    ]
    return json_response(answer)
