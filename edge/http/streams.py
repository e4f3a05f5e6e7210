"""Server-Sent Event streams of durable taps: a station's screen, and the dashboards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from edge import display
from edge.errors import AuthError, TapError
from edge.http.deps import PRESENCE_ROLES, STAFF_ERRORS, NodeDep
from edge.http.responses import Problem
from edge.live import Broadcast, Frame
from edge.node import Node
from edge.projection import Change
from edge.school import auth
from edge.school.roster import Roster
from edge.school.rules import late_stage

router = APIRouter()


def _stream(broadcast: Broadcast, station: str | None, hello: dict[str, Any]) -> StreamingResponse:
    """Open a subscriber's stream (one station's, or with None every station's)."""
    subscriber = broadcast.subscribe(station)
    return StreamingResponse(
        broadcast.stream(subscriber, hello),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.get("/api/v1/stations/{station}/stream", responses={404: {"model": Problem}})
async def station_stream(request: Request, node: NodeDep, station: str) -> StreamingResponse:
    """Stream a station's durable taps to its screen (Server-Sent Events).

    Only on the station's display channel (this machine, or ``X-Display-Key``):
    it carries staff sign-in codes. Events: ``hello``; ``tap`` (the answer a
    simulated tap gets, plus a one-time ``signin_code`` for a staff card);
    ``changed`` (groups whose head count moved); ``called``, ``manual_pending``,
    ``manual_cancelled``, ``fault``.
    """
    if station not in node.roster.stations:
        raise TapError(f"station '{station}' is not in the roster (stations.csv)", 404)
    if not display.is_display(request, node.secret, station):
        raise AuthError(display.refusal(station))
    return _stream(node.broadcast, station, {"station": station})


@router.get("/api/v1/stream", responses=STAFF_ERRORS)
async def dashboard_stream(
    request: Request,
    node: NodeDep,
    token: Annotated[str, Query(description="a staff token (EventSource sends no headers)")],
    cursor: Annotated[
        str | None,
        Query(max_length=40, description="the picture's cursor: changes since then come first"),
    ] = None,
) -> StreamingResponse:
    """Stream every station's durable taps and the picture's changes to the dashboard (SSE).

    Events: ``hello`` (with ``cursor`` and ``date``); ``delta`` (``id:`` its cursor;
    the changed entries, groups, counts and late pickups); ``reload`` (refetch the
    presence answer); ``tap``, ``changed``, ``fault`` as before. A reconnect with
    ``Last-Event-ID`` (or ``?cursor=``) first gets one delta bridging from there, or a
    reload when it cannot be bridged (README, The dashboard's live stream).
    """
    who = node.staff_of(token)
    auth.require(who, PRESENCE_ROLES)
    subscriber = node.broadcast.subscribe(None)  # first: nothing committed from now is missed
    since = _cursor(request.headers.get("last-event-id", cursor))
    roster, now = node.roster, node.clock.now()
    day = roster.calendar.day_of(now)
    first: Frame | None = None
    try:
        # The day's kept picture, built now if a restart left none: its changes from here
        # are what this stream's deltas carry.
        await run_in_threadpool(node.projection.view, roster, day, now)
        if since is None:
            at = node.projection.cursor
            if request.headers.get("last-event-id") is not None or cursor is not None:
                first = Frame.of(Change.reload("cursor"))  # not a cursor of ours
        else:
            at, change = await run_in_threadpool(node.projection.bridge, roster, day, now, since)
            first = Frame.of(change) if change is not None else None
    except BaseException:
        node.broadcast.unsubscribe(subscriber)
        raise
    hello = {"staff_id": who.staff_id, "cursor": at, "date": day.isoformat(),
             "generation": generation(roster, day, now)}  # fmt: skip
    return StreamingResponse(
        node.broadcast.stream(subscriber, hello, first, still=lambda: _still_valid(node, token)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def generation(roster: Roster, day: dt.date, now: dt.datetime) -> str:
    """Return what a picture's time-driven state is: day, roster, late-pickup stage.

    The same across restarts. A dashboard whose picture's generation is not the
    stream's hello's reloads: it missed a reload while away (the service end passed,
    a roster came, the day turned).
    """
    calendar = roster.calendar
    stage = late_stage(calendar, calendar.service_end_at(day), now)
    return f"{day.isoformat()}.{roster.version}.{stage}"


def _still_valid(node: Node, token: str) -> bool:
    """Tell whether a stream's token still speaks for staff who may see the picture."""
    try:
        auth.require(node.staff_of(token), PRESENCE_ROLES)
    except AuthError:
        return False
    return True


def _cursor(given: str | None) -> int | None:
    """Return a cursor a client sent (a ledger rowid), or None when absent or not one."""
    if given is None or not given.isascii() or not given.isdigit() or len(given) > 18:
        return None
    return int(given)
