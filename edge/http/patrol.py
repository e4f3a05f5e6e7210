"""HTTP for patrol rounds (巡查): a phone's checkpoint visit, the rounds, the screen's confirm.

- ``POST /api/v1/patrol/visits`` (duty_leader, guard): a checkpoint tag read by a phone
  or handheld, attributed to the token's staff member; ``at`` for a visit made offline.
- ``GET /api/v1/patrol?date=`` (duty_leader, guard, admin): the day's rounds.
- ``POST /api/v1/stations/ID/patrol-confirm`` (the classroom screen's display channel
  only): take the group over after the visit shown on the screen.
- ``/patrol`` (the phone page) and ``/ui/panels/NAME.js`` (the dashboard's panels).
"""

from __future__ import annotations

import datetime as dt
from importlib import resources
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from edge import display
from edge.actions import patrol
from edge.errors import AuthError
from edge.http.deps import PICKUP_ERRORS, STAFF_ERRORS, NodeDep, Staff, school_day
from edge.http.responses import json_response
from edge.school import auth
from edge.writer import check_moment

router = APIRouter(tags=["patrol"])
pages = APIRouter(include_in_schema=False)


class VisitIn(BaseModel):
    """A checkpoint tag read by a phone (Web NFC's serial number) or a handheld reader."""

    model_config = ConfigDict(extra="forbid")
    tag: str = Field(min_length=4, max_length=40, pattern=r"^[0-9A-Fa-f:\- ]+$",
                     examples=["04:A2:B3:C4:D5:E6:F7"])  # fmt: skip
    at: AwareDatetime | None = Field(default=None, description="when the tag was read (offline)")
    sent_at: AwareDatetime | None = Field(
        default=None, description="the phone's clock when sending: corrects a wrong phone clock"
    )
    visit_id: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9_-]{8,40}$",
        description="the phone's id of this visit: sent twice, kept once",
    )  # fmt: skip


class ConfirmIn(BaseModel):
    """The patrol visit the screen shows, to be confirmed as a takeover."""

    model_config = ConfigDict(extra="forbid")
    event_id: str = Field(min_length=5, max_length=120, pattern=r"^[A-Za-z0-9._:-]+$")


@router.post("/api/v1/patrol/visits", status_code=201, responses=PICKUP_ERRORS)
def post_visit(node: NodeDep, who: Staff, body: VisitIn) -> Response:
    """Record a checkpoint visit by the caller (201; the same visit_id again: 200)."""
    for name, moment in (("at", body.at), ("sent_at", body.sent_at)):
        if moment is not None:
            check_moment(moment, name)
    shown, new = patrol.visit(node.desk, who, body.tag, body.at, body.visit_id, body.sent_at)
    return json_response(shown, 201 if new else 200)


@router.get("/api/v1/patrol", responses=STAFF_ERRORS)
def get_rounds(
    node: NodeDep,
    who: Staff,
    date: Annotated[dt.date | None, Query(description="school day, YYYY-MM-DD")] = None,
) -> Response:
    """Return the day's patrol rounds: visits, visited, not yet, missed; and the alerts."""
    auth.require(who, patrol.VIEW_ROLES)
    now = node.clock.now()
    day = school_day(date) if date is not None else node.roster.calendar.day_of(now)
    return json_response(patrol.day_rounds(node.desk, day, now))


@router.post("/api/v1/stations/{station}/patrol-confirm", responses=PICKUP_ERRORS)
async def confirm(node: NodeDep, request: Request, station: str, body: ConfirmIn) -> Response:
    """Take a classroom's group over after the patrol visit on its screen (screen only)."""
    if station not in node.roster.stations:
        return JSONResponse({"detail": f"station '{station}' is not in the roster"}, 404)
    if not display.is_display(request, node.secret, station):
        raise AuthError(display.refusal(station))
    result = await patrol.confirm(node.desk, station, body.event_id)
    return json_response(result.to_json())


@pages.get("/patrol", response_class=HTMLResponse)
def patrol_page() -> Response:
    """Serve the patrol phone page (staff sign in with a token)."""
    return HTMLResponse(_file("patrol.html"))


@pages.get("/ui/panels/{name}")
def panel(name: str) -> Response:
    """Serve a dashboard panel's script (kiosk_ui/panels)."""
    if not name.endswith(".js") or "/" in name or name.startswith("."):
        return JSONResponse({"detail": f"no such file: {name}"}, 404)
    try:
        text = _file(f"panels/{name}")
    except FileNotFoundError:
        return JSONResponse({"detail": f"no such file: {name}"}, 404)
    return Response(text, media_type="text/javascript; charset=utf-8")


def _file(name: str) -> str:
    return resources.files("kiosk_ui").joinpath(name).read_text(encoding="utf-8")
