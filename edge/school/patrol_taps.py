"""Patrol taps (巡查): a patrolling card at a classroom, a checkpoint tag at a station.

Pure, like edge.school.rules, which calls these with its window ``Timing.patrol_confirm``
(how long a patrol tap may be confirmed as a takeover, or sign a checkpoint tag).
"""

from __future__ import annotations

import datetime as dt

from edge.clock import within
from edge.school import events as ev
from edge.school.events import Decision, Tap
from edge.school.fold import DayState
from edge.school.passes import CARD_PREFIX as PASS_PREFIX
from edge.school.roster import Roster


def confirm_id(tap: Tap) -> str | None:
    """Return the patrol visit a screen's confirm names (None: a card's own tap)."""
    if tap.credential is None or tap.card.startswith(PASS_PREFIX):
        return None
    return str(tap.credential.get("patrol_confirm") or "") or None


def visit(
    tap: Tap, state: DayState, window: dt.timedelta, ident: str, data: dict[str, object]
) -> Decision:
    """Record a patrol tap at a classroom as a visit (count as it stands); custody stays.

    The same card again 10-60 s after the visit (before 10 s it is debounced), or the
    screen's confirm of that visit within 60 s, takes the group over.
    """
    asked = confirm_id(tap)
    visit = state.patrol_staff.get(tap.station)
    if visit is not None and visit[0] == ident and asked in (None, visit[2]):
        if within(window, visit[1], state.reading_of(visit[2]), tap.at, tap.mono):
            data |= {"confirms": visit[2], "confirmed": "screen" if asked else "tap"}
            return Decision(ev.ACCEPTED, ev.CUSTODY_TAKEN, "patrol_custody_taken", "staff",
                            ident, data)  # fmt: skip
    if asked is not None:
        return Decision(ev.DENIED, ev.REFUSED, "patrol_confirm_expired", "staff", ident,
                        {"group_id": data["group_id"], "reason": "patrol_confirm_expired",
                         "alert": "normal"})  # fmt: skip
    data |= {"station_id": tap.station, "custodian": data.pop("previous_custodian")}
    return Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_visit", "staff", ident, data)


def checkpoint(
    tap: Tap, roster: Roster, state: DayState, window: dt.timedelta, ident: str
) -> Decision:
    """Record a checkpoint tag read at a station, by whom tapped a patrol card there just before.

    The staff member whose card (a [patrol] role) tapped at this station within the
    last 60 s is its patroller; otherwise the visit is recorded with the tag alone.
    """
    data: dict[str, object] = {"checkpoint_id": ident, "station_id": tap.station, "via": "kiosk"}
    last, plan = state.patrol_staff.get(tap.station), roster.calendar.patrol
    staff = roster.staff.get(last[0]) if last is not None else None
    if (
        last is not None and staff is not None and plan is not None and staff.role in plan.roles
        and within(window, last[1], state.reading_of(last[2]), tap.at, tap.mono)
    ):  # fmt: skip
        return Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_checkpoint", "staff", last[0], data)
    return Decision(ev.ACCEPTED, ev.PATROL_VISIT, "patrol_checkpoint_tag", None, None, data)
