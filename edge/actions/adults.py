"""The adult search of a pickup screen (无卡接送): who came, and which children they may take.

Guardians and today's delegates are found by name, or by a phone number's last 4
digits (a longer number tells nothing more). The answer never holds a phone number.
Each screen (or staff member) may search 20 times a minute (desk.SEARCHES).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from edge.actions.desk import Desk
from edge.errors import TapError
from edge.school.fold import DayState
from edge.school.pickup import PickupBook
from edge.school.roster import Roster

SHOWN = 20  # adults in one answer
Matches = Callable[[str, str], bool]  # does (name, phone) answer the search?


def find(desk: Desk, station: str, asked_by: str, words: str) -> list[dict[str, Any]]:
    """Return the guardians and today's delegates that ``words`` names, at most 20."""
    desk.pickup_station(station)
    if desk.searches.reserve(asked_by) is None:
        raise TapError("too many searches here in the last minute: wait a minute", 429)
    words = words.strip()
    if words.isdigit() and len(words) < 4:
        raise TapError("type at least the last 4 digits of the phone number")
    roster, day = desk.roster, desk.today()

    def matches(name: str, phone: str) -> bool:
        if not words.isdigit():
            return words in name
        return phone.replace(" ", "").endswith(words[-4:])

    with desk.projection.lock:
        state = desk.projection.day(day)
        found = _guardians(roster, state, matches) + _delegates(
            roster, state, desk.projection.book, day, matches
        )
    return found[:SHOWN]


def _guardians(roster: Roster, state: DayState, matches: Matches) -> list[dict[str, Any]]:
    """Describe every guardian ``matches`` takes, with the children they may collect."""
    found = []
    for guardian in roster.guardians.values():
        if matches(guardian.name, guardian.phone):
            found.append({
                "adult_kind": "guardian", "adult_id": guardian.guardian_id,
                "name": guardian.name,
                "photo": f"/photos/{guardian.photo}" if guardian.photo else None,
                "children": [{**_child(roster, state, sid), "relation": r.relation,
                              "allowed": r.allowed}
                             for sid, r in roster.children_of(guardian.guardian_id)],
            })  # fmt: skip
    return found


def _delegates(
    roster: Roster, state: DayState, book: PickupBook, day: dt.date, matches: Matches
) -> list[dict[str, Any]]:
    """Describe every delegate valid on ``day`` that ``matches`` takes, with their child."""
    found = []
    for grant in book.delegates.values():
        if grant.valid_on(day) and matches(grant.name, grant.phone):
            found.append({
                "adult_kind": "delegate", "adult_id": grant.grant_id, "name": grant.name,
                "photo": f"/photos/{grant.photo}" if grant.photo else None,
                "valid": [grant.start.isoformat(), grant.end.isoformat()],
                "children": [{**_child(roster, state, grant.student_id), "relation": "临时委托",
                              "allowed": True}],
            })  # fmt: skip
    return found


def _child(roster: Roster, state: DayState, student_id: str) -> dict[str, Any]:
    """Describe a child for the pickup screen: name, class, where they are now, photo."""
    student = roster.students[student_id]
    seen = state.students.get(student_id)
    group = roster.groups.get(seen.group_id or "") if seen else None
    return {
        "student_id": student_id, "name": student.name, "class": student.class_name,
        "grade": student.grade,
        "state": state.state_of(roster, student_id) or "not_enrolled_today",
        "group_name": group.name if group else None,
        "photo": f"/photos/{student.photo}" if student.photo else None,
    }  # fmt: skip
