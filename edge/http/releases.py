"""HTTP for the pickup screen (无卡接送): the adult search, manual releases, typed codes.

These routes take the station's display channel (edge.display: the kiosk itself, or
its display key); the adult search and a manual release also a staff token: a caller
on the LAN gets nothing from them. The station is checked before who asks. The rules
(a release waits 60 s for a staff card, is never replaced while it waits, records who
asked; wrong codes are counted per station; searches are bounded) are edge.actions'.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from edge import display
from edge.actions import adults, codes, releases
from edge.errors import AuthError
from edge.http.deps import PICKUP_ERRORS, NodeDep
from edge.http.responses import json_response
from edge.node import Node
from edge.school import auth
from edge.text import Clean

router = APIRouter(tags=["pickup"], responses=PICKUP_ERRORS)
SCREEN_ROLES = frozenset({"teacher", "guard", "duty_leader", "admin"})  # with a token


class ManualIn(BaseModel):
    """A release without a card, asked on the pickup screen."""

    student_id: str = Field(min_length=1, max_length=64)
    adult_kind: str = Field(pattern="^(guardian|delegate)$")
    adult_id: str = Field(min_length=1, max_length=64)
    reason: Clean = Field(min_length=2, max_length=200, examples=["家长忘带接送卡"])


class CodeEntry(BaseModel):
    """A pickup code typed on the pickup screen's keypad."""

    code: str = Field(pattern=r"^[0-9]{8}$", examples=["40172958"])


def screen_or_staff(request: Request, node: Node, station: str) -> str:
    """Return who asks at a pickup point's screen: ``display:STATION`` or a staff id."""
    node.desk.pickup_station(station)
    if display.is_display(request, node.secret, station):
        return f"display:{station}"
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthError(display.refusal(station, staff=True))
    who = node.staff_of(given.strip())  # a bad token says why (401)
    auth.require(who, SCREEN_ROLES)
    return who.staff_id


def screen_only(request: Request, node: Node, station: str) -> None:
    """Refuse anyone but a pickup point's own screen."""
    node.desk.pickup_station(station)
    if not display.is_display(request, node.secret, station):
        raise AuthError(display.refusal(station))


@router.get("/api/v1/stations/{station}/adults")
def find_adults(
    node: NodeDep,
    request: Request,
    station: str,
    q: Annotated[str, Query(min_length=2, max_length=40)],
) -> Response:
    """Find guardians and today's delegates by name or a phone's last 4 digits (无卡接送).

    For the pickup screen (display channel) or staff: names, relations, photos and
    the children each may collect today; never a phone number. A longer number is
    matched on its last 4 digits only. 20 searches a minute per screen.
    """
    asker = screen_or_staff(request, node, station)
    return json_response({"adults": adults.find(node.desk, station, asker, q)})


@router.post("/api/v1/stations/{station}/manual-release")
def ask_manual_release(node: NodeDep, request: Request, station: str, body: ManualIn) -> Response:
    """Ask to release a child without a card; a staff card tapped here within 60 s signs it.

    From the station's screen or a staff member. A request still waiting here is
    never replaced (409): sign it with a card, or cancel it first.
    """
    asker = screen_or_staff(request, node, station)
    message = releases.ask(node.desk, station, asker, body.student_id, body.adult_kind,
                           body.adult_id, body.reason)  # fmt: skip
    return json_response({**message, "asked_by": asker,
                          "waiting_for": "a staff card tapped at this pickup point"})  # fmt: skip


@router.delete("/api/v1/stations/{station}/manual-release")
def cancel_manual_release(node: NodeDep, request: Request, station: str) -> Response:
    """Cancel the release waiting here for a staff card (from the screen or staff)."""
    asker = screen_or_staff(request, node, station)
    return json_response({**releases.cancel(node.desk, station), "cancelled_by": asker})


@router.post("/api/v1/stations/{station}/code")
async def enter_code(node: NodeDep, request: Request, station: str, body: CodeEntry) -> Response:
    """Take a one-time pickup code typed on the pickup screen, as a tap.

    Only from the station's screen. Each code counts as a wrong one until its tap
    says otherwise, so concurrent guesses cannot pass the lockout together.
    """
    screen_only(request, node, station)
    result = await codes.enter(node.desk, station, body.code)
    return json_response(result.to_json())
