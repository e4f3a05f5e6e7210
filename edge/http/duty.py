"""HTTP for the duty log (值班日志): read it, add a note, sign it off with card and PIN.

The log itself is edge.reports.duty (also ``/api/v1/reports/duty`` and ``campus-edge
report duty``); the notes and the sign-off are recorded by edge.actions.duty.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from edge import display, reports
from edge.actions import duty as duty_actions
from edge.errors import TapError
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff, school_day
from edge.http.responses import json_response
from edge.node import Node
from edge.reports.cells import hm
from edge.reports.duty import SignOff, notes_of
from edge.reports.duty import duty as duty_log
from edge.school import auth
from edge.school.events import SIGNED_IN
from edge.text import Clean

router = APIRouter(tags=["duty"], responses=PICKUP_ERRORS)
PREVIOUS_DAYS = 14  # how far back the open items of "yesterday" are looked for


class NoteIn(BaseModel):
    """A line of the duty leader's notes."""

    text: Clean = Field(min_length=1, max_length=duty_actions.NOTE_MAX,
                        examples=["16:40 三年级王同学腹痛，已通知家长接回"])  # fmt: skip
    date: dt.date | None = Field(default=None, description="the log's day: today or yesterday")


class SignOffIn(BaseModel):
    """The duty leader's card (the code a kiosk shows after the tap) and PIN."""

    code: str = Field(pattern=r"^[0-9]{6}$", examples=["042917"])
    pin: str = Field(pattern=auth.PIN_PATTERN)
    date: dt.date | None = Field(default=None, description="the log's day: today or yesterday")


def _over(node: Node, day: dt.date) -> bool:
    now = node.clock.now()
    calendar = node.roster.calendar
    return day < calendar.day_of(now) or now >= calendar.service_end_at(day)


@router.get("/api/v1/duty")
def read(node: NodeDep, who: Staff, date: Annotated[dt.date | None, Query()] = None) -> Response:
    """Return the day's duty log, its sign-off, and the last service day's open items."""
    auth.require(who, duty_actions.VIEW_ROLES)
    today = node.roster.calendar.day_of(node.clock.now())
    day = school_day(date) if date is not None else today
    source = reports.LedgerSource(node.ledger, node.roster)
    log = duty_log(source, day, over=_over(node, day), now=node.clock.now())
    before = _previous_day(node, day)
    earlier = duty_log(source, before, over=True)
    signed = _signed(node, day)
    answer: dict[str, Any] = {
        "date": day.isoformat(),
        "log": log.to_json(),
        "signed_off": signed.to_json(node.roster) if signed else None,
        "notes": log.table("notes").records(),
        "open_items": earlier.table("open_items").records(),
        "open_items_date": before.isoformat(),
        "can_write": who.role in duty_actions.DUTY_ROLES,
    }
    return json_response(answer)


def _previous_day(node: Node, day: dt.date) -> dt.date:
    """Return the last day before ``day`` with children signed in (Monday: Friday), if any.

    Within two weeks, on service days; else the day before.
    """
    calendar = node.roster.calendar
    for back in range(1, PREVIOUS_DAYS + 1):
        earlier = day - dt.timedelta(days=back)
        if calendar.timetable_weekday(earlier) is None:
            continue  # closed, or outside every term
        stream = iter(node.ledger.iter_days(earlier, earlier, (SIGNED_IN,)))
        try:
            if next(stream, None) is not None:
                return earlier
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # its connection, now rather than when collected
    return day - dt.timedelta(days=1)


def _signed(node: Node, day: dt.date) -> SignOff | None:
    actions = node.ledger.iter_days(day, day + dt.timedelta(days=1), ("action",))
    return notes_of(node.roster, actions, day)[1]


@router.post("/api/v1/duty/notes", status_code=201)
async def add_note(node: NodeDep, who: Staff, body: NoteIn) -> Response:
    """Add a line to the duty leader's notes (never edited; after sign-off, an addition)."""
    event = await duty_actions.add_note(node.desk, who, body.text, body.date)
    day = dt.date.fromisoformat(event.data["date"])
    signed = _signed(node, day)
    after = signed is not None and signed.event_id != event.event_id
    return json_response(
        {"id": event.event_id, "date": event.data["date"], "text": event.data["text"],
         "by": who.staff_id, "at": event.at.isoformat(), "time": hm(event.at, node.roster),
         "after_sign_off": after},
        201,
    )  # fmt: skip


@router.post("/api/v1/duty/signoff", status_code=201)
async def sign_off(request: Request, node: NodeDep, who: Staff, body: SignOffIn) -> Response:
    """Sign the day's log off (交班) with the duty leader's card code and PIN.

    The code is the one a kiosk shows after the duty leader's card tap; with the PIN
    it is checked as a sign-in is (wrong codes and PINs count toward the same
    lockouts). A log is signed off once (409 after); notes go on as additions.
    """
    auth.require(who, duty_actions.DUTY_ROLES)
    day = duty_actions.log_day(node.desk, body.date)
    source = reports.LedgerSource(node.ledger, node.roster)
    log = duty_log(source, day, over=True)
    signed = _signed(node, day)
    if signed is not None:
        raise TapError(
            f"{day} 的值班日志已由{signed.name}于{hm(signed.at, node.roster)}交班，只能追加记录 / "
            f"the log of {day} was signed off by {signed.name} at {hm(signed.at, node.roster)}; "
            "add a note instead",
            409,
        )
    card = node.signin_codes.redeem(body.code, body.pin, display.caller_key(request))
    signer = node.staff_of(card.token)
    notes = [row["id"] for row in log.table("notes").records()]
    open_items = [r for r in log.table("open_items").records() if r["kind"] != "值班日志未交班"]
    event = await duty_actions.sign_off(node.desk, who, signer, day, notes, len(open_items))
    return json_response(
        {"id": event.event_id, "date": day.isoformat(), "staff_id": signer.staff_id,
         "name": card.name, "at": event.at.isoformat(), "time": hm(event.at, node.roster),
         "notes": notes, "open_items": len(open_items)},
        201,
    )  # fmt: skip
