"""HTTP for delegations (临时委托): grant, revoke, list; the rules are edge.actions.delegates."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from edge.actions import delegates as delegations
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff
from edge.http.responses import json_response
from edge.text import Clean

router = APIRouter(tags=["pickup"], responses=PICKUP_ERRORS)


class DelegateIn(BaseModel):
    """An adult a teacher or admin names to collect one child for a day or a few."""

    student_id: str = Field(min_length=1, max_length=64)
    name: Clean = Field(min_length=1, max_length=40, examples=["张阿姨"])
    phone: Clean = Field(min_length=5, max_length=20, examples=["13800001234"])
    start: dt.date | None = Field(default=None, alias="from", description="default today")
    end: dt.date | None = Field(default=None, alias="to", description="default = from")
    photo: str | None = Field(
        default=None, max_length=3_000_000, description="a JPEG/PNG/WebP, base64"
    )


@router.post("/api/v1/delegates", status_code=201)
def grant(node: NodeDep, who: Staff, body: DelegateIn) -> Response:
    """Name an adult who may collect one child for a day or a date range (临时委托)."""
    data = delegations.grant(node.desk, who, body.student_id, body.name, body.phone,
                             body.start, body.end, body.photo)  # fmt: skip
    return json_response({**data, "by": who.staff_id}, 201)


@router.delete("/api/v1/delegates/{grant_id}")
def revoke(node: NodeDep, who: Staff, grant_id: str) -> Response:
    """Take a delegation back; it travels to every kiosk and wins over the grant."""
    data = delegations.revoke(node.desk, who, grant_id)
    return json_response({**data, "revoked_by": who.staff_id})


@router.get("/api/v1/delegates")
def delegates(
    node: NodeDep, who: Staff, student: Annotated[str | None, Query(description="one child")] = None
) -> Response:
    """List the delegations that hold today or later."""
    return json_response({"delegates": delegations.standing(node.desk, who, student)})
