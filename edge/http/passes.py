"""HTTP for pickup passes (QR text a kiosk checks offline); the rules are edge.actions.passes."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from edge.actions import passes
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff
from edge.http.responses import json_response
from edge.text import Clean

router = APIRouter(tags=["pickup"], responses=PICKUP_ERRORS)


class PassIn(BaseModel):
    """A signed pickup pass for one child and one adult over a date range."""

    student_id: str = Field(min_length=1, max_length=64)
    name: Clean = Field(min_length=1, max_length=40, description="the adult the pass names")
    start: dt.date | None = Field(default=None, alias="from", description="default today")
    end: dt.date | None = Field(default=None, alias="to", description="default = from")


@router.post("/api/v1/passes", status_code=201)
def issue_pass(node: NodeDep, who: Staff, body: PassIn) -> Response:
    """Issue a pickup pass signed with this hub's key (QR text a kiosk checks offline)."""
    issued = passes.issue(node.desk, who, body.student_id, body.name, body.start, body.end)
    return json_response(issued, 201)


@router.delete("/api/v1/passes/{pass_id}")
def revoke_pass(node: NodeDep, who: Staff, pass_id: str) -> Response:
    """Revoke a pass: the revocation travels to every kiosk, which then refuses it."""
    data = passes.revoke(node.desk, who, pass_id)
    return json_response({**data, "revoked_by": who.staff_id})
