"""The duty leader's notes and sign-off (交班) of a day's duty log (edge.reports.duty).

A note is free text of one line (at most ``NOTE_MAX`` characters, no control
characters), recorded as an action in the ledger, so it syncs like a tap; there is no
way to edit or remove one. The sign-off is made with the duty leader's card and PIN
(a kiosk's sign-in code and the PIN, checked by edge.actions.signin), carries the
signer's proof (edge.school.proof) and names the notes it signs; a note written after
it is shown as an addition after the sign-off. A day is signed off once.

Notes and sign-offs are for today or the day before (the morning after), never for a
day further back or ahead.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from edge.actions.desk import Desk
from edge.errors import TapError
from edge.school import auth
from edge.school.events import Event
from edge.school.proof import DUTY_NOTE, DUTY_ROLES, DUTY_SIGNED_OFF

NOTE_MAX = 500
VIEW_ROLES = DUTY_ROLES | {"guard"}  # who may read the log and its open items


def log_day(desk: Desk, day: dt.date | None) -> dt.date:
    """Return the day a note or sign-off is for: today, or (named) yesterday; else 422."""
    today = desk.roster.calendar.day_of(desk.writer.clock.now())
    if day is None:
        return today
    if day not in (today, today - dt.timedelta(days=1)):
        raise TapError(
            f"值班日志只能记录今天或昨天（{day.isoformat()} 不行）/ a duty log takes notes and "
            f"its sign-off for today ({today}) or yesterday only, not {day.isoformat()}",
            422,
        )
    return day


async def add_note(desk: Desk, who: auth.Principal, text: str, day: dt.date | None) -> Event:
    """Record a note in the duty log of ``day`` (default today); return it once durable.

    A note cannot be taken back: it needs a full sign-in (card and PIN, or a token),
    never a card alone, which only views.
    """
    auth.require(who, DUTY_ROLES, full=True)
    text = text.strip()
    if not 1 <= len(text) <= NOTE_MAX:
        raise TapError(
            f"记录内容需 1 到 {NOTE_MAX} 个字 / a note is 1 to {NOTE_MAX} characters", 422
        )
    when = log_day(desk, day)
    future = desk.writer.record_action(
        DUTY_NOTE, {"date": when.isoformat(), "text": text}, who.staff_id, "duty"
    )
    return await asyncio.wrap_future(future)


async def sign_off(
    desk: Desk,
    who: auth.Principal,
    signer: auth.Principal,
    day: dt.date,
    notes: list[str],
    open_items: int,
) -> Event:
    """Sign off the log of ``day`` for ``signer``, naming the ``notes`` it signs.

    ``who`` is the caller's token (duty leader or admin); ``signer`` the staff member
    whose card code and PIN were checked just now (full scope). The caller has found
    the day not signed off yet (edge.reports.duty.notes_of).
    """
    auth.require(who, DUTY_ROLES)
    if signer.role not in DUTY_ROLES or signer.scope != "full":
        raise TapError("交班须由值班领导刷卡并输入PIN / only a duty leader (or admin) signs "
                       "off the log, with their card and PIN", 403)  # fmt: skip
    when = log_day(desk, day)
    data: dict[str, Any] = {
        "date": when.isoformat(), "notes": notes, "open_items": open_items, "via": "card+pin",
    }  # fmt: skip
    future = desk.writer.record_action(
        DUTY_SIGNED_OFF, data, signer.staff_id, "duty", proof=desk.prove(signer)
    )
    return await asyncio.wrap_future(future)
