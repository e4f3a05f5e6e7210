"""Server-Sent Event streams of durable taps: a station's screen, and the dashboards."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from edge import display
from edge.errors import AuthError, TapError
from edge.http.deps import PRESENCE_ROLES, STAFF_ERRORS, NodeDep
from edge.http.responses import Problem
from edge.live import Broadcast
from edge.school import auth

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
    node: NodeDep,
    token: Annotated[str, Query(description="a staff token (EventSource sends no headers)")],
) -> StreamingResponse:
    """Stream every station's durable taps to the dashboard (Server-Sent Events)."""
    who = node.staff_of(token)
    auth.require(who, PRESENCE_ROLES)
    return _stream(node.broadcast, None, {"staff_id": who.staff_id})
