"""HTTP for the gate register (门卫登记): visitors in and out, who is inside, the gate page.

Guard, duty leader and admin only (``GATE_ROLES``; a teacher's token is a 403, none a
401). The handlers parse, call one action of edge.actions.visitors and shape the
answer; no answer carries a full document number (``****`` and its last 4).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field

from edge.actions import visitors
from edge.errors import TapError
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff, school_day
from edge.http.pages import _page
from edge.http.responses import json_response
from edge.school import auth
from edge.text import Clean

router = APIRouter(tags=["gate"], responses=PICKUP_ERRORS)
VisitorId = Annotated[str, Path(pattern=r"^V[0-9a-f]{10}$", description="a visitor id")]


class VisitorIn(BaseModel):
    """A visitor at the gate, as the guard typed or a scanner filled it in."""

    model_config = ConfigDict(extra="forbid")

    name: Clean = Field(min_length=1, max_length=40, examples=["王建国"])
    document_no: Clean | None = Field(default=None, max_length=40, examples=["11010519491231002X"])
    phone: Clean | None = Field(default=None, pattern=r"^[0-9+\-\s()]{5,20}$")
    visiting: Clean = Field(min_length=1, max_length=40, examples=["三年级2班 李老师"])
    purpose: Clean = Field(min_length=1, max_length=100, examples=["家长会"])
    photo: str | None = Field(
        default=None, max_length=3_000_000, description="a JPEG/PNG/WebP, base64"
    )


@router.post("/api/v1/visitors", status_code=201)
def register(node: NodeDep, who: Staff, body: VisitorIn) -> Response:
    """Register a visitor coming in; a watchlist match answers with the alert."""
    answer = visitors.register(
        node.desk, who, body.name, body.visiting, body.purpose,
        body.document_no or None, body.phone or None, body.photo,
    )  # fmt: skip
    return json_response(answer, 201)


@router.post("/api/v1/visitors/{visitor_id}/leave")
def leave(node: NodeDep, who: Staff, visitor_id: VisitorId) -> Response:
    """Check a visitor out (today's, or one who stayed past midnight)."""
    return json_response(visitors.leave(node.desk, who, visitor_id, gate_book=node.gate))


@router.get("/api/v1/visitors")
def listing(
    node: NodeDep, who: Staff,
    date: Annotated[dt.date | None, Query(description="default today")] = None,
    inside: Annotated[bool, Query(description="only those still inside")] = False,
    document: Annotated[str | None, Query(max_length=40, description="a full document number: "
                                          "its visits of the last 90 days")] = None,
) -> Response:  # fmt: skip
    """List a day's visitors, those still inside, or the visits made with one document."""
    if document is not None:
        return json_response({"visitors": visitors.search(node.desk, who, document)})
    day = school_day(date) if date else node.desk.today()
    shown = visitors.listing(node.desk, who, node.gate, day, inside)
    return json_response({"date": day.isoformat(), "visitors": shown})


@router.get("/api/v1/gate/inside")
def inside(node: NodeDep, who: Staff) -> Response:
    """Who came in through the gate today and has not left (visitors, outside instructors)."""
    auth.require(who, visitors.GATE_ROLES)
    now = node.clock.now()
    shown = node.gate.inside(node.desk.today(), now)
    return json_response({"at": now.isoformat(), "visitors_inside": len(shown), "inside": shown})


@router.get("/gate", response_class=HTMLResponse, include_in_schema=False)
def gate_page() -> Response:
    """Serve the guard's gate register page (staff sign in on it)."""
    return HTMLResponse(_page("gate.html"))


@router.get("/gate/slip/{visitor_id}", response_class=HTMLResponse, include_in_schema=False)
def slip_page(visitor_id: str) -> Response:
    """Serve the printable visitor slip (the page fetches the visit with the staff token)."""
    if not re.fullmatch(r"V[0-9a-f]{10}", visitor_id):
        raise TapError("这不是来访编号 / not a visitor id", 404)
    return HTMLResponse(_page("gate.html"))
