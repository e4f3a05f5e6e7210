"""Who is where: the campus picture, a station's idle screen, the ledger, conflicts, a day.

Each route parses, asks one query (the live projection, the ledger, ``edge.store.events``)
and shapes the answer.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request, Response
from pydantic import AwareDatetime

from edge import display
from edge.errors import TapError
from edge.http import streams
from edge.http.deps import (
    EVENTS_ROLES,
    PRESENCE_ROLES,
    STAFF_ERRORS,
    NodeDep,
    Staff,
    school_day,
)
from edge.http.responses import Problem, json_response
from edge.node import Node
from edge.projection import picture_at
from edge.school import auth
from edge.school.events import Event
from edge.school.roster import Group, Roster
from edge.sync.hub import clock_steps, corrected_at
from edge.writer import TapResult, check_moment

router = APIRouter()
SchoolDay = Annotated[dt.date | None, Query(description="school day, YYYY-MM-DD")]


@router.get("/api/v1/presence", responses=STAFF_ERRORS)
def presence(
    node: NodeDep,
    who: Staff,
    date: SchoolDay = None,
    at: Annotated[AwareDatetime | None, Query(description="the picture as it stood then")] = None,
) -> Response:
    """Return who is on campus, where and with whom: now, or as it stood at ``at``.

    Now: joined from the entries the projection keeps rendered, with ``cursor`` (the
    ledger rowid of the last event reflected; the dashboard stream's deltas follow it).
    """
    auth.require(who, PRESENCE_ROLES)
    roster = node.roster
    if at is not None:
        check_moment(at, "at")
    if date is not None:
        school_day(date)
    day = date or roster.calendar.day_of(at or node.clock.now())
    if at is None:
        now = node.clock.now()
        body = node.projection.picture_json(roster, day, now)
        extra = {"generation": streams.generation(roster, day, now)}
        return Response(
            _with(body, node.gate.inside(day, now), extra), media_type="application/json"
        )
    events = node.ledger.iter_day(day, until=at, tz=roster.calendar.tz)
    then = picture_at(roster, day, at, events)
    inside = node.gate.inside(day, at)
    return json_response({**then, "visitors_inside": len(inside), "visitors": inside})


def _with(body: bytes, inside: list[dict[str, Any]], extra: dict[str, Any]) -> bytes:
    """Add who came in through the gate and is still inside (门卫登记), and ``extra``.

    ``visitors_inside`` counts them and ``visitors`` lists them (masked documents and
    phones), for the same roles as the register itself; ``generation`` says which
    time-driven state the picture is in (edge.http.streams.generation).
    """
    added = orjson.dumps({"visitors_inside": len(inside), "visitors": inside, **extra})
    return body[:-1] + b"," + added[1:]


@router.get("/api/v1/events", responses=STAFF_ERRORS)
def events(
    node: NodeDep,
    who: Staff,
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="cursor: 'next' of the last page")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """Page through the ledger in ledger order."""
    auth.require(who, EVENTS_ROLES, full=True)
    page = node.ledger.events_after(after, limit)
    steps = clock_steps(node)
    shown = []
    for event in page:
        entry = event.to_json()
        corrected = corrected_at(event, steps)
        if corrected is not None:
            entry["at_corrected"] = corrected.isoformat()
        shown.append(entry)
    return json_response({"events": shown, "next": page[-1].rowid if page else after})


@router.get("/api/v1/stations/{station}", responses={404: {"model": Problem}})
async def station_status(request: Request, node: NodeDep, station: str) -> Response:
    """Tell a kiosk screen what its station is and whether its reader works.

    No token: what the idle screen shows anyone (places, the head count, the
    custodian). Today's dismissal plans (``group.plans``) only to the station's
    own screen (display channel) or with a staff token.
    """
    roster = node.roster
    place = roster.stations.get(station)
    if place is None:
        raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
    group = roster.groups.get(place.group_id or "")
    reader = node.readers.get(station)
    room = None
    if group is not None:
        shows_plans = display.is_display(request, node.secret, station) or node.staff_if_any(
            request.headers.get("authorization", "")
        )
        room = _room(node, roster, group, bool(shows_plans))
    return json_response(
        {
            "station_id": place.station_id,
            "name": place.name,
            "role": place.role,
            "group": room,
            "reader": {
                "driver": reader.health.driver,
                "connected": reader.health.connected,
                "last_error": reader.health.last_error,
            }
            if reader
            else None,
            "simulate": node.settings.simulate,
        }
    )


def _room(node: Node, roster: Roster, group: Group, plans: bool) -> dict[str, Any]:
    """Return a station's group as its screen shows it: head count, custodian, plans."""
    day = roster.calendar.day_of(node.clock.now())
    stands = node.projection.room(roster, group.group_id, day)
    custodian = roster.staff.get(stands.custodian) if stands.custodian else None
    room: dict[str, Any] = {
        "group_id": group.group_id,
        "name": group.name,
        "room": group.room,
        "present": stands.present,
        "expected": stands.expected,
        "custodian": {"staff_id": custodian.staff_id, "name": custodian.name}
        if custodian
        else None,
    }
    if plans:
        room["plans"] = [{**plan.to_json(), "name": roster.students[sid].name}
                         for sid, plan in stands.plans if sid in roster.students]  # fmt: skip
    return room


@router.get("/api/v1/conflicts", responses=STAFF_ERRORS)
def conflicts(node: NodeDep, who: Staff, date: SchoolDay = None) -> Response:
    """List what kiosks did that cannot both be right (found after sync), for review.

    ``unreadable`` lists the events of the day (and pickup actions) the fold could
    not apply and skipped, with why: a person must look at them.
    """
    auth.require(who, PRESENCE_ROLES)
    roster = node.roster
    day = school_day(date or roster.calendar.day_of(node.clock.now()))
    found = [dict(item) for item in node.conflicts.of(day)]
    for item in found:
        student = roster.students.get(item["subject_id"])
        item["name"] = student.name if student else item["subject_id"]
    unreadable = [{"id": event_id, "reason": why}
                  for event_id, why in node.projection.skipped(day)]  # fmt: skip
    return json_response({"date": day.isoformat(), "conflicts": found, "unreadable": unreadable})


@router.get(
    "/api/v1/students/{student_id}/timeline",
    responses={**STAFF_ERRORS, 404: {"model": Problem}},
)
def timeline(node: NodeDep, who: Staff, student_id: str, date: SchoolDay = None) -> Response:
    """Return one child's day: every tap of theirs, where, what was decided and why."""
    auth.require(who, PRESENCE_ROLES)
    roster = node.roster
    if student_id not in roster.students:
        raise TapError(f"student '{student_id}' is not in the roster", 404)
    day = date or roster.calendar.day_of(node.clock.now())
    steps = clock_steps(node)
    # A chain whose kiosk recorded its clock step has its taps placed already (``at``
    # is the corrected moment); the hub's older estimate is for the other chains.
    placed = node.ledger.clock_steps().by_chain
    events = node.ledger.student_day(student_id, day, tz=roster.calendar.tz)
    entries = [_tap_entry(event, roster, None if (event.node_id, event.epoch) in placed
                          else corrected_at(event, steps)) for event in events]  # fmt: skip
    student = roster.students[student_id]
    return json_response(
        {
            "student_id": student_id,
            "name": student.name,
            "grade": student.grade,
            "class": student.class_name,
            "date": day.isoformat(),
            "events": entries,
        }
    )


def _tap_entry(event: Event, roster: Roster, corrected: dt.datetime | None) -> dict[str, Any]:
    """Return one event of a child's day as the timeline shows it."""
    answer = TapResult(event, roster).to_json()
    station = roster.stations.get(event.station)
    return {
        "at": answer["at"],
        "at_corrected": corrected.astimezone(roster.calendar.tz).isoformat() if corrected else None,
        "clock_synced": event.clock_synced,
        "station": event.station,
        "station_name": station.name if station else event.station,
        "kind": event.kind,
        "outcome": event.outcome,
        "message": answer["message"],
        "message_en": answer["message_en"],
        "data": event.data,
    }
