"""HTTP for issuing one-time pickup codes (接送码); the rules are edge.actions.codes.

A code typed on a pickup screen is taken by edge.http.releases, with the screen's
other routes.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from edge.actions import codes
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff
from edge.http.responses import json_response

router = APIRouter(tags=["pickup"], responses=PICKUP_ERRORS)


class CodeIn(BaseModel):
    """A one-time pickup code for one child, one adult, one day."""

    student_id: str = Field(min_length=1, max_length=64)
    adult_kind: str = Field(pattern="^(guardian|delegate)$")
    adult_id: str = Field(min_length=1, max_length=64)
    day: dt.date | None = Field(default=None, description="default today")


@router.post("/api/v1/pickup-codes", status_code=201)
def issue_code(node: NodeDep, who: Staff, body: CodeIn) -> Response:
    """Issue a one-time pickup code for one child, one adult and one day (接送码)."""
    data = codes.issue(node.desk, who, body.student_id, body.adult_kind, body.adult_id, body.day)
    return json_response(data, 201)
