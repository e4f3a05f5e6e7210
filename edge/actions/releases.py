"""Manual releases (无卡接送): a child released without a card, signed by a staff card.

Asked on a pickup screen (or by a staff member), a release waits at that pickup point
for a staff card tapped there within 60 s (MANUAL_WINDOW); the writer signs it with
that tap. One waiting release is never replaced by another (409): it is signed or
cancelled first. The request records who asked. The writer's ``pending`` is read and
written under the projection's lock.
"""

from __future__ import annotations

from typing import Any

from edge.actions.desk import Desk
from edge.clock import reading
from edge.errors import TapError
from edge.school.fold import PRESENT
from edge.school.pickup import MANUAL_WINDOW, ManualRelease


def ask(
    desk: Desk,
    station: str,
    asked_by: str,
    student_id: str,
    adult_kind: str,
    adult_id: str,
    reason: str,
) -> dict[str, Any]:
    """Ask to release a child to an adult at a pickup point; return the screens' message.

    ``asked_by`` is a staff id, or ``display:STATION`` for the pickup screen.
    """
    desk.pickup_station(station)
    student = desk.student(student_id)
    name = _adult_name(desk, adult_kind, adult_id)
    if name is None:
        raise TapError(f"{adult_kind} '{adult_id}' is not known today", 404)
    day, clock = desk.today(), desk.writer.clock
    with desk.projection.lock:
        seen = desk.projection.day(day).students.get(student_id)
        if seen is None or seen.state != PRESENT:
            raise TapError(f"{student.name} is not on campus", 409)
        now = clock.now()
        waiting = desk.writer.pending.get(station)
        if waiting is not None and waiting.open_at(now, reading(clock)):
            until = (waiting.asked_at + MANUAL_WINDOW).astimezone(desk.roster.calendar.tz)
            raise TapError(
                f"a release of {desk.student_name(waiting.student_id)} is waiting for a "
                f"staff card here until {until:%H:%M:%S}: sign it with a staff card, or "
                "cancel it first", 409)  # fmt: skip
        asked = ManualRelease(station, student_id, adult_kind, adult_id, reason.strip(), now,
                              asked_by, reading(clock))  # fmt: skip
        desk.writer.pending[station] = asked
    message = {"type": "manual_pending", "student_id": student_id, "student": student.name,
               "adult": name, "expires_at": (now + MANUAL_WINDOW).isoformat()}  # fmt: skip
    desk.publish(message, station=station)
    return message


def cancel(desk: Desk, station: str) -> dict[str, Any]:
    """Cancel the release waiting at a pickup point; return the screens' message."""
    desk.pickup_station(station)
    clock = desk.writer.clock
    with desk.projection.lock:
        waiting = desk.writer.pending.get(station)
        if waiting is None or not waiting.open_at(clock.now(), reading(clock)):
            raise TapError("no release is waiting for a staff card here", 404)
        del desk.writer.pending[station]
    message = {"type": "manual_cancelled", "student_id": waiting.student_id,
               "student": desk.student_name(waiting.student_id)}  # fmt: skip
    desk.publish(message, station=station)
    return message


def _adult_name(desk: Desk, kind: str, ident: str) -> str | None:
    """Return the name of a guardian, or of a delegate valid today; None if unknown."""
    if kind == "delegate":
        found = desk.projection.book.delegate(ident, desk.today())
        return found.name if found else None
    guardian = desk.roster.guardians.get(ident)
    return guardian.name if guardian else None
