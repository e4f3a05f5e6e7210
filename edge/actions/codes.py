"""One-time pickup codes (接送码): one child, one adult, one day, used once.

A code is issued only for an adult who may collect the child: a guardian whose pickup
right is allowed, or a delegate named for that child on that day. Typed on a pickup
screen it is taken as a tap; wrong codes are counted per station before the tap is
awaited, so concurrent guesses cannot pass the lockout together.
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from edge.actions.desk import Desk
from edge.clock import reading
from edge.errors import TapError
from edge.school import auth
from edge.school.events import Tap
from edge.school.pickup import CODE_ISSUED, CODE_PREFIX
from edge.school.proof import GRANT_ROLES
from edge.writer import TapResult


def issue(
    desk: Desk,
    who: auth.Principal,
    student_id: str,
    adult_kind: str,
    adult_id: str,
    day: dt.date | None = None,
) -> dict[str, Any]:
    """Issue a code for ``adult_kind`` (guardian | delegate) ``adult_id`` on ``day`` (today)."""
    auth.require(who, GRANT_ROLES, full=True)
    today = desk.today()
    day = day or today
    desk.student(student_id)
    if day < today:
        raise TapError(f"{day} is in the past")
    _check_right(desk, student_id, adult_kind, adult_id, day)
    taken = {code for (d, code) in desk.projection.book.codes if d == day}
    code = next(c for c in iter(lambda: f"{secrets.randbelow(10**8):08d}", "") if c not in taken)
    data = {"code": code, "day": day.isoformat(), "student_id": student_id,
            "adult_kind": adult_kind, "adult_id": adult_id}  # fmt: skip
    desk.record(CODE_ISSUED, data, who)
    return data


def _check_right(desk: Desk, student_id: str, adult_kind: str, adult_id: str, day: dt.date) -> None:
    """Refuse (409) an adult who may not collect the child on that day."""
    if adult_kind == "guardian":
        right = desk.roster.pickup.get((student_id, adult_id))
        if right is None or not right.allowed:
            raise TapError(f"{adult_id} may not collect {student_id}", 409)
        return
    found = desk.projection.book.delegate(adult_id, day)
    if found is None or found.student_id != student_id:
        raise TapError(f"no delegation '{adult_id}' for {student_id} on {day}", 409)


async def enter(desk: Desk, station: str, code: str) -> TapResult:
    """Take a code typed on a pickup screen as a tap; 429 after too many wrong ones here.

    Each code counts as a wrong one until its tap says otherwise.
    """
    desk.pickup_station(station)
    ticket = desk.code_failures.reserve(station)
    if ticket is None:
        raise TapError("too many wrong codes here: wait 10 minutes, or use 无卡接送", 429)
    tap = Tap(station, CODE_PREFIX + code, code, desk.now(), mono=reading(desk.writer.clock))
    try:
        result = await desk.writer.submit(tap)
    except BaseException:
        desk.code_failures.release(ticket)  # not saved: no code was tried
        raise
    if result.event.code != "unknown_code":
        desk.code_failures.release(ticket)
    return result
