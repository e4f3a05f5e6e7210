"""HTTP for dismissal plans (放学安排); the rules are edge.actions.plans."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from edge.actions import plans
from edge.http.deps import PICKUP_ERRORS, NodeDep, Staff
from edge.http.responses import json_response

router = APIRouter(tags=["pickup"], responses=PICKUP_ERRORS)


class PlanIn(BaseModel):
    """A child's dismissal plan for a day (放学安排)."""

    date: dt.date | None = Field(default=None, description="default today")
    batch: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$", examples=["17:00"])
    point: str | None = Field(default=None, max_length=64, description="a pickup station_id")
    mode: str = Field(default="guardian", pattern="^(guardian|alone)$")
    club_until: str | None = Field(default=None, pattern=r"^\d{2}:\d{2}$", examples=["17:30"])


@router.put("/api/v1/students/{student_id}/plan")
def set_plan(node: NodeDep, who: Staff, student_id: str, body: PlanIn) -> Response:
    """Set a child's dismissal plan for a day; today's closes at the school's cut-off."""
    data = plans.set_plan(node.desk, who, student_id, body.date, batch=body.batch,
                          point=body.point, mode=body.mode, club_until=body.club_until)  # fmt: skip
    return json_response({**data, "by": who.staff_id})


@router.get("/api/v1/students/{student_id}/plan")
def get_plan(node: NodeDep, who: Staff, student_id: str, date: dt.date | None = None) -> Response:
    """Return a child's dismissal plan for a day (null when none was set)."""
    return json_response({"plan": plans.plan_of(node.desk, who, student_id, date)})
