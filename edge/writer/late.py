"""Late custody: children still here ``late_custody`` after the service end pass to the guard.

``escalations`` decides, from the live picture, which custody events the writer records
now (edge.writer.TapWriter.escalate).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from edge.school.events import ACCEPTED, CUSTODY_TAKEN, Decision
from edge.school.fold import DayState
from edge.school.roster import Roster
from edge.school.rules import late_stage

log = logging.getLogger(__name__)


def escalations(
    roster: Roster, state_of: Callable[[dt.date], DayState], now: dt.datetime
) -> list[Decision]:
    """Return one custody handover per group still holding children, to the late custodian.

    ``state_of`` gives a day's live picture. None before the late stage
    (edge.projection.late_stage 3); none for a group the guard holds already. Each is
    recorded like any handover (head count, previous custodian), by the school's
    ``late_custodian``, else the staff member last on duty at a pickup point today,
    else the roster's first guard.
    """
    day = roster.calendar.day_of(now)
    end = roster.calendar.service_end_at(day)
    if late_stage(roster.calendar, end, now) < 3:
        return []
    state = state_of(day)
    guard = late_custodian(roster, state)
    if guard is None:
        log.warning("no guard in the roster to take late children; none passed on")
        return []
    made = []
    groups = {p.group_id for p in state.students.values() if p.state == "present" and p.group_id}
    for group_id in sorted(groups):
        held = state.custodians.get(group_id)
        if held is not None and held[0] == guard:
            continue
        present = sorted(state.present_in(group_id))
        data = {
            "group_id": group_id, "head_count": len(present), "present": present,
            "expected": len(present), "missing": [], "on_leave": [],
            "previous_custodian": held[0] if held else None, "escalated": True,
            "minutes_after_end": int((now - end).total_seconds() // 60),
        }  # fmt: skip
        made.append(Decision(ACCEPTED, CUSTODY_TAKEN, "late_custody", "staff", guard, data))
    return made


def late_custodian(roster: Roster, state: DayState) -> str | None:
    """Return who takes late children: the school's choice, the last on duty, a guard."""
    chosen = roster.calendar.late_custodian
    if chosen and chosen in roster.staff:
        return chosen
    if state.on_duty is not None:
        return str(state.on_duty[0])
    return next((s for s, m in roster.staff.items() if m.role == "guard"), None)
