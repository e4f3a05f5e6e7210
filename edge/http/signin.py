"""Staff sign-in: the code a kiosk showed after a staff card tap, traded for a token."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from edge import display
from edge.http.deps import NodeDep, Staff
from edge.http.responses import Problem, json_response
from edge.school import auth

router = APIRouter()


class SignIn(BaseModel):
    """The code a kiosk showed after a staff card tap."""

    code: str = Field(pattern=r"^[0-9]{6}$", examples=["042917"])
    pin: str | None = Field(
        default=None,
        pattern=auth.PIN_PATTERN,
        description="the staff member's PIN: without it the token allows viewing only",
    )


@router.post(
    "/api/v1/signin",
    responses={401: {"model": Problem}, 422: {"model": Problem}, 429: {"model": Problem}},
)
def signin(request: Request, node: NodeDep, body: SignIn) -> Response:
    """Trade the code a kiosk showed after a staff card tap for a staff token.

    Wrong codes lock out their caller (5 per 10 minutes) and, past 30 a minute on
    the campus, pause sign-in by code for that minute; no valid code is voided. A
    wrong PIN counts as a wrong code for its caller, and five wrong PINs for one
    staff member lock their PIN for 10 minutes (a card can be copied; its PIN is
    what stands between a copy and a grant).
    """
    signed = node.signin_codes.redeem(body.code, body.pin, display.caller_key(request))
    return json_response(signed.to_json())


@router.get("/api/v1/signin", responses={401: {"model": Problem}})
def signed_in(who: Staff) -> Response:
    """Say who a token signs in as (the dashboard's header): name, role and scope."""
    return json_response(
        {
            "staff_id": who.staff_id,
            "name": who.name,
            "role": who.role,
            "scope": who.scope,
            "expires": dt.datetime.fromtimestamp(who.expires, dt.UTC).isoformat(),
        }
    )
