"""Corrections: a wrong sign-in, release or walk home of today, undone by a new event."""

from __future__ import annotations

import datetime as dt
import sqlite3

from edge.errors import TapError
from edge.school.events import ACCEPTED, CORRECTABLE, CORRECTED, Decision, Event
from edge.store import events as rows


def correction(
    conn: sqlite3.Connection, event_id: str, staff_id: str, reason: str, today: dt.date
) -> tuple[Event, Decision]:
    """Return the event to correct and the decision that corrects it; TapError if it cannot be.

    Checked against the ledger, inside the writer's transaction: the event must exist,
    be a sign-in, release or walk home of ``today`` (school time), and not be
    corrected yet.
    """
    wrong = rows.event_by_id(conn, event_id)
    if wrong is None:
        raise TapError(f"there is no record '{event_id}'", 404)
    if wrong.kind not in CORRECTABLE:
        raise TapError(
            f"record '{event_id}' is a {wrong.kind}: only a sign-in, a release or a "
            "walk home can be corrected"
        )
    if wrong.day != today:
        raise TapError(
            f"record '{event_id}' is of {wrong.day}: corrections are made the same day; "
            "for an older record, write to the duty leader"
        )
    done = rows.correction_of(conn, event_id, CORRECTED)
    if done is not None:
        raise TapError(f"record '{event_id}' was already corrected by {done}", 409)
    data = {"corrects": event_id, "reason": reason, "corrected_kind": wrong.kind,
            "student_id": wrong.subject_id}  # fmt: skip
    return wrong, Decision(ACCEPTED, CORRECTED, "corrected", "staff", staff_id, data)
